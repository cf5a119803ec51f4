"""`codeqa answer`: ask a trained model a question about a piece of raw Python."""

from __future__ import annotations

import ast
from pathlib import Path

from codeqa.checkpoint import load_model
from codeqa.codeformat import ParsedSource
from codeqa.data import Example
from codeqa.decode import DecodeConfig, predict
from codeqa.errors import CodeQAError
from codeqa.training.runtime import default_device


def code_fields(source: str, origin: str = "<code>") -> tuple[str, str]:
    """Raw Python → ``(code, code_original)`` in the training data's one-line format.

    The first function defined in the text is used (CodeQA's snippets are functions); a text without
    a function is serialised whole, as if it were a function's body.
    """
    try:
        parsed = ParsedSource.parse(source, origin)
    except SyntaxError as err:
        raise CodeQAError(f"{origin}:{err.lineno or 1}: not valid Python ({err.msg}); expected a Python "
                          "function or statements") from None
    except ValueError as err:
        raise CodeQAError(f"{origin}: not valid Python ({err})") from None
    functions = [n for n in ast.walk(parsed.tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if functions:
        return parsed.function_code(min(functions, key=lambda n: (n.lineno, n.col_offset)))
    if not parsed.tree.body:
        raise CodeQAError(f"{origin}: no code in it (empty, or only comments); expected a Python function or "
                          "statements")
    wrapped = "def snippet():\n" + "".join("    " + line for line in source.splitlines(keepends=True))
    parsed = ParsedSource.parse(wrapped, origin)
    code, original = parsed.function_code(parsed.tree.body[0])
    strip = len("def snippet ")
    return code[strip:].strip(), original[strip:].strip()


def answer(checkpoint_path: str | Path, question: str, *, code: str | None = None, code_file: str | None = None,
           top_k: int = 1, beam_size: int | None = None, device: str | None = None) -> list[tuple[str, float]]:
    if (code is None) == (code_file is None):
        raise CodeQAError("give the code with exactly one of --code FILE or --code-text TEXT")
    if code_file is not None:
        try:
            code = Path(code_file).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CodeQAError(f"{code_file}: file not found") from None
        except IsADirectoryError:
            raise CodeQAError(f"{code_file}: a folder; expected a Python file") from None
        except OSError as err:
            raise CodeQAError(f"{code_file}: cannot read ({err.strerror})") from None
        except UnicodeDecodeError as err:
            raise CodeQAError(f"{code_file}: not UTF-8 text ({err.reason})") from None
    if not question.strip():
        raise CodeQAError("--question is empty")
    if top_k < 1:
        raise CodeQAError(f"--top-k {top_k}: must be >= 1")
    dev = default_device(device)
    model, vocab, config = load_model(checkpoint_path, dev)
    split_code, original = code_fields(code, code_file or "--code-text")
    text = original if config.code_field == "code.original" else split_code
    question = " ".join(question.replace("?", " ?").split())
    decoding = DecodeConfig.from_config(config, beam_size=beam_size)
    decoding = decoding.replace(beam_size=max(top_k, decoding.beam_size))  # a beam holds the K best asked for
    return predict(model, [Example(question, text, "")], vocab, decoding, dev, top_k=top_k)[0]
