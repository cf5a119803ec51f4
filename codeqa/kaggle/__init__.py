"""Kaggle: packaging codeqa and the data for a "GPU T4 x2" notebook, driving the ``kaggle`` command line,
and what the notebook's cells call.

``prepare`` builds the upload folder, ``commands`` wraps ``kaggle datasets|kernels ...`` (the ``kaggle``
package is never imported: it authenticates at import time and exits without credentials), ``session``
and ``training_run`` are the notebook's cells, ``summary`` what a run left. ``credentials``, ``archive``
and ``wheels`` are the pieces they share. Importing this package loads nothing heavy (no torch).
"""
