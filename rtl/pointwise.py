"""CONV engine: a PP x ICP x OCP INT8 multiply-accumulate array (pointwise and k x k conv).

The array computes ``y[n, oc] = post(sum_r x[n, r] * W[r, oc])`` for a tile of ``N = h * w``
output pixels with a reduction of ``R = k * k * cin`` (the data mover streams each pixel's
receptive field tap-major then channels, so a k x k conv is just a longer reduction).  Each cycle
it takes one reduction step: PP pixels x ICP reduction lanes against ICP x OCP weights, adding
into PP x OCP accumulators of ``acc_width`` bits.  After ``S = ceil(R / ICP)`` steps a pixel group
is done: it is parked and fed to ``rtl.postproc.PostProc`` one pixel (OCP lanes) per cycle, and
PP post-processed pixels make one output beat.  Post-processing is costly in LUTs (its 33 x 16-bit
requantisation multiplier is built from adders to leave every DSP48E2 to the MACs), so it is
OCP lanes wide, not PP x OCP: a pixel group takes max(S, PP) cycles, i.e. the array runs at full
rate whenever the reduction has at least PP steps.

DSP packing (``macs_per_dsp = 2``, Xilinx WP486): output channels o and o+1 see the same
activation, so one 27 x 8 signed multiply ``x * (w_o * 2^18 + w_o+1)`` yields both products
(``packed_products``) and the array needs PP x ICP x OCP / 2 DSP48E2s.  The pipeline, the streams
and therefore ``tile_cycles`` are identical to the unpacked array.

Output channels beyond OCP: the tile runs ``ceil(cout / OCP)`` output-channel groups one after
the other; every group brings its own weights and quantisation parameters and the activations are
streamed again (the weight buffer holds one group: ``S <= wbuf_depth``).

Stream packing: see ``rtl.golden_pw`` (activation LUT; then per group: weights, quantisation
records, activations).  Timeline with unstalled streams (cycle 0 = ``start``)::

    1 .. LB          LUT beats (always present; ignored unless cfg.lut_en)
    per group:       S*WPB weight beats, QB quantisation beats, then G*S activation beats; pixel
                     group j reaches post-processing at L_j = L_0 + j*max(S, PP) with
                     L_0 = (first activation cycle) + S + 3; the group's last output beat is
                     transferred at L_(G-1) + PP + 6 and the next group starts on the next cycle

so ``tile_cycles = 1 + LB + NG * (S*WPB + QB + S + (G-1)*max(S, PP) + PP + 10)`` (``rtl.cycles``).
Pipeline: accept beat + weight-buffer read | products | adder tree | accumulate | park |
PostProc (5) | output beat.  ``en = ~m.valid | m.ready`` advances post-processing and the
output; the array (and ``s.ready``) advances on ``en`` unless a finished group must wait for the
serialiser, so backpressure on ``m`` stalls the input in the same cycle.
"""

from __future__ import annotations

from math import ceil

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory

from .layout import engine_signature
from .params import PEArrayParams
from .contract import BIAS_WIDTH, CFG_BITS, CONV_QREC_BYTES, MULT_WIDTH, SHIFT_WIDTH, lut_beats, lut_word_bytes
from .postproc import PostProc, mul_shift_add

QREC = CONV_QREC_BYTES          # bytes per channel quantisation record (rtl.contract)


def conv_stream_constants(p: PEArrayParams) -> dict[str, int]:
    """Beats per weight entry (WPB), per quantisation block (QB) and for the LUT (LB)."""
    b = p.in_bytes
    return {"WPB": ceil(p.icp * p.ocp / b), "QB": ceil(QREC * p.ocp / b), "LB": lut_beats(b)}


PACK_SHIFT = 18     # the low product's field: |x * w| <= 2^14 fits 18 signed bits with room to spare


def packed_products(m: Module, en, x, w_hi, w_lo, name: str):
    """Two INT8 products sharing ``x`` from one registered 27 x 8 signed multiply (Xilinx WP486):
    ``P = x * (w_hi * 2^18 + w_lo)`` (advances when ``en``).  Returns ``(x * w_hi, x * w_lo)`` one
    cycle later: the low 18 bits of P are ``x * w_lo``; the high bits are ``x * w_hi`` minus the
    borrow a negative low field takes from them, which adding back its sign bit (bit 17) undoes."""
    pk = Signal(signed(36), name=name)
    with m.If(en):
        m.d.sync += pk.eq(x * ((w_hi << PACK_SHIFT) + w_lo))
    hi, lo = Signal(signed(16), name=f"{name}_hi"), Signal(signed(16), name=f"{name}_lo")
    m.d.comb += [hi.eq(pk[PACK_SHIFT:].as_signed() + pk[PACK_SHIFT - 1]),
                 lo.eq(pk[:PACK_SHIFT].as_signed())]
    return hi, lo


