"""The one exception type for problems the user can fix (bad input, missing files, bad settings).

The CLI turns it into a one-line message on stderr and a non-zero exit; anything else is a bug and keeps
its traceback.
"""


class CodeQAError(Exception):
    """A user-facing error: the message says what is wrong, where, and what was expected."""
