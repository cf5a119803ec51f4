"""How often a CodeQA answer can be read off another question about the same code.

CodeQA turns one docstring sentence into several questions, each asking for a different part of it, so
one question's text often holds another's answer. codeqa answers every question alone and never looks at
the other questions of a snippet; this measures what a model that did would be handed.

    python recipes/sibling_answers.py DATA_DIR [SPLIT]    (DATA_DIR/python/SPLIT/SPLIT.{question,answer,code})
"""
import sys
from collections import defaultdict

from codeqa.data import read_split


def main(data_dir: str, split: str = "dev") -> None:
    examples = read_split(data_dir, "python", split, keep_empty=True)
    questions, answers, codes = ([getattr(e, field) for e in examples] for field in ("question", "answer", "code"))
    by_code = defaultdict(list)
    for index, code in enumerate(codes):
        by_code[code].append(index)
    # padded with spaces so that an answer matches whole words only
    found = sum(1 for index, answer in enumerate(answers)
                if any(f" {answer.strip()} " in f" {questions[other]} "
                       for other in by_code[codes[index]] if other != index))
    shared = sum(1 for index in range(len(codes)) if len(by_code[codes[index]]) > 1)
    print(f"{data_dir} ({split}): {len(answers)} examples, {shared} share their code with another question; "
          f"{found} ({100 * found / len(answers):.1f}%) have their answer, word for word, inside another "
          f"question about the same code")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.strip().splitlines()[-1].strip())
    main(*sys.argv[1:])