class PointwiseArray(wiring.Component):
    """The CONV engine (``rtl.layout`` interface: cfg/start/busy/s/m)."""

    def __init__(self, params: PEArrayParams):
        self.params = params
        super().__init__(engine_signature(params))

    def elaborate(self, platform):
        m = Module()
        p = self.params
        PP, ICP, OCP = p.pp, p.icp, p.ocp
        B = p.in_bytes
        const = conv_stream_constants(p)
        WPB, QB, LB = const["WPB"], const["QB"], const["LB"]
        LW = lut_word_bytes(B)
        E = ICP * OCP                              # bytes per weight entry

        m.submodules.post = post = PostProc(OCP, p.acc_width, LW)

        # ---- latched configuration and derived sizes
        cin = self.cfg.cin
        kk = mul_shift_add(self.cfg.k, self.cfg.k, 3)
        r_total = Signal(range(49 * 8191 + 1))           # R = k*k*cin
        n_total = Signal(range(4095 * 4095 + 1))         # N = h*w
        cout = Signal(CFG_BITS["cout"])
        clamp_lo = Signal(signed(CFG_BITS["clamp_lo"]))
        clamp_hi = Signal(signed(CFG_BITS["clamp_hi"]))
        lut_en = Signal()

        # ---- counters
        beat = Signal(range(max(WPB, QB, 2)))             # beat within a word being assembled
        rpos = Signal(range(49 * 8191 + ICP + 1))         # reduction position of the current step
        step = Signal(range(p.wbuf_depth))                # weight entry / reduction step
        pbase = Signal(range(4095 * 4095 + PP + 1))       # first pixel of the current pixel group
        ocbase = Signal(range(8191 + OCP + 1))            # first output channel of the group
        lutaddr = Signal(range(LB))
        last_step = rpos + ICP >= r_total
        last_pix = pbase + PP >= n_total
        last_grp = ocbase + OCP >= cout

        # ---- weight buffer and word assembly
        # Yosys 0.23 otherwise maps a deep buffer with one shared address to LUT-RAM (or fails)
        wbuf = Memory(shape=unsigned(8 * E), depth=p.wbuf_depth, init=[],
                      attrs={"ram_style": "block" if p.wbuf_depth > 64 else "distributed"})
        m.submodules.wbuf = wbuf
        wwr = wbuf.write_port()
        wrd = wbuf.read_port()
        hold = Signal(8 * B * max(WPB, QB, 1))            # earlier beats of the word being assembled
        wword = Signal(8 * B * WPB)
        qword = Signal(8 * B * QB)
        m.d.comb += [wword.eq(Cat(hold[:8 * B * (WPB - 1)], self.s.payload.data)),
                     qword.eq(Cat(hold[:8 * B * (QB - 1)], self.s.payload.data))]

        bias = Signal(data.ArrayLayout(signed(BIAS_WIDTH), OCP))
        mult = Signal(data.ArrayLayout(unsigned(MULT_WIDTH), OCP))
        shift = Signal(data.ArrayLayout(unsigned(SHIFT_WIDTH), OCP))

        en = Signal()                                      # output register free: post-processing advances
        en_arr = Signal()                                  # the array (input, stages 1-4) advances
        m.d.comb += en.eq(~self.m.valid | self.m.ready)
        take = Signal()                                    # an input beat is accepted this cycle
        m.d.comb += take.eq(self.s.valid & self.s.ready)

        # ---- pipeline stage 1: activations + weight read
        v1, first1, last1, lastpix1 = Signal(), Signal(), Signal(), Signal()
        pmask1 = Signal(PP)
        x1 = Signal(8 * PP * ICP)
        act_take = Signal()
        m.d.comb += [wrd.en.eq(en_arr), wrd.addr.eq(step)]
        with m.If(en_arr):
            m.d.sync += [v1.eq(act_take), first1.eq(rpos == 0), last1.eq(last_step),
                         lastpix1.eq(last_pix), x1.eq(self.s.payload.data[:8 * PP * ICP]),
                         pmask1.eq(Cat(*[pbase + i < n_total for i in range(PP)]))]
        w1 = wrd.data

        # ---- stage 2: products.  macs_per_dsp == 1: one INT8 x INT8 multiplier each -> one DSP48E2.
        # macs_per_dsp == 2 (Xilinx WP486 packing): output channels o and o+1 share the activation,
        # so one 27 x 8 multiply -> one DSP48E2 gives both products (``packed_products``).
        v2, first2, last2, lastpix2 = Signal(), Signal(), Signal(), Signal()
        pmask2 = Signal(PP)
        prod = [[[Signal(signed(16), name=f"prod_{a}_{i}_{o}") for o in range(OCP)] for i in range(ICP)]
                for a in range(PP)]
        with m.If(en_arr):
            m.d.sync += [v2.eq(v1), first2.eq(first1), last2.eq(last1), lastpix2.eq(lastpix1), pmask2.eq(pmask1)]
        for a in range(PP):
            for i in range(ICP):
                xa = x1.word_select(a * ICP + i, 8).as_signed()
                wt = [w1.word_select(i * OCP + o, 8).as_signed() for o in range(OCP)]
                if p.macs_per_dsp == 1:
                    with m.If(en_arr):
                        m.d.sync += [prod[a][i][o].eq(xa * wt[o]) for o in range(OCP)]
                    continue
                for o in range(0, OCP, 2):
                    hi, lo = packed_products(m, en_arr, xa, wt[o], wt[o + 1], f"pk_{a}_{i}_{o}")
                    m.d.comb += [prod[a][i][o].eq(hi), prod[a][i][o + 1].eq(lo)]

        # ---- stage 3: adder tree over the ICP lanes
        v3, first3, last3, lastpix3 = Signal(), Signal(), Signal(), Signal()
        pmask3 = Signal(PP)
        tw = 16 + (ICP - 1).bit_length()
        tsum = [[Signal(signed(tw), name=f"tsum_{a}_{o}") for o in range(OCP)] for a in range(PP)]
        with m.If(en_arr):
            m.d.sync += [v3.eq(v2), first3.eq(first2), last3.eq(last2), lastpix3.eq(lastpix2), pmask3.eq(pmask2)]
            for a in range(PP):
                for o in range(OCP):
                    terms = [prod[a][i][o] for i in range(ICP)]
                    while len(terms) > 1:
                        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i]
                                 for i in range(0, len(terms), 2)]
                    m.d.sync += tsum[a][o].eq(terms[0])

        # ---- stage 4: accumulators; a finished pixel group goes to post-processing
        done4, lastpix4 = Signal(), Signal()
        pmask4 = Signal(PP)
        acc = [[Signal(signed(p.acc_width), name=f"acc_{a}_{o}") for o in range(OCP)] for a in range(PP)]
        with m.If(en_arr):
            m.d.sync += [done4.eq(v3 & last3), lastpix4.eq(lastpix3), pmask4.eq(pmask3)]
            with m.If(v3):
                for a in range(PP):
                    for o in range(OCP):
                        m.d.sync += acc[a][o].eq(Mux(first3, 0, acc[a][o]) + tsum[a][o])

        # ---- serialiser: a finished pixel group is parked and fed to post-processing one pixel
        # (OCP lanes) per cycle; the array waits only if the next group finishes within PP cycles
        park = [[Signal(signed(p.acc_width), name=f"park_{a}_{o}") for o in range(OCP)] for a in range(PP)]
        park_mask = Signal(PP)
        park_last = Signal()
        ser_busy = Signal()
        ser_idx = Signal(range(PP))
        ser_free = ~ser_busy | (ser_idx == PP - 1)          # free now, or after this cycle's pixel
        m.d.comb += en_arr.eq(en & ~(done4 & ~ser_free))
        with m.If(en):
            with m.If(ser_busy):
                m.d.sync += [ser_idx.eq(ser_idx + 1), park_mask.eq(park_mask >> 1)]
                for a in range(PP - 1):
                    for o in range(OCP):
                        m.d.sync += park[a][o].eq(park[a + 1][o])
                with m.If(ser_idx == PP - 1):
                    m.d.sync += [ser_busy.eq(0), ser_idx.eq(0)]
            with m.If(done4 & ser_free):
                m.d.sync += [ser_busy.eq(1), ser_idx.eq(0), park_mask.eq(pmask4), park_last.eq(lastpix4)]
                for a in range(PP):
                    for o in range(OCP):
                        m.d.sync += park[a][o].eq(acc[a][o])

        omask = Cat(*[ocbase + o < cout for o in range(OCP)])
        m.d.comb += [
            post.en.eq(en), post.i_valid.eq(ser_busy), post.i_last.eq(park_last & (ser_idx == PP - 1)),
            post.clamp_lo.eq(clamp_lo), post.clamp_hi.eq(clamp_hi), post.lut_en.eq(lut_en),
        ]
        for o in range(OCP):
            m.d.comb += [post.i_acc[o].eq(park[0][o]), post.i_bias[o].eq(bias[o]),
                         post.i_mult[o].eq(mult[o]), post.i_shift[o].eq(shift[o]),
                         post.i_mask[o].eq(park_mask[0] & omask[o])]

        # ---- output: PP post-processed pixels assembled into one beat (the m register)
        pix = Cat(*[post.o_data[o] for o in range(OCP)])
        asm = Signal(8 * OCP * (PP - 1))                   # pixels 0 .. PP-2 of the beat in progress
        asm_idx = Signal(range(PP))
        grp_done = Signal()                                # the m beat ends its pixel groups
        with m.If(self.m.valid & self.m.ready):
            m.d.sync += self.m.valid.eq(0)
        with m.If(en & post.o_valid):
            with m.If(asm_idx == PP - 1):
                m.d.sync += [asm_idx.eq(0), self.m.valid.eq(1), grp_done.eq(post.o_last),
                             self.m.payload.data.eq(Cat(asm, pix)),
                             self.m.payload.last.eq(post.o_last & last_grp)]
            with m.Else():
                m.d.sync += [asm_idx.eq(asm_idx + 1)]
                if PP > 1:
                    m.d.sync += asm.eq(Cat(asm[8 * OCP:], pix))

        # ---- control
        m.d.comb += [post.lut_waddr.eq(lutaddr), post.lut_wdata.eq(self.s.payload.data[:8 * LW]),
                     wwr.addr.eq(step), wwr.data.eq(wword[:8 * E])]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [r_total.eq(mul_shift_add(cin, kk, 6)),
                                 n_total.eq(mul_shift_add(self.cfg.h, self.cfg.w, 12)),
                                 cout.eq(self.cfg.cout), clamp_lo.eq(self.cfg.clamp_lo),
                                 clamp_hi.eq(self.cfg.clamp_hi), lut_en.eq(self.cfg.lut_en),
                                 lutaddr.eq(0), beat.eq(0), rpos.eq(0), step.eq(0), pbase.eq(0), ocbase.eq(0)]
                    m.next = "LUT"
            with m.State("LUT"):
                m.d.comb += [self.busy.eq(1), self.s.ready.eq(1), post.lut_we.eq(take)]
                with m.If(take):
                    m.d.sync += lutaddr.eq(lutaddr + 1)
                    with m.If(lutaddr == LB - 1):
                        m.next = "WGT"
            with m.State("WGT"):
                m.d.comb += [self.busy.eq(1), self.s.ready.eq(1)]
                with m.If(take):
                    m.d.sync += hold.word_select(beat, 8 * B).eq(self.s.payload.data)
                    m.d.sync += beat.eq(beat + 1)
                    with m.If(beat == WPB - 1):
                        m.d.comb += wwr.en.eq(1)
                        m.d.sync += [beat.eq(0), step.eq(step + 1), rpos.eq(rpos + ICP)]
                        with m.If(last_step):
                            m.d.sync += [step.eq(0), rpos.eq(0)]
                            m.next = "QP"
            with m.State("QP"):
                m.d.comb += [self.busy.eq(1), self.s.ready.eq(1)]
                with m.If(take):
                    m.d.sync += hold.word_select(beat, 8 * B).eq(self.s.payload.data)
                    m.d.sync += beat.eq(beat + 1)
                    with m.If(beat == QB - 1):
                        m.d.sync += beat.eq(0)
                        for o in range(OCP):
                            rec = qword.word_select(o, 8 * QREC)
                            m.d.sync += [bias[o].eq(rec[0:32]), mult[o].eq(rec[32:48]), shift[o].eq(rec[48:54])]
                        m.next = "ACT"
            with m.State("ACT"):
                m.d.comb += [self.busy.eq(1), self.s.ready.eq(en_arr), act_take.eq(take)]
                with m.If(take):
                    m.d.sync += [step.eq(step + 1), rpos.eq(rpos + ICP)]
                    with m.If(last_step):
                        m.d.sync += [step.eq(0), rpos.eq(0), pbase.eq(pbase + PP)]
                        with m.If(last_pix):
                            m.next = "DRAIN"
            with m.State("DRAIN"):
                m.d.comb += self.busy.eq(1)
                with m.If(self.m.valid & self.m.ready & grp_done):
                    m.d.sync += [pbase.eq(0), ocbase.eq(ocbase + OCP)]
                    with m.If(last_grp):
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "WGT"
        return m
