"""Errors that reach the user as one line (``hwsim: error: ...``) and a non-zero exit."""


class HwsimError(Exception):
    """A user-facing problem with the input or the environment; the message names it."""
