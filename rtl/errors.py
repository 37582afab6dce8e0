"""The one root of every error a user can cause: a leaf module (it imports nothing) that every
layer may import, so the CLI catches one class.

``UserError``: a problem with the user's input or environment whose message names it; the CLI
prints it as one line (``hwsim: error: ...``) and exits 2, never with a traceback.  Every
user-facing error subclasses it: ``rtl.params.ParamError``, ``mapper.ir.IRError`` (and the
partitioner's and model loader's errors), ``mapper.zoo.ZooError``, ``hwsim.config.ConfigError`` and
``HwsimError`` below.

``HwsimError`` is the generic one (missing simulator or Yosys, a bad model file, a configuration the
model refuses).  It lives here, not in ``hwsim``, because the RTL runners (``rtl.sim``,
``rtl.synth``) raise it too and ``rtl`` sits below ``hwsim`` (it never imports it);
``hwsim.errors`` re-exports it.
"""


class UserError(Exception):
    """A user-facing problem with the input or the environment; the message names it."""


class HwsimError(UserError):
    """A user-facing problem with the input or the environment; the message names it."""


def missing_extra(what: str, extra: str = "rtl") -> HwsimError:
    """The error for a command whose optional dependencies (a ``pyproject.toml`` extra) are absent."""
    return HwsimError(f"{what} is not installed: pip install 'zynq-codesign-sim[{extra}]'")
