"""Import an ONNX model (opset 7 to onnx's current one) into ``mapper.ir.Graph``.

``load(path, input_size=None)`` returns the faithful graph: batch-norms, separate activations,
dropouts and reshapes stay nodes (``mapper.passes.prepare`` folds and fuses them).  Only
activations spelt as several ops are rewritten to theirs: ``x * sigmoid(x)`` -> swish,
``relu6(x + 3) / 6`` -> hsigmoid, ``x * hardsigmoid(x)`` and ``x * relu6(x + 3) / 6`` -> hswish.

The importer is split by op family, as hls4ml's ONNX front end is: ``core`` is the driver (file
checks, graph validation, constant folding, the handler registry), and each family module
registers its handlers with ``@handles("OpType", ...)``: ``convolution`` (Conv, Gemm, MatMul,
Pad), ``pooling`` (pools, ReduceMean), ``activation`` (activations, Clip, BatchNormalization,
Softmax, LRN, Dropout), ``merge`` (Add, Sum, Sub, Mul, Div, Concat), ``reshape`` (Reshape,
Flatten, Squeeze, Unsqueeze, Transpose, Split, Slice, sequences) and ``quant`` (Identity, Cast,
CastLike, QuantizeLinear / DequantizeLinear, QLinearConv / QLinearMatMul and QONNX ``Quant``,
with their bit widths: 8-bit imports, any other width is refused).

- Weights are not read: a weight's shape is enough (``ConstantOfShape`` weights, as in the onnx
  package's "light" models, are never materialised; weights in an external data file or left out
  of the file, as ``torch.onnx.export(export_params=False)`` does, are known by their declared
  shape).  Constant sub-graphs (the shape plumbing exporters emit: Shape, Gather, Unsqueeze,
  Concat, Cast, ...) are folded by evaluating them with ``onnx.reference``, with the runtime
  tensors' shapes known from the IR's shape inference.
- The input is the first graph input that is not an initializer (nor a weight left out of the
  file), NCHW (or NHWC when its only reader is a Transpose to NCHW, as tf2onnx emits); batch is 1
  and ``input_size`` overrides H, W.
- A constant added to / multiplying a feature map per channel is a batch-norm-like affine node
  (``Op.BATCHNORM``); a bias ``Add`` right after a Conv / MatMul becomes that node's bias.
- A zero ``Pad`` feeding a Conv / pool is folded into its padding; ``Identity``, ``Cast`` and
  8-bit quantisers on feature maps are pass-throughs.
- A channel shuffle whose reshape targets were frozen at export (``Reshape -> Transpose(1, 2) ->
  Reshape``) gets them re-derived from the map, so it runs at another ``input_size``.
- Nodes no graph output depends on are dropped (``graph.meta["dropped_nodes"]``): they are no work.
- Anything else the IR has no kind for (LSTM, Resize, Tanh, dilated convs, ...) is an
  ``OnnxImportError`` naming the op and node: an op the device would have to compute never
  silently becomes zero work.
"""

from __future__ import annotations

from . import activation, convolution, merge, pooling, quant, reshape  # noqa: F401  (register handlers)
from .core import HANDLERS, OnnxImportError, handles, load

__all__ = ["HANDLERS", "OnnxImportError", "handles", "load"]
