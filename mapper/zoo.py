"""Model zoo: CNN graphs built from the published architecture tables (structure only, no weights).

Every network follows its reference implementation layer by layer (torchvision where it has the
model, else the authors' TensorFlow code), so MAC and parameter counts match the published ones:

- explicit nodes ``conv (bias=False) -> batchnorm -> activation``; depthwise convs are ``Op.DWCONV``;
  residuals are ``Op.ADD``;
- squeeze-and-excitation (SE) is always ``global_avgpool -> conv1x1 (bias) -> act -> conv1x1 (bias)
  -> sigmoid | hsigmoid -> mul`` with the block's feature map, every node tagged ``block="se<N>"``
  where ``b<N>`` is the owning block;
- the classifier is ``global_avgpool -> flatten -> (dropout) -> fc`` without softmax (SqueezeNet keeps
  its own conv classifier, which holds 10% of its MACs).

API::

    names()                      every model name, in a stable order
    info(name)                   ZooEntry: name, input_size (native), family, reference, min_input_size
    build(name, input_size=None, *, width=None) -> Graph

Width multipliers (MobileNet V1/V2 only): ``build("mobilenet_v1", width=0.75)`` or, equivalently,
``build("mobilenet_v1_0.75")``.  Names are matched case-insensitively and ``-`` reads as ``_``
(``EfficientNet-B4`` is ``efficientnet_b4``).
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from dataclasses import dataclass
from typing import Callable

from rtl.errors import UserError

from .ir import Graph, IRError, Op


class ZooError(UserError, ValueError):
    """An unknown model name or an option the model does not take (one-line message)."""


@dataclass(frozen=True)
class ZooEntry:
    name: str
    input_size: int            # native (training / published) square resolution
    family: str
    reference: str             # where the architecture table comes from
    min_input_size: int        # smallest square input the zoo accepts for this model
    width: float | None = None  # width multiplier, for the families that take one


# ---------------------------------------------------------------------------------------------
# graph-building helpers
# ---------------------------------------------------------------------------------------------

_CLASSES = 1000   # ImageNet-1k heads throughout


def make_divisible(v: float, divisor: int = 8) -> int:
    """Round channels to a multiple of ``divisor``, never below 90% of ``v``.

    Same rule as torchvision ``_make_divisible`` and TF EfficientNet ``round_filters``.
    """
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class _Net:
    """Thin wrapper around a Graph that knows the recurring CNN idioms."""

    def __init__(self, name: str, size: int):
        self.g = Graph(name, (1, 3, size, size))

    def channels(self, x: str) -> int:
        return self.g.shape(x)[1]

    def conv(self, x: str, name: str, cout: int, k: int = 1, stride: int = 1, *,
             bias: bool = False, pad: int | None = None) -> str:
        p = (k - 1) // 2 if pad is None else pad
        return self.g.add(Op.CONV, x, name, cout=cout, k=k, stride=stride, pad=p, groups=1,
                          bias=bias, act=None)

    def dwconv(self, x: str, name: str, k: int, stride: int = 1) -> str:
        c = self.channels(x)
        return self.g.add(Op.DWCONV, x, name, cout=c, k=k, stride=stride, pad=(k - 1) // 2,
                          groups=c, bias=False, act=None)

    def act(self, x: str, name: str, op: Op | None) -> str:
        return x if op is None else self.g.add(op, x, name)

    def conv_bn(self, x: str, name: str, cout: int | None, k: int = 1, stride: int = 1,
                act: Op | None = None, *, dw: bool = False) -> str:
        """``<name>.conv -> <name>.bn -> <name>.act``; ``dw`` makes the conv depthwise."""
        y = self.dwconv(x, f"{name}.conv", k, stride) if dw else \
            self.conv(x, f"{name}.conv", int(cout), k, stride)
        y = self.g.add(Op.BATCHNORM, y, f"{name}.bn")
        return self.act(y, f"{name}.act", act)

    def se(self, x: str, name: str, squeeze: int, act: Op, gate: Op, tag: str) -> str:
        """Squeeze-and-excitation on ``x`` (the exact subgraph the SE pass looks for)."""
        c = self.channels(x)
        s = self.g.add(Op.GLOBAL_AVGPOOL, x, f"{name}.pool", block=tag)
        s = self.g.add(Op.CONV, s, f"{name}.fc1", cout=squeeze, k=1, stride=1, pad=0, groups=1,
                       bias=True, act=None, block=tag)
        s = self.g.add(act, s, f"{name}.act", block=tag)
        s = self.g.add(Op.CONV, s, f"{name}.fc2", cout=c, k=1, stride=1, pad=0, groups=1,
                       bias=True, act=None, block=tag)
        s = self.g.add(gate, s, f"{name}.gate", block=tag)
        return self.g.add(Op.MUL, [x, s], f"{name}.mul", block=tag)

    def inverted_residual(self, x: str, i: int, exp: int, cout: int, k: int, stride: int,
                          act: Op, se: tuple[int, Op, Op] | None = None) -> str:
        """MobileNetV2/V3 / EfficientNet MBConv block ``b<i>``; ``se`` = (squeeze, act, gate)."""
        cin = self.channels(x)
        y = x
        if exp != cin:
            y = self.conv_bn(y, f"b{i}.expand", exp, 1, 1, act)
        y = self.conv_bn(y, f"b{i}.dw", None, k, stride, act, dw=True)
        if se is not None:
            y = self.se(y, f"b{i}.se", se[0], se[1], se[2], f"se{i}")
        y = self.conv_bn(y, f"b{i}.project", cout)
        if stride == 1 and cin == cout:
            y = self.g.add(Op.ADD, [y, x], f"b{i}.add")
        return y

    def classifier(self, x: str, hidden: tuple[int, Op] | None = None, dropout: float = 0.0) -> str:
        """``pool -> flatten -> [fc1 -> act] -> (dropout) -> fc``."""
        y = self.g.add(Op.GLOBAL_AVGPOOL, x, "pool")
        y = self.g.add(Op.FLATTEN, y, "flatten", axis=1)
        if hidden is not None:
            y = self.g.add(Op.FC, y, "fc1", cout=hidden[0], bias=True, act=None)
            y = self.act(y, "fc1.act", hidden[1])
        if dropout:
            y = self.g.add(Op.DROPOUT, y, "dropout", p=dropout)
        return self.g.add(Op.FC, y, "fc", cout=_CLASSES, bias=True, act=None)


# A builder adds a whole network to a _Net (given the width multiplier) and returns its output.
_Builder = Callable[[_Net, float], str]


# ---------------------------------------------------------------------------------------------
# MobileNet V1 / V2 / V3
# ---------------------------------------------------------------------------------------------

# Howard et al. 2017, Table 1 / TF-slim mobilenet_v1.py _CONV_DEFS: (stride, output channels) of
# the 13 depthwise-separable layers after the 3x3/2 stem of 32.  ReLU6 as in TF-slim's arg scope.
_MBV1 = [(1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512), (1, 512), (1, 512), (1, 512),
         (1, 512), (1, 512), (2, 1024), (1, 1024)]


def _mobilenet_v1(net: _Net, width: float) -> str:
    # TF-slim: depth(d) = max(int(d * depth_multiplier), min_depth=8)
    def depth(d: int) -> int:
        return max(int(d * width), 8)

    x = net.conv_bn("input", "stem", depth(32), 3, 2, Op.RELU6)
    for i, (s, c) in enumerate(_MBV1, 1):
        x = net.conv_bn(x, f"b{i}.dw", None, 3, s, Op.RELU6, dw=True)
        x = net.conv_bn(x, f"b{i}.pw", depth(c), 1, 1, Op.RELU6)
    # slim: AvgPool -> Dropout(keep 0.999) -> 1x1 conv logits with bias (an FC on the 1x1 map)
    return net.classifier(x, dropout=0.001)


# Sandler et al. 2018, Table 2 / torchvision mobilenetv2.py: (t, c, n, s)
_MBV2 = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
         (6, 160, 3, 2), (6, 320, 1, 1)]


def _mobilenet_v2(net: _Net, width: float) -> str:
    x = net.conv_bn("input", "stem", make_divisible(32 * width), 3, 2, Op.RELU6)
    i = 0
    for t, c, n, s in _MBV2:
        cout = make_divisible(c * width)
        for j in range(n):
            i += 1
            exp = int(round(net.channels(x) * t))
            x = net.inverted_residual(x, i, exp, cout, 3, s if j == 0 else 1, Op.RELU6)
    x = net.conv_bn(x, "head", make_divisible(1280 * max(1.0, width)), 1, 1, Op.RELU6)
    return net.classifier(x, dropout=0.2)


# Howard et al. 2019, Tables 1 and 2 / torchvision mobilenetv3.py:
# (kernel, expanded, out, SE, activation, stride); the stem is 16 channels.
_RE, _HS = Op.RELU, Op.HSWISH
_MBV3_LARGE = [(3, 16, 16, False, _RE, 1), (3, 64, 24, False, _RE, 2), (3, 72, 24, False, _RE, 1),
               (5, 72, 40, True, _RE, 2), (5, 120, 40, True, _RE, 1), (5, 120, 40, True, _RE, 1),
               (3, 240, 80, False, _HS, 2), (3, 200, 80, False, _HS, 1),
               (3, 184, 80, False, _HS, 1), (3, 184, 80, False, _HS, 1),
               (3, 480, 112, True, _HS, 1), (3, 672, 112, True, _HS, 1),
               (5, 672, 160, True, _HS, 2), (5, 960, 160, True, _HS, 1),
               (5, 960, 160, True, _HS, 1)]
_MBV3_SMALL = [(3, 16, 16, True, _RE, 2), (3, 72, 24, False, _RE, 2), (3, 88, 24, False, _RE, 1),
               (5, 96, 40, True, _HS, 2), (5, 240, 40, True, _HS, 1), (5, 240, 40, True, _HS, 1),
               (5, 120, 48, True, _HS, 1), (5, 144, 48, True, _HS, 1),
               (5, 288, 96, True, _HS, 2), (5, 576, 96, True, _HS, 1), (5, 576, 96, True, _HS, 1)]


def _mobilenet_v3(table: list, last_channel: int) -> _Builder:
    def build(net: _Net, _width: float) -> str:
        x = net.conv_bn("input", "stem", 16, 3, 2, Op.HSWISH)
        for i, (k, exp, cout, use_se, act, s) in enumerate(table, 1):
            # torchvision SqueezeExcitation: squeeze = _make_divisible(expanded // 4, 8), ReLU, hardsigmoid
            se = (make_divisible(exp // 4), Op.RELU, Op.HSIGMOID) if use_se else None
            x = net.inverted_residual(x, i, exp, cout, k, s, act, se)
        x = net.conv_bn(x, "head", 6 * net.channels(x), 1, 1, Op.HSWISH)
        return net.classifier(x, hidden=(last_channel, Op.HSWISH), dropout=0.2)
    return build


# ---------------------------------------------------------------------------------------------
# EfficientNet B0-B7 and EfficientNet-Lite0-4
# ---------------------------------------------------------------------------------------------

# Tan & Le 2019, Table 1 / torchvision efficientnet.py / TF _DEFAULT_BLOCKS_ARGS:
# (expand ratio, kernel, stride, in, out, repeats)
_EFFNET_B0 = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2),
              (6, 3, 2, 40, 80, 3), (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4),
              (6, 3, 1, 192, 320, 1)]

# (width, depth, resolution, dropout): TF efficientnet_builder.efficientnet_params
_EFFNET = {"b0": (1.0, 1.0, 224, 0.2), "b1": (1.0, 1.1, 240, 0.2), "b2": (1.1, 1.2, 260, 0.3),
           "b3": (1.2, 1.4, 300, 0.3), "b4": (1.4, 1.8, 380, 0.4), "b5": (1.6, 2.2, 456, 0.4),
           "b6": (1.8, 2.6, 528, 0.5), "b7": (2.0, 3.1, 600, 0.5)}
# TF lite/efficientnet_lite_builder.efficientnet_lite_params
_EFFNET_LITE = {"lite0": (1.0, 1.0, 224, 0.2), "lite1": (1.0, 1.1, 240, 0.2),
                "lite2": (1.1, 1.2, 260, 0.3), "lite3": (1.2, 1.4, 280, 0.3),
                "lite4": (1.4, 1.8, 300, 0.3)}


def _efficientnet(width: float, depth: float, dropout: float, lite: bool) -> _Builder:
    """B-models: swish, SE (ratio 0.25 of the block input).  Lite (TF ``fix_head_stem``): ReLU6,
    no SE, stem (32) and head (1280) not width-scaled, first and last stage not depth-scaled."""
    act = Op.RELU6 if lite else Op.SWISH

    def build(net: _Net, _width: float) -> str:
        x = net.conv_bn("input", "stem", 32 if lite else make_divisible(32 * width), 3, 2, act)
        i = 0
        last = len(_EFFNET_B0) - 1
        for stage, (e, k, s, _cin, c, n) in enumerate(_EFFNET_B0):
            cout = make_divisible(c * width)
            reps = n if lite and stage in (0, last) else math.ceil(n * depth)
            for j in range(reps):
                i += 1
                cin = net.channels(x)
                se = None if lite else (max(1, cin // 4), Op.SWISH, Op.SIGMOID)
                x = net.inverted_residual(x, i, cin * e, cout, k, s if j == 0 else 1, act, se)
        x = net.conv_bn(x, "head", 1280 if lite else make_divisible(1280 * width), 1, 1, act)
        return net.classifier(x, dropout=dropout)
    return build


# ---------------------------------------------------------------------------------------------
# ShuffleNet V2
# ---------------------------------------------------------------------------------------------

# Ma et al. 2018, Table 5 / torchvision shufflenetv2.py: stage repeats and output channels
_SHUFFLE_REPEATS = (4, 8, 4)
_SHUFFLE = {"x0_5": (24, 48, 96, 192, 1024), "x1_0": (24, 116, 232, 464, 1024),
            "x1_5": (24, 176, 352, 704, 1024), "x2_0": (24, 244, 488, 976, 2048)}


def _shufflenet_v2(channels: tuple[int, ...]) -> _Builder:
    def unit(net: _Net, x: str, i: int, cout: int, stride: int) -> str:
        g, half = net.g, cout // 2
        if stride == 1:
            a, b = g.add(Op.SPLIT, x, f"b{i}.split", outputs=2, axis=1,
                         sizes=[net.channels(x) // 2] * 2)
        else:
            a = net.conv_bn(x, f"b{i}.branch1.dw", None, 3, stride, dw=True)
            a = net.conv_bn(a, f"b{i}.branch1.pw", half, 1, 1, Op.RELU)
            b = x
        b = net.conv_bn(b, f"b{i}.branch2.pw1", half, 1, 1, Op.RELU)
        b = net.conv_bn(b, f"b{i}.branch2.dw", None, 3, stride, dw=True)
        b = net.conv_bn(b, f"b{i}.branch2.pw2", half, 1, 1, Op.RELU)
        y = g.add(Op.CONCAT, [a, b], f"b{i}.concat", axis=1)
        return g.add(Op.CHANNEL_SHUFFLE, y, f"b{i}.shuffle", groups=2)

    def build(net: _Net, _width: float) -> str:
        x = net.conv_bn("input", "stem", channels[0], 3, 2, Op.RELU)
        x = net.g.add(Op.MAXPOOL, x, "stem.pool", k=3, stride=2, pad=1)
        i = 0
        for reps, cout in zip(_SHUFFLE_REPEATS, channels[1:4]):
            for j in range(reps):
                i += 1
                x = unit(net, x, i, cout, 2 if j == 0 else 1)
        x = net.conv_bn(x, "head", channels[4], 1, 1, Op.RELU)
        return net.classifier(x)
    return build


# ---------------------------------------------------------------------------------------------
# SqueezeNet 1.0 / 1.1
# ---------------------------------------------------------------------------------------------

# torchvision squeezenet.py (Iandola et al. 2016, Table 1; v1.1 from the authors' repo):
# ("pool",) or (squeeze, expand1x1, expand3x3) fire modules, after the stem conv.
_SQUEEZE = {
    "1_0": ((96, 7), [("pool",), (16, 64, 64), (16, 64, 64), (32, 128, 128), ("pool",),
                      (32, 128, 128), (48, 192, 192), (48, 192, 192), (64, 256, 256), ("pool",),
                      (64, 256, 256)]),
    "1_1": ((64, 3), [("pool",), (16, 64, 64), (16, 64, 64), ("pool",), (32, 128, 128),
                      (32, 128, 128), ("pool",), (48, 192, 192), (48, 192, 192), (64, 256, 256),
                      (64, 256, 256)]),
}


def _squeezenet(version: str) -> _Builder:
    (stem_c, stem_k), layers = _SQUEEZE[version]

    def conv_relu(net: _Net, x: str, name: str, cout: int, k: int, stride: int = 1, pad: int = 0) -> str:
        y = net.conv(x, f"{name}.conv", cout, k, stride, bias=True, pad=pad)
        return net.g.add(Op.RELU, y, f"{name}.act")

    def build(net: _Net, _width: float) -> str:
        g = net.g
        x = conv_relu(net, "input", "conv1", stem_c, stem_k, 2)   # unpadded, as in torchvision
        fire, pool = 1, 0
        for layer in layers:
            if layer == ("pool",):
                pool += 1
                x = g.add(Op.MAXPOOL, x, f"pool{pool}", k=3, stride=2, pad=0, ceil_mode=True)
                continue
            fire += 1
            sq, e1, e3 = layer
            s = conv_relu(net, x, f"fire{fire}.squeeze", sq, 1)
            a = conv_relu(net, s, f"fire{fire}.expand1x1", e1, 1)
            b = conv_relu(net, s, f"fire{fire}.expand3x3", e3, 3, pad=1)
            x = g.add(Op.CONCAT, [a, b], f"fire{fire}.concat", axis=1)
        # torchvision classifier: Dropout(0.5) -> conv 1x1 (bias) -> ReLU -> avgpool -> flatten
        x = g.add(Op.DROPOUT, x, "dropout", p=0.5)
        x = conv_relu(net, x, "conv10", _CLASSES, 1)
        x = g.add(Op.GLOBAL_AVGPOOL, x, "pool")
        return g.add(Op.FLATTEN, x, "flatten", axis=1)
    return build


# ---------------------------------------------------------------------------------------------
# ResNet
# ---------------------------------------------------------------------------------------------

# He et al. 2016 (arXiv:1512.03385) Table 1 / torchvision resnet.py: bottleneck blocks per stage
# and their widths (the block outputs 4x the width); the stride sits on the 3x3 conv (torchvision's
# "ResNet V1.5"), and a stage's first block projects the shortcut with a strided 1x1 conv + BN.
_RESNET = {"resnet50": (3, 4, 6, 3)}


def _resnet(blocks: tuple[int, ...]) -> _Builder:
    def build(net: _Net, _width: float) -> str:
        g = net.g
        x = net.conv_bn("input", "stem", 64, 7, 2, Op.RELU)
        x = g.add(Op.MAXPOOL, x, "stem.pool", k=3, stride=2, pad=1)
        for s, (n, width) in enumerate(zip(blocks, (64, 128, 256, 512)), 1):
            for i in range(n):
                stride = 2 if s > 1 and i == 0 else 1
                name = f"s{s}.b{i}"
                y = net.conv_bn(x, f"{name}.conv1", width, 1, 1, Op.RELU)
                y = net.conv_bn(y, f"{name}.conv2", width, 3, stride, Op.RELU)
                y = net.conv_bn(y, f"{name}.conv3", 4 * width, 1, 1)
                short = x if i > 0 else net.conv_bn(x, f"{name}.down", 4 * width, 1, stride)
                y = g.add(Op.ADD, [y, short], f"{name}.add")
                x = g.add(Op.RELU, y, f"{name}.relu")
        return net.classifier(x)
    return build


# ---------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------

_REF_TV = "torchvision/models/{}.py"
_REF_EFF = ("Tan & Le 2019 (arXiv:1905.11946) Table 1; TF tpu efficientnet_builder.py; "
            "torchvision/models/efficientnet.py")
_REF_LITE = "TF tpu models/official/efficientnet/lite/efficientnet_lite_builder.py"

# name -> (entry, builder)
_REGISTRY: dict[str, tuple[ZooEntry, _Builder]] = {}


# Every network here downsamples by 32 (SqueezeNet by about 16, but torchvision's 21x21 / 17x17
# minimum relies on PyTorch letting a ceil-mode pool window overhang a 2x2 map, which mapper.ir's
# shape rule rejects); below 32x32 the last stages would compute on padding alone.
_MIN_INPUT = 32


def _register(name: str, size: int, family: str, ref: str, build: _Builder, *,
              width: float | None = None) -> None:
    _REGISTRY[name] = (ZooEntry(name, size, family, ref, _MIN_INPUT, width), build)


_register("mobilenet_v1", 224, "mobilenet_v1",
          "Howard et al. 2017 (arXiv:1704.04861) Table 1; TF-slim nets/mobilenet_v1.py",
          _mobilenet_v1, width=1.0)
_register("mobilenet_v2", 224, "mobilenet_v2",
          "Sandler et al. 2018 (arXiv:1801.04381) Table 2; " + _REF_TV.format("mobilenetv2"),
          _mobilenet_v2, width=1.0)
for _v, _t, _last in (("large", _MBV3_LARGE, 1280), ("small", _MBV3_SMALL, 1024)):
    _register(f"mobilenet_v3_{_v}", 224, "mobilenet_v3",
              "Howard et al. 2019 (arXiv:1905.02244) Tables 1-2; " + _REF_TV.format("mobilenetv3"),
              _mobilenet_v3(_t, _last))
for _k, (_w, _d, _r, _p) in _EFFNET.items():
    _register(f"efficientnet_{_k}", _r, "efficientnet", _REF_EFF,
              _efficientnet(_w, _d, _p, lite=False))
for _k, (_w, _d, _r, _p) in _EFFNET_LITE.items():
    _register(f"efficientnet_{_k}", _r, "efficientnet_lite", _REF_LITE,
              _efficientnet(_w, _d, _p, lite=True))
for _k, _c in _SHUFFLE.items():
    _register(f"shufflenet_v2_{_k}", 224, "shufflenet_v2",
              "Ma et al. 2018 (arXiv:1807.11164) Table 5; " + _REF_TV.format("shufflenetv2"),
              _shufflenet_v2(_c))
for _k in ("1_0", "1_1"):
    _register(f"squeezenet{_k}", 224, "squeezenet",
              "Iandola et al. 2016 (arXiv:1602.07360); " + _REF_TV.format("squeezenet"),
              _squeezenet(_k))

for _k, _b in _RESNET.items():
    _register(_k, 224, "resnet", "He et al. 2016 (arXiv:1512.03385) Table 1; " + _REF_TV.format("resnet"),
              _resnet(_b))

_WIDTH_NAME = re.compile(r"^(mobilenet_v[12])_(\d+(?:\.\d+)?)$")


def names() -> list[str]:
    """Every base model name, in a stable order (width variants are spelt ``<name>_<width>``)."""
    return list(_REGISTRY)


def _resolve(name: str, width: float | None) -> tuple[ZooEntry, _Builder]:
    if not isinstance(name, str):
        raise ZooError(f"model name must be a string, not {name!r}")
    if width is not None and (isinstance(width, bool) or not isinstance(width, (int, float))
                              or not 0 < width <= 4):
        raise ZooError(f"width multiplier must be a number in (0, 4], not {width!r}")
    key = name.strip().lower().replace("-", "_")
    m = _WIDTH_NAME.match(key)
    if m and m.group(1) in _REGISTRY:
        key, w = m.group(1), float(m.group(2))
        if not 0 < w <= 4:
            raise ZooError(f"width multiplier must be a number in (0, 4], not {w:g} (in {name!r})")
        if width is not None and not math.isclose(width, w):
            raise ZooError(f"model {name!r} already says width {w:g}, but width={width!r} was given")
        width = w
    if key not in _REGISTRY:
        close = difflib.get_close_matches(key, list(_REGISTRY), n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}?" if close else f"known models: {', '.join(_REGISTRY)}"
        raise ZooError(f"unknown model {name!r}; {hint}")
    entry, build = _REGISTRY[key]
    if width is None:
        return entry, build
    if entry.width is None:
        raise ZooError(f"model {key!r} takes no width multiplier (only mobilenet_v1 and mobilenet_v2 do)")
    width = float(width)
    if width == 1.0:
        return entry, build
    return ZooEntry(f"{key}_{width:g}", entry.input_size, entry.family, entry.reference,
                    entry.min_input_size, width), build


def info(name: str, *, width: float | None = None) -> ZooEntry:
    """The zoo's description of ``name`` (raises ZooError if unknown)."""
    return _resolve(name, width)[0]


def build(name: str, input_size: int | None = None, *, width: float | None = None) -> Graph:
    """Build ``name`` at ``input_size`` x ``input_size`` (default: native size), batch 1, NCHW.

    ``width`` scales MobileNet V1/V2 channels (also spelt ``mobilenet_v1_0.75``).  Unknown names and
    bad options raise ZooError; an input smaller than the network accepts raises IRError.
    """
    entry, builder = _resolve(name, width)
    if input_size is None:
        size = entry.input_size
    else:
        try:
            if isinstance(input_size, bool):
                raise TypeError
            size = operator.index(input_size)
        except TypeError:
            raise ZooError(f"input size must be a whole number of pixels, not {input_size!r}") from None
    if size < entry.min_input_size:
        raise IRError(f"{entry.name}: input size {size} is too small; this network needs at least "
                      f"{entry.min_input_size}x{entry.min_input_size}")
    net = _Net(entry.name, size)
    out = builder(net, entry.width or 1.0)
    g = net.g
    g.set_outputs(out)
    g.meta.update(family=entry.family, input_size=size, native_input_size=entry.input_size,
                  reference=entry.reference)
    if entry.width is not None:
        g.meta["width"] = entry.width
    g.validate()
    return g
