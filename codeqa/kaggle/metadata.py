"""The metadata files Kaggle reads (dataset-metadata.json, kernel-metadata.json), written and checked the
way ``kaggle datasets create`` and ``kaggle kernels push`` check them, so that problems show before an
upload."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from codeqa.errors import CodeQAError
from codeqa.kaggle.layout import NOTEBOOK_NAME

DEFAULT_LICENSE = "CC0-1.0"
MACHINE_SHAPE = "NvidiaTeslaT4"  # "GPU T4 x2"; enable_gpu alone gets a P100 that today's torch cannot use
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
OWNER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def check_slug(slug: str, what: str, lo: int, hi: int = 50) -> str:
    if not (lo <= len(slug) <= hi) or not SLUG_RE.match(slug):
        raise CodeQAError(f"{what} slug {slug!r}: use {lo}-{hi} lower-case letters, digits and dashes")
    return slug


def check_ref(ref: str, what: str) -> str:
    parts = ref.split("/")
    if len(parts) != 2 or not OWNER_RE.match(parts[0]) or not SLUG_RE.match(parts[1]):
        raise CodeQAError(f"{what} {ref!r}: expected OWNER/SLUG (e.g. alice/codeqa-train)")
    return ref


def title_for(slug: str) -> str:
    """A title that Kaggle slugifies back to ``slug`` ('codeqa-train' → 'Codeqa Train')."""
    return slug.replace("-", " ").title()


def dataset_metadata(owner: str, slug: str, title: str, license_name: str = DEFAULT_LICENSE,
                     description: str = "") -> dict:
    check_slug(slug, "dataset", 6)  # the kaggle CLI refuses dataset slugs under 6 characters
    if not 6 <= len(title) <= 50:
        raise CodeQAError(f"dataset title {title!r}: must be 6-50 characters")
    meta = {"title": title, "id": f"{owner}/{slug}", "licenses": [{"name": license_name}]}
    if description:
        meta["description"] = description
    return meta


def kernel_metadata(owner: str, slug: str, dataset_refs: Sequence[str], internet: bool = False,
                    kernel_sources: Sequence[str] = ()) -> dict:
    check_slug(slug, "kernel", 5)
    return {"id": f"{owner}/{slug}", "title": title_for(slug), "code_file": NOTEBOOK_NAME,
            "language": "python", "kernel_type": "notebook", "is_private": True, "enable_gpu": True,
            "enable_tpu": False, "enable_internet": bool(internet), "machine_shape": MACHINE_SHAPE,
            "dataset_sources": list(dataset_refs), "competition_sources": [],
            "kernel_sources": [check_ref(k, "--resume-from") for k in kernel_sources], "model_sources": []}


def validate_dataset_metadata(meta: dict) -> None:
    """The checks ``kaggle datasets create`` makes, so problems show before an upload."""
    if not isinstance(meta, dict):
        raise CodeQAError("dataset-metadata.json: expected a JSON object")
    title, ref, licenses = meta.get("title"), meta.get("id"), meta.get("licenses")
    if not isinstance(title, str) or not 6 <= len(title) <= 50:
        raise CodeQAError(f"dataset-metadata.json: title {title!r} must be 6-50 characters")
    check_ref(str(ref), "dataset-metadata.json id")
    check_slug(str(ref).split("/")[1], "dataset", 6)
    if not isinstance(licenses, list) or len(licenses) != 1 or not (licenses[0] or {}).get("name"):
        raise CodeQAError("dataset-metadata.json: exactly one license with a name is required")


def validate_kernel_metadata(meta: dict, folder: Path | None = None) -> None:
    """The checks ``kaggle kernels push`` makes, and the settings this project relies on."""
    ref = str(meta.get("id", ""))
    check_ref(ref, "kernel-metadata.json id")
    check_slug(ref.split("/")[1], "kernel", 5)
    for key, expected in (("kernel_type", "notebook"), ("language", "python"), ("enable_gpu", True),
                          ("machine_shape", MACHINE_SHAPE)):
        if meta.get(key) != expected:
            raise CodeQAError(f"kernel-metadata.json: {key} must be {expected!r}, got {meta.get(key)!r}")
    for key in ("dataset_sources", "kernel_sources"):
        for item in meta.get(key, []):
            check_ref(item, f"kernel-metadata.json {key} entry")
    if folder is not None and not (folder / str(meta.get("code_file", ""))).is_file():
        raise CodeQAError(f"{folder}: code_file {meta.get('code_file')!r} not found")


def resolve_owner(owner: str | None, env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    owner = owner or env.get("KAGGLE_USERNAME", "")
    if not owner:
        raise CodeQAError("no Kaggle owner: pass --owner YOUR_KAGGLE_USERNAME or set KAGGLE_USERNAME")
    if not OWNER_RE.match(owner) or len(owner) > 50:
        raise CodeQAError(f"--owner {owner!r}: not a Kaggle user name (letters, digits, - and _)")
    return owner
