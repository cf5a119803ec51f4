"""Near-duplicate detection between generated functions and held-out examples (decontamination).

CodeQA's snippets come from public GitHub projects, and so do many installed packages: a function made
into pre-training pairs may be the very function of a validation or test example, with QA pairs from the
same docstring. Training on those would inflate the scores. A generated function is dropped when most of
its token 5-grams (``code.original`` tokens, the same serialisation on both sides) occur in one held-out
snippet, or when the two are identical.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

SHINGLE = 5


def shingles(code: str, n: int = SHINGLE) -> set[tuple[str, ...]]:
    tokens = code.split()
    if len(tokens) < n:
        return {tuple(tokens)} if tokens else set()
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


class OverlapIndex:
    """An index of held-out snippets; :meth:`contains` asks whether a snippet is a near-duplicate of one."""

    def __init__(self, snippets: list[str], threshold: float = 0.5):
        self.threshold = threshold
        self.exact = {" ".join(s.split()) for s in snippets}
        self.postings: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for i, snippet in enumerate(snippets):
            for shingle in shingles(snippet):
                self.postings[shingle].append(i)

    def __len__(self) -> int:
        return len(self.exact)

    def contains(self, snippet: str) -> bool:
        if " ".join(snippet.split()) in self.exact:
            return True
        own = shingles(snippet)
        if not own:
            return False
        hits: Counter[int] = Counter()
        for shingle in own:
            hits.update(self.postings.get(shingle, ()))
        return bool(hits) and hits.most_common(1)[0][1] / len(own) >= self.threshold


def held_out_index(data_dirs: list[str | Path], lang: str = "python",
                   splits: tuple[str, ...] = ("dev", "test")) -> OverlapIndex:
    """The held-out code (``splits``, those present) of each CodeQA-layout dataset, indexed: what generated
    pre-training pairs must not contain. A dataset with none of those splits is an error."""
    from codeqa.data import available_splits, read_split
    from codeqa.errors import CodeQAError

    held_out: list[str] = []
    for data_dir in data_dirs:
        present = [s for s in splits if s in available_splits(data_dir, lang)]
        if not present:
            raise CodeQAError(f"{data_dir}: none of the held-out splits {','.join(splits)} found under "
                              f"{data_dir}/{lang}/")
        held_out += [ex.code for s in present for ex in read_split(data_dir, lang, s, "code.original")]
    return OverlapIndex(held_out)
