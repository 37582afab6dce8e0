"""Compatibility name of the ONNX importer, which lives in the ``mapper.onnx`` package (split by
op family); ``from mapper.onnx_import import OnnxImportError, load`` keeps working."""

from .onnx import OnnxImportError, load

__all__ = ["OnnxImportError", "load"]
