"""``LayerEngine``: the accelerator's layer engine, both compute engines behind one interface.

The CONV engine (``rtl.pointwise.PointwiseArray``) and the depthwise engine
(``rtl.depthwise.DepthwiseEngine``: DW, MAXPOOL, AVGPOOL, SCALE, GAP, ADD) share the
``rtl.layout`` interface.  ``start`` (sampled while idle) goes to the engine that ``cfg.mode``
selects; the mode is latched then and routes ``s``, ``m`` and ``busy`` until the next start.
Routing is combinational, so the top adds no cycle: ``rtl.cycles.tile_cycles`` holds for it.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring

from .depthwise import DepthwiseEngine
from .layout import engine_signature
from .params import Mode, PEArrayParams
from .pointwise import PointwiseArray


class LayerEngine(wiring.Component):
    def __init__(self, params: PEArrayParams):
        self.params = params
        super().__init__(engine_signature(params))

    def elaborate(self, platform):
        m = Module()
        m.submodules.pw = pw = PointwiseArray(self.params)
        m.submodules.dw = dw = DepthwiseEngine(self.params)

        use_dw = Signal()               # latched at start: the depthwise engine owns the streams
        start_ok = self.start & ~self.busy
        is_dw = self.cfg.mode != Mode.CONV
        with m.If(start_ok):
            m.d.sync += use_dw.eq(is_dw)

        m.d.comb += [
            pw.cfg.eq(self.cfg), dw.cfg.eq(self.cfg),
            pw.start.eq(start_ok & ~is_dw), dw.start.eq(start_ok & is_dw),
            self.busy.eq(pw.busy | dw.busy),
            pw.s.payload.eq(self.s.payload), dw.s.payload.eq(self.s.payload),
            pw.s.valid.eq(self.s.valid & ~use_dw), dw.s.valid.eq(self.s.valid & use_dw),
            self.s.ready.eq(Mux(use_dw, dw.s.ready, pw.s.ready)),
            self.m.valid.eq(Mux(use_dw, dw.m.valid, pw.m.valid)),
            self.m.payload.eq(Mux(use_dw, dw.m.payload, pw.m.payload)),
            pw.m.ready.eq(self.m.ready & ~use_dw), dw.m.ready.eq(self.m.ready & use_dw),
        ]
        return m
