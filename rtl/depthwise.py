"""Depthwise engine: depthwise conv, max/avg pooling, per-channel scale (SE), global average pool
and residual add, ``params.dw_channels`` channels in parallel, INT8.

Interface: ``rtl.layout`` (cfg, start, busy, s, m).  Stream packing and arithmetic of every mode:
``rtl.golden_dw`` (the parameter block per channel group: taps (DW: kmax*kmax per lane; SCALE: s;
ADD: ma then mb), then int32 bias, uint16 mult, uint8 shift per lane, right-aligned in its beats;
the activation LUT once per tile before group 0).

Datapath, per lane:
  line buffer  one ``Memory`` of ``max_width`` words, each the (kmax-1)-row column history of a
               pixel column (kmax-1 rows x max_width pixels x dw_channels lanes), read one column
               ahead, rewritten with the new pixel on top every step (read-during-write transparent)
  window       kmax x kmax registers shifting one column per step; a k x k window uses the
               bottom-right corner; padding / rows above the tile / cleared columns read as 0
               (MAXPOOL: -128, which never wins a max)
  products     kmax*kmax INT8 x INT8 multipliers (weights = taps; pooling/GAP use x itself)
  sum          adder tree (or max tree for MAXPOOL); GAP accumulates over the whole tile
  postproc     ``rtl.postproc.PostProc`` (5 stages), whose output register is the ``m`` register

Scheduling: the engine walks the padded input (h+pad) x (w+pad) steps per group (the top/left
padding is free, the bottom/right padding rows/columns are real steps that consume no input), one
step per cycle when the input has data and the pipeline may advance.  Every stage advances together
when ``m`` can take a beat (``en = ~m.valid | m.ready``), so backpressure stalls the whole engine.
The next group's block loads into a shadow register while the previous group drains; it takes
over once that group's last step has passed the sum stage, so consecutive groups are
max(block beats, PIPE_STAGES) cycles apart.  After the tile's last step the pipeline drains.
Exact cycle counts: ``rtl.cycles.tile_cycles``.  ``busy`` falls the cycle after the drain: right
after the ``last`` beat, unless a stride leaves trailing input rows/columns that no window uses
(they are still consumed, so ``busy`` stays high for those steps).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .golden_dw import RQ_BYTES, block_beats
from .layout import LayerConfig, in_beat, out_beat
from .params import Mode, ParamError, PEArrayParams
from .postproc import BIAS_WIDTH, MULT_WIDTH, SHIFT_WIDTH, PostProc, lut_beats, lut_word_bytes

PIPE_STAGES = 3                          # window, products, sum/accumulate
LATENCY = PIPE_STAGES + PostProc.LATENCY  # cycles from a step to its output beat (rtl.cycles.DW_LATENCY)


class DepthwiseEngine(wiring.Component):
    """The depthwise-engine modes of ``rtl.params.Mode`` (DW, MAXPOOL, AVGPOOL, SCALE, GAP, ADD)."""

    def __init__(self, params: PEArrayParams):
        if params.kmax < 2:
            raise ParamError(f"the depthwise engine needs a kernel of at least 2 (ADD uses two taps), "
                             f"not dw_kernels={list(params.dw_kernels)}")
        self.params = params
        super().__init__({
            "cfg": In(LayerConfig),
            "start": In(1),
            "busy": Out(1),
            "s": In(stream.Signature(in_beat(params))),
            "m": Out(stream.Signature(out_beat(params))),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        d, km, nb = p.dw_channels, p.kmax, p.in_bytes
        nt = km * km
        lw = lut_word_bytes(nb)
        n_lut = lut_beats(nb)
        tap_blk = block_beats(p, Mode.DW)
        pbytes = tap_blk * nb

        m.submodules.pp = pp = PostProc(d, p.acc_width, lw)

        # ---- configuration, latched at start (SCALE/GAP/ADD run as a 1x1 window, stride 1, no pad)
        mode = Signal(3)
        cin = Signal(13)
        h = Signal(12)
        w = Signal(12)
        k = Signal(3)
        stride = Signal(2)
        pad = Signal(2)
        clamp_lo = Signal(signed(8))
        clamp_hi = Signal(signed(8))
        lut_en = Signal()
        oh = Signal(13)
        ow = Signal(13)
        is_max = mode == Mode.MAXPOOL
        is_gap = mode == Mode.GAP
        is_add = mode == Mode.ADD
        use_w = (mode == Mode.DW) | (mode == Mode.SCALE) | is_add
        use_lb = (mode == Mode.DW) | is_max | (mode == Mode.AVGPOOL)
        padval = Mux(is_max, -128, 0)

        # ---- sequencing state
        adv = Signal()                        # the whole pipeline advances this cycle
        fire = Signal()                       # a window step happens this cycle
        gbase = Signal(13)                    # first channel of the current group
        first_group = Signal()
        pc = Signal(range(n_lut + tap_blk + 1))      # parameter beats taken in LOAD
        since = Signal(range(PIPE_STAGES + 1))       # advancing cycles since the previous group's last step
        drain = Signal(range(LATENCY + 1))
        y = Signal(13)                        # step row / column in input coordinates (to h+pad-1)
        x = Signal(13)
        ry = Signal(signed(14))               # top row of the window in padded coordinates
        rph = Signal(2)                       # ry mod stride (once ry >= 0)
        cx = Signal(signed(14))
        cph = Signal(2)
        oyc = Signal(13)                      # output rows / columns emitted so far
        oxc = Signal(13)
        shadow = Signal(8 * pbytes)           # the next group's block, shifted in (newest beat on top)
        preg = Signal(8 * pbytes)             # the running group's block
        lane_mask = Signal(d)                 # the running group's lanes (ragged last group)
        last_group = Signal()                 # the running group is the tile's last

        m.d.comb += adv.eq(~pp.o_valid | self.m.ready)
        rem = cin - gbase                     # channels from the group being loaded on
        n_blk = Mux(mode == Mode.DW, tap_blk, Mux(mode == Mode.SCALE, block_beats(p, Mode.SCALE),
                                                 Mux(is_add, block_beats(p, Mode.ADD), block_beats(p, Mode.GAP))))
        n_load = Mux(first_group, n_lut + n_blk, n_blk)
        lut_phase = first_group & (pc < n_lut)
        x_end = x == w + pad - 1
        y_end = y == h + pad - 1
        need_in = (y < h) & (x < w)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    c = self.cfg
                    pixel = (c.mode == Mode.SCALE) | (c.mode == Mode.GAP) | (c.mode == Mode.ADD)
                    ke = Mux(pixel, 1, c.k)
                    pe = Mux(pixel, 0, c.pad)
                    se = Mux(pixel, 1, c.stride)
                    m.d.sync += [
                        mode.eq(c.mode), cin.eq(c.cin), h.eq(c.h), w.eq(c.w), k.eq(ke), stride.eq(se),
                        pad.eq(pe), clamp_lo.eq(c.clamp_lo), clamp_hi.eq(c.clamp_hi), lut_en.eq(c.lut_en),
                        oh.eq(Mux(se == 2, (c.h + 2 * pe - ke) >> 1, c.h + 2 * pe - ke) + 1),
                        ow.eq(Mux(se == 2, (c.w + 2 * pe - ke) >> 1, c.w + 2 * pe - ke) + 1),
                        gbase.eq(0), first_group.eq(1), pc.eq(0), since.eq(PIPE_STAGES),
                    ]
                    m.next = "LOAD"
            with m.State("LOAD"):
                # The block goes into ``shadow`` while the previous group drains; it becomes the
                # running block once the previous group's last step has left the sum stage
                # (PIPE_STAGES advancing cycles: its taps and requantisation fields are consumed).
                take = self.s.valid & (pc < n_load)
                shadow_nxt = Mux(take & ~lut_phase, Cat(shadow[8 * nb:], self.s.payload.data), shadow)
                complete = (pc == n_load) | take & (pc == n_load - 1)
                free = (since == PIPE_STAGES) | (since == PIPE_STAGES - 1) & adv
                m.d.comb += [self.busy.eq(1), self.s.ready.eq(pc < n_load), pp.lut_we.eq(take & lut_phase)]
                m.d.sync += shadow.eq(shadow_nxt)
                with m.If(take):
                    m.d.sync += pc.eq(pc + 1)
                with m.If(adv & (since < PIPE_STAGES)):
                    m.d.sync += since.eq(since + 1)
                with m.If(complete & free):
                    m.d.sync += [
                        preg.eq(shadow_nxt), last_group.eq(rem <= d),
                        lane_mask.eq(Mux(rem <= d, (Const(1, d + 1) << rem[:d.bit_length()]) - 1, (1 << d) - 1)),
                        first_group.eq(0), pc.eq(0), y.eq(0), x.eq(0), oyc.eq(0), oxc.eq(0),
                        ry.eq(pad - k + 1), rph.eq(0), cx.eq(pad - k + 1), cph.eq(0),
                    ]
                    m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += [self.busy.eq(1), self.s.ready.eq(adv & need_in),
                             fire.eq(adv & (self.s.valid | ~need_in))]
                with m.If(fire):
                    with m.If(x_end):
                        m.d.sync += [x.eq(0), cx.eq(pad - k + 1), cph.eq(0), oxc.eq(0),
                                     y.eq(y + 1), ry.eq(ry + 1)]
                        with m.If(ry >= 0):
                            m.d.sync += rph.eq(Mux(rph == stride - 1, 0, rph + 1))
                            with m.If(rph == 0):
                                m.d.sync += oyc.eq(oyc + 1)
                        with m.If(y_end & last_group):
                            m.d.sync += drain.eq(0)
                            m.next = "DRAIN"
                        with m.Elif(y_end):
                            m.d.sync += [gbase.eq(gbase + d), pc.eq(0), since.eq(0)]
                            m.next = "LOAD"
                    with m.Else():
                        m.d.sync += [x.eq(x + 1), cx.eq(cx + 1)]
                        with m.If(cx >= 0):
                            m.d.sync += cph.eq(Mux(cph == stride - 1, 0, cph + 1))
                            with m.If(cph == 0):
                                m.d.sync += oxc.eq(oxc + 1)
            with m.State("DRAIN"):        # LATENCY advancing cycles flush the tile's last step
                m.d.comb += self.busy.eq(1)
                with m.If(adv):
                    m.d.sync += drain.eq(drain + 1)
                    with m.If(drain == LATENCY - 1):
                        m.next = "IDLE"

        # ---- line buffer: word at column x = the (km-1) rows above the step, lane-packed
        lb = Memory(shape=unsigned(8 * d * (km - 1)), depth=p.max_width, init=[])
        m.submodules.lb = lb
        wr = lb.write_port()
        rd = lb.read_port(transparent_for=(wr,))
        m.d.comb += rd.addr.eq(Mux(fire, Mux(x_end, 0, x + 1), x))

        def byte(sig, i):
            return sig[8 * i:8 * i + 8].as_signed()

        step_emit = Mux(is_gap, x_end & y_end, (ry >= 0) & (rph == 0) & (cx >= 0) & (cph == 0))
        step_last = last_group & Mux(is_gap, x_end & y_end, (oyc == oh - 1) & (oxc == ow - 1))
        # ---- stage 1: window (per lane km x km, index r*km + col; col km-1 is the newest)
        win = [[Signal(signed(8), name=f"win{c}_{t}") for t in range(nt)] for c in range(d)]
        b1 = [Signal(signed(8), name=f"b1_{c}") for c in range(d)]
        v1, e1, l1, f1 = Signal(), Signal(), Signal(), Signal()
        wr_rows = []
        for c in range(d):
            x_in = Mux(need_in, byte(self.s.payload.data, c), padval)
            hist = [Mux(use_lb & (j < y) & (x < w), byte(rd.data, j * d + c), padval) for j in range(km - 1)]
            col = [*reversed(hist), x_in]                    # top (oldest row) .. bottom (this row)
            wr_rows.append([x_in, *hist[:-1]])
            with m.If(fire):
                m.d.sync += b1[c].eq(byte(self.s.payload.data, d + c) if 2 * d <= nb else 0)
                for r in range(km):
                    for cc in range(km):
                        nxt = col[r] if cc == km - 1 else Mux(x == 0, padval, win[c][r * km + cc + 1])
                        m.d.sync += win[c][r * km + cc].eq(nxt)
        m.d.comb += [wr.en.eq(fire & use_lb & (x < w)), wr.addr.eq(x),
                     wr.data.eq(Cat(*[wr_rows[c][j] for j in range(km - 1) for c in range(d)]))]
        with m.If(adv):
            m.d.sync += [v1.eq(fire), e1.eq(step_emit), l1.eq(step_last), f1.eq((x == 0) & (y == 0))]

        # ---- stage 2: products (taps from the parameter block; pooling and GAP pass x through)
        top = pbytes
        below_rq = top - RQ_BYTES * d            # the taps end where the requantisation fields start

        def weight(c, t):
            dw_tap = byte(preg, below_rq - nt * d + c * nt + t)
            if t == nt - 1:                      # SCALE: s[c]; ADD: ma[c]
                return Mux(mode == Mode.SCALE, byte(preg, below_rq - d + c),
                           Mux(is_add, byte(preg, below_rq - 2 * d + c), dw_tap))
            if t == nt - 2:                      # ADD: mb[c]
                return Mux(is_add, byte(preg, below_rq - d + c), dw_tap)
            return dw_tap

        tap_mask = Signal(nt)
        for t in range(nt):
            inside = (t // km >= km - k) & (t % km >= km - k)
            m.d.comb += tap_mask[t].eq(Mux(is_add, t >= nt - 2, inside))
        prods = [[Signal(signed(16), name=f"prod{c}_{t}") for t in range(nt)] for c in range(d)]
        v2, e2, l2, f2 = Signal(), Signal(), Signal(), Signal()
        with m.If(adv):
            m.d.sync += [v2.eq(v1), e2.eq(e1), l2.eq(l1), f2.eq(f1)]
            for c in range(d):
                for t in range(nt):
                    xv = Mux(is_add & (t == nt - 2), b1[c], win[c][t])
                    wv = Mux(use_w, weight(c, t), 1)
                    m.d.sync += prods[c][t].eq(Mux(tap_mask[t], wv * xv, padval))

        # ---- stage 3: adder / max tree; GAP accumulates over the whole group
        def tree(vals, op):
            while len(vals) > 1:
                vals = [op(vals[i], vals[i + 1]) if i + 1 < len(vals) else vals[i]
                        for i in range(0, len(vals), 2)]
            return vals[0]

        acc3 = [Signal(signed(p.acc_width), name=f"acc3_{c}") for c in range(d)]
        v3, l3 = Signal(), Signal()
        with m.If(adv):
            m.d.sync += [v3.eq(v2 & e2), l3.eq(l2)]
            with m.If(v2 | ~is_gap):
                for c in range(d):
                    total = tree(prods[c], lambda a, b: a + b)
                    biggest = tree(prods[c], lambda a, b: Mux(a > b, a, b))
                    m.d.sync += acc3[c].eq(Mux(is_max, biggest, Mux(is_gap & ~f2, acc3[c], 0) + total))

        # ---- post-processing (PostProc's output register is the m register)
        lut_word = self.s.payload.data[:8 * lw]
        m.d.comb += [
            pp.en.eq(adv), pp.i_valid.eq(v3), pp.i_last.eq(l3), pp.i_mask.eq(lane_mask),
            pp.clamp_lo.eq(clamp_lo), pp.clamp_hi.eq(clamp_hi), pp.lut_en.eq(lut_en),
            pp.lut_waddr.eq(pc), pp.lut_wdata.eq(lut_word),
            self.m.valid.eq(pp.o_valid),
            self.m.payload.last.eq(pp.o_last),
            self.m.payload.data.eq(Cat(*[pp.o_data[c] for c in range(d)])),
        ]
        for c in range(d):
            m.d.comb += [
                pp.i_acc[c].eq(acc3[c]),
                pp.i_bias[c].eq(preg[8 * (top - RQ_BYTES * d + 4 * c):][:BIAS_WIDTH].as_signed()),
                pp.i_mult[c].eq(preg[8 * (top - 3 * d + 2 * c):][:MULT_WIDTH]),
                pp.i_shift[c].eq(preg[8 * (top - d + c):][:SHIFT_WIDTH]),
            ]
        return m
