"""CodeQA-style QA pairs from any Python source tree (``codeqa make-dataset``).

``codeqa.codeformat`` serialises the functions, ``questions`` turns docstrings into pairs,
``dataset`` finds the files, splits by function and writes the CodeQA layout.
"""

from codeqa.synth.dataset import make_dataset

__all__ = ["make_dataset"]
