"""Errors that reach the user as one line (``hwsim: error: ...``) and a non-zero exit.

The classes live in the leaf module ``rtl.errors`` (the RTL runners raise them too, and ``rtl``
never imports ``hwsim``); this module is their name inside ``hwsim``.
"""

from rtl.errors import HwsimError, UserError

__all__ = ["HwsimError", "UserError"]
