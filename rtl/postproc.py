"""Post-processing stage shared by both engines: bias, requantisation, clamp, activation LUT.

Per lane (bit-exact with ``rtl.golden.requantize``)::

    s   = acc + bias                                  (signed, max(acc_width, 32) + 1 bits)
    p   = s * mult                                    (mult: unsigned 16 bit)
    y   = (p + (1 << (shift - 1) if shift else 0)) >> shift    (arithmetic; shift 0..47)
    y   = clamp(saturate_int8(y), clamp_lo, clamp_hi)
    out = lut[y & 0xff] if lut_en else y

The ``s * mult`` product is built from shifted partial sums (no ``*`` operator) so it lands in
LUTs, not DSP48E2s: the DSP budget of the device is spent on the MAC array (see ``rtl.synth``).

Pipeline: ``LATENCY`` = 5 register stages, all advancing together when ``en`` is high (the owning
engine drives ``en = ~o_valid | m.ready`` so the output register doubles as the ``m`` stream
register).  ``i_valid``/``i_last``/``i_mask`` travel with the data; lanes whose mask bit is 0 come
out as 0 (ragged pixel / channel edges).

Activation LUT: 256 INT8 entries held in ``256 / lut_word`` words of ``lut_word`` bytes, written
one word per cycle through ``lut_we``/``lut_waddr``/``lut_wdata`` (byte j of word a is entry
``a * lut_word + j``).  ``lut_word_bytes(beat_bytes)`` picks the word size an engine with
``beat_bytes``-byte input beats uses, so the LUT arrives as ``256 / lut_word`` beats, beat a
carrying entries ``a*lut_word ..`` in its lowest byte lanes.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

# the requantisation fields and the LUT word size are the RTL contract (rtl.contract)
from .contract import BIAS_WIDTH, MAX_SHIFT, MULT_WIDTH, POSTPROC_LATENCY, SHIFT_WIDTH, lut_beats, lut_word_bytes

__all__ = ["BIAS_WIDTH", "MAX_SHIFT", "MULT_WIDTH", "SHIFT_WIDTH", "PostProc", "lut_beats", "lut_word_bytes",
           "mul_shift_add"]


def mul_shift_add(a, b, width_b: int):
    """a * b for an unsigned ``b`` of ``width_b`` bits as a sum of shifted, gated copies of ``a``
    (keeps Yosys from spending a DSP48E2 on it)."""
    terms = [Mux(b[i], a << i, 0) for i in range(width_b)]
    while len(terms) > 1:          # balanced adder tree
        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i]
                 for i in range(0, len(terms), 2)]
    return terms[0]


class PostProc(wiring.Component):
    """``lanes`` parallel post-processing lanes, ``LATENCY`` cycles, stalled by ``en``."""

    LATENCY = POSTPROC_LATENCY

    def __init__(self, lanes: int, acc_width: int, lut_word: int):
        if lut_word < 1 or lut_word > 256 or lut_word & (lut_word - 1):
            raise ValueError(f"lut_word must be a power of two <= 256, not {lut_word}")
        self.lanes = lanes
        self.acc_width = acc_width
        self.lut_word = lut_word
        super().__init__({
            "en": In(1),
            "i_valid": In(1),
            "i_last": In(1),
            "i_mask": In(lanes),
            "i_acc": In(data.ArrayLayout(signed(acc_width), lanes)),
            "i_bias": In(data.ArrayLayout(signed(BIAS_WIDTH), lanes)),
            "i_mult": In(data.ArrayLayout(unsigned(MULT_WIDTH), lanes)),
            "i_shift": In(data.ArrayLayout(unsigned(SHIFT_WIDTH), lanes)),
            "clamp_lo": In(signed(8)),
            "clamp_hi": In(signed(8)),
            "lut_en": In(1),
            "lut_we": In(1),
            "lut_waddr": In(range(256 // lut_word)),
            "lut_wdata": In(8 * lut_word),
            "o_valid": Out(1),
            "o_last": Out(1),
            "o_data": Out(data.ArrayLayout(signed(8), lanes)),
        })

    def elaborate(self, platform):
        m = Module()
        n = self.lanes
        sw = max(self.acc_width, BIAS_WIDTH) + 1          # s = acc + bias
        half = MULT_WIDTH // 2
        pw = max(sw + MULT_WIDTH, MAX_SHIFT + 1) + 1       # p + rounding term
        lw = self.lut_word

        # valid / last / mask travel through all stages
        valid = [Signal(name=f"v{i}") for i in range(1, 6)]
        last = [Signal(name=f"l{i}") for i in range(1, 6)]
        mask = [Signal(n, name=f"mask{i}") for i in range(1, 6)]
        with m.If(self.en):
            m.d.sync += [valid[0].eq(self.i_valid), last[0].eq(self.i_last), mask[0].eq(self.i_mask)]
            for i in range(1, 5):
                m.d.sync += [valid[i].eq(valid[i - 1]), last[i].eq(last[i - 1]), mask[i].eq(mask[i - 1])]

        lut = Memory(shape=unsigned(8 * lw), depth=256 // lw, init=[], attrs={"ram_style": "distributed"})
        m.submodules.lut = lut
        wr = lut.write_port()
        m.d.comb += [wr.en.eq(self.lut_we), wr.addr.eq(self.lut_waddr), wr.data.eq(self.lut_wdata)]

        for j in range(n):
            # stage 1: s = acc + bias
            s1 = Signal(signed(sw), name=f"s1_{j}")
            mult1 = Signal(MULT_WIDTH, name=f"mult1_{j}")
            sh1 = Signal(SHIFT_WIDTH, name=f"sh1_{j}")
            # stage 2: partial products of the low and high multiplier bytes
            plo2 = Signal(signed(sw + half + 1), name=f"plo2_{j}")
            phi2 = Signal(signed(sw + half + 1), name=f"phi2_{j}")
            sh2 = Signal(SHIFT_WIDTH, name=f"sh2_{j}")
            # stage 3: p + rounding term
            p3 = Signal(signed(pw), name=f"p3_{j}")
            sh3 = Signal(SHIFT_WIDTH, name=f"sh3_{j}")
            # stage 4: shifted, saturated, clamped INT8
            y4 = Signal(signed(8), name=f"y4_{j}")
            # stage 5: the value (LUT bypass) and the LUT word read
            y5 = Signal(signed(8), name=f"y5_{j}")
            rd = lut.read_port()
            sel5 = Signal(range(lw), name=f"sel5_{j}")

            shifted = Signal(signed(pw), name=f"shifted_{j}")
            sat = Signal(signed(8), name=f"sat_{j}")
            m.d.comb += shifted.eq(p3 >> sh3)
            with m.If(shifted > 127):
                m.d.comb += sat.eq(127)
            with m.Elif(shifted < -128):
                m.d.comb += sat.eq(-128)
            with m.Else():
                m.d.comb += sat.eq(shifted)
            clamped = Mux(sat < self.clamp_lo, self.clamp_lo, Mux(sat > self.clamp_hi, self.clamp_hi, sat))
            rnd = (Const(1, pw + 1) << sh2)[1:]          # 1 << (shift - 1), or 0 when shift == 0

            m.d.comb += [rd.en.eq(self.en), rd.addr.eq(y4.as_unsigned() >> (lw.bit_length() - 1))]
            with m.If(self.en):
                m.d.sync += [
                    s1.eq(self.i_acc[j] + self.i_bias[j]),
                    mult1.eq(self.i_mult[j]),
                    sh1.eq(self.i_shift[j]),
                    plo2.eq(mul_shift_add(s1, mult1[:half], half)),
                    phi2.eq(mul_shift_add(s1, mult1[half:], MULT_WIDTH - half)),
                    sh2.eq(sh1),
                    p3.eq(plo2 + (phi2 << half) + rnd),
                    sh3.eq(sh2),
                    y4.eq(clamped),
                    y5.eq(y4),
                    sel5.eq(y4.as_unsigned()[:max(lw.bit_length() - 1, 0)] if lw > 1 else 0),
                ]
            lut_val = rd.data.word_select(sel5, 8) if lw > 1 else rd.data
            value = Mux(self.lut_en, lut_val.as_signed(), y5)
            m.d.comb += self.o_data[j].eq(Mux(mask[4][j], value, 0))

        m.d.comb += [self.o_valid.eq(valid[4]), self.o_last.eq(last[4])]
        return m
