"""Python functions serialised on one line, the way CodeQA's Python files are: what the training data is made
of (`codeqa make-dataset`) and what `codeqa answer` turns raw code into.

What the real files show, and what is done here from the tokens (never from regexes over the source):

- comments and docstrings are gone (the function's own and those of the functions and classes inside it);
- the characters ``( ) , . : = ; ! |`` become spaces; every other character is kept (``* > ' [] {} @ %``);
- spaces inside string literals are removed (``'range too big'`` → ``'rangetoobig'``);
- statements run together with no space between them (``return ret`` + ``if x`` → ``return retif x``),
  while tokens inside a statement keep the spacing of the source (``data[106:114]`` → ``data[106 114]``);
- ``.code`` also splits identifiers (and the words inside strings) into words: ``getFileNames`` →
  ``get File Names``, ``file_path`` → ``file path``, ``ipv6`` → ``ipv 6``, ``__init__`` → ``init``.
"""

from __future__ import annotations

import ast
import bisect
import re
import tokenize
from dataclasses import dataclass

STRIPPED = "(),.:=;!|"
_TO_SPACE = str.maketrans(STRIPPED, " " * len(STRIPPED))
_SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}
_STATEMENT_END = {tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
# Python 3.12 splits f-strings into several tokens; their text is string text all the same.
_FSTRING_PARTS = ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END")
_STRING_LIKE = {tokenize.STRING} | {getattr(tokenize, n) for n in _FSTRING_PARTS if hasattr(tokenize, n)}
_WORD_BOUNDARY = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=[0-9])")


def split_words(text: str) -> str:
    """``getHTTPResponse_v2`` → ``get HTTP Response v 2``: underscores, case changes and digits split."""
    return _WORD_BOUNDARY.sub(" ", text.replace("_", " "))


@dataclass
class ParsedSource:
    """One source file: its AST and its tokens (the file is tokenized once for all its functions)."""

    lines: list[str]
    tree: ast.Module
    tokens: list[tokenize.TokenInfo]
    starts: list[tuple[int, int]]

    @classmethod
    def parse(cls, text: str, filename: str = "<source>") -> ParsedSource:
        """Raises SyntaxError (or ValueError for null bytes) when the text is not Python."""
        tree = ast.parse(text, filename=filename)
        lines = text.splitlines(keepends=True)
        readline = iter(lines).__next__
        try:
            tokens = list(tokenize.generate_tokens(readline))
        except (tokenize.TokenError, IndentationError) as err:  # parsed but not tokenized: rare
            raise SyntaxError(f"cannot tokenize: {err}") from None
        return cls(lines, tree, tokens, [tok.start for tok in tokens])

    def _char_col(self, row: int, byte_col: int) -> int:
        """AST columns count UTF-8 bytes, token columns count characters."""
        line = self.lines[row - 1] if row - 1 < len(self.lines) else ""
        return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))

    def function_code(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[str, str]:
        """``(code, code_original)`` of a function, decorators included, docstrings removed."""
        first_row = min([node.lineno] + [d.lineno for d in node.decorator_list])
        lo = bisect.bisect_left(self.starts, (first_row, 0))
        hi = bisect.bisect_left(self.starts, (node.end_lineno + 1, 0))
        removed = [((d.lineno, self._char_col(d.lineno, d.col_offset)),
                    (d.end_lineno, self._char_col(d.end_lineno, d.end_col_offset)))
                   for d in _docstring_nodes(node)]
        original, split = [], []
        at_statement_start, prev_end = True, None
        for tok in self.tokens[lo:hi]:
            if tok.type in _SKIPPED or any(start <= tok.start < end for start, end in removed):
                continue
            if tok.type in _STATEMENT_END:
                at_statement_start = True
                continue
            if at_statement_start:
                gap = ""
            elif prev_end[0] == tok.start[0]:
                gap = " " if tok.start[1] > prev_end[1] else ""
            else:
                gap = " "  # a statement continued on the next line
            at_statement_start, prev_end = False, tok.end
            text = re.sub(r"\s+", "", tok.string) if tok.type in _STRING_LIKE else tok.string
            original.append(gap + text.translate(_TO_SPACE))
            words = split_words(text) if tok.type == tokenize.NAME or tok.type in _STRING_LIKE else text
            split.append(gap + words.translate(_TO_SPACE))
        return " ".join("".join(split).split()), " ".join("".join(original).split())


def _docstring_nodes(node: ast.AST) -> list[ast.Expr]:
    """The docstring statements of ``node`` and of every function and class defined inside it."""
    found = []
    for inner in ast.walk(node):
        if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and inner.body:
            first = inner.body[0]
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                found.append(first)
    return found


def has_real_body(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """False for a function that is only a docstring (plus ``pass`` or ``...``): no code to ask about."""
    for stmt in node.body[1:]:
        if isinstance(stmt, ast.Pass):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and stmt.value.value is ...:
            continue
        return True
    return False
