"""Kaggle credentials, only ever detected, never copied: where the ``kaggle`` CLI would find them, and the
secret values that must never appear in an upload or a log."""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from codeqa.errors import CodeQAError

CREDENTIAL_NAMES = ("kaggle.json", "access_token", "access_token.txt", "credentials.json")
MIN_SECRET_LEN = 8
SENSITIVE_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")


def _config_dirs(env: Mapping[str, str]) -> list[Path]:
    home = Path(env.get("HOME") or Path.home())
    dirs = []
    if env.get("KAGGLE_CONFIG_DIR"):
        dirs.append(Path(env["KAGGLE_CONFIG_DIR"]))
    dirs.append(home / ".kaggle")
    dirs.append(Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "kaggle")
    return dirs


def credential_files(env: Mapping[str, str] | None = None) -> list[Path]:
    """The credential files the ``kaggle`` CLI would read on this machine that exist."""
    env = os.environ if env is None else env
    found = [d / name for d in _config_dirs(env) for name in CREDENTIAL_NAMES if (d / name).is_file()]
    token = env.get("KAGGLE_API_TOKEN", "")
    if token and len(token) < 4096 and Path(token).is_file():
        found.append(Path(token))
    return list(dict.fromkeys(found))


def credential_source(env: Mapping[str, str] | None = None) -> str | None:
    """Where the ``kaggle`` CLI would find credentials (a description, never the value), or None."""
    env = os.environ if env is None else env
    if env.get("KAGGLE_USERNAME") and env.get("KAGGLE_KEY"):
        return "KAGGLE_USERNAME and KAGGLE_KEY"
    if env.get("KAGGLE_API_TOKEN"):
        return "KAGGLE_API_TOKEN"
    files = credential_files(env)
    return str(files[0]) if files else None


CREDENTIALS_HELP = (
    "no Kaggle credentials found. Set them up once: on https://www.kaggle.com/settings/api click "
    "'Create New Token' and save the downloaded kaggle.json as ~/.kaggle/kaggle.json (chmod 600), "
    "or export KAGGLE_USERNAME and KAGGLE_KEY, or export KAGGLE_API_TOKEN (or save the token in "
    "~/.kaggle/access_token), or run `kaggle auth login`. KAGGLE_CONFIG_DIR moves the folder.")


def secret_values(env: Mapping[str, str] | None = None) -> list[str]:
    """Values that must never appear in a produced file or a log: keys and tokens found on this machine."""
    env = os.environ if env is None else env
    secrets: set[str] = set()
    for name, value in env.items():
        sensitive = name.startswith("KAGGLE_") and any(w in name for w in SENSITIVE_WORDS)
        if sensitive and value and not (len(value) < 4096 and Path(value).is_file()):
            secrets.add(value.strip())
    for path in credential_files(env):
        try:
            text = path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            secrets.add(text)  # access_token files hold the bare token
            continue
        if isinstance(obj, dict):  # kaggle.json: key; credentials.json (kaggle auth login): *_token
            secrets.update(v.strip() for k, v in obj.items() if isinstance(v, str)
                           and ("key" in k.lower() or k.lower().endswith("token")))
    return sorted(s for s in secrets if len(s) >= MIN_SECRET_LEN)


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _find_secret(data: bytes, secrets: Sequence[str]) -> bool:
    return any(s.encode("utf-8") in data for s in secrets)


def check_no_secrets(paths: Iterable[Path], secrets: Sequence[str]) -> None:
    """Fail if a credential value appears in any of ``paths`` (zips and wheels are read member by member)."""
    if not secrets:
        return
    for path in paths:
        if path.name in CREDENTIAL_NAMES:
            raise CodeQAError(f"{path}: a credential file must never be part of an upload")
        data = path.read_bytes()
        leaked = _find_secret(data, secrets)
        if not leaked and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    inner = archive.read(info)
                    nested = inner[:4] == b"PK\x03\x04" and _zip_has_secret(inner, secrets)  # a wheel
                    if nested or _find_secret(inner, secrets):
                        leaked = True
                        break
        if leaked:
            raise CodeQAError(f"{path}: contains a Kaggle credential value (a key or token found on this "
                              "machine); refusing to upload it")


def _zip_has_secret(data: bytes, secrets: Sequence[str]) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return any(_find_secret(archive.read(info), secrets) for info in archive.infolist())
    except zipfile.BadZipFile:
        return False
