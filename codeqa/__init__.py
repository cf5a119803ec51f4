"""codeqa: train and run models that answer natural-language questions about source code (CodeQA)."""

__version__ = "0.1.0"
