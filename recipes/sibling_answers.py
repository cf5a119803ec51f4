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
    by_code = defaultdict(list)
    for example in examples:
        by_code[example.code].append(example)
    # padded with spaces so that an answer matches whole words only
    found = sum(1 for example in examples
                if any(f" {example.answer.strip()} " in f" {other.question} "
                       for other in by_code[example.code] if other is not example))
    shared = sum(len(group) for group in by_code.values() if len(group) > 1)
    print(f"{data_dir} ({split}): {len(examples)} examples, {shared} share their code with another question; "
          f"{found} ({100 * found / len(examples):.1f}%) have their answer, word for word, inside another "
          f"question about the same code")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: " + __doc__.strip().splitlines()[-1].strip())
    main(*sys.argv[1:])
