"""Errors that reach the user as one line (``hwsim: error: ...``) and a non-zero exit."""


class HwsimError(Exception):
    """A user-facing problem with the input or the environment; the message names it."""


def user_errors() -> tuple[type[BaseException], ...]:
    """Every exception class a user's input can cause (one line, exit 2); imported lazily, so this
    leaf module imports nothing at load time."""
    from mapper.ir import IRError
    from mapper.onnx_import import OnnxImportError
    from mapper.zoo import ZooError
    from rtl.params import ParamError
    return (HwsimError, IRError, ParamError, OnnxImportError, ZooError)
