"""Errors that reach the user as one line (``hwsim: error: ...``) and a non-zero exit.

The classes live in the leaf module ``rtl.errors`` (the RTL runners raise them too, and ``rtl``
never imports ``hwsim``); this module is their name inside ``hwsim``.
"""

from rtl.errors import HwsimError, UserError

__all__ = ["HwsimError", "UserError", "user_errors"]


def user_errors() -> tuple[type[BaseException], ...]:
    """Every exception class a user's input can cause (one line, exit 2): the one root."""
    return (UserError,)
