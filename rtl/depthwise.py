"""Depthwise engine: depthwise conv and max/avg pooling on ``params.dw_channels`` window lanes, and
the pixel-wise modes per-channel scale (SE), global average pool and residual add on the full beat
width (``params.ew_lanes`` / ``params.add_lanes`` lanes), INT8.

Interface: ``rtl.layout`` (cfg, start, busy, s, m).  Stream packing and arithmetic of every mode:
``rtl.golden_dw``, sizes ``rtl.contract`` (per tile: the activation LUT (DW, MAXPOOL, AVGPOOL, GAP) or the per-tensor
header (SCALE: shift; ADD: ma, mb, shift); per channel group: the parameter block (DW: kmax*kmax
taps per lane + requantisation fields; MAXPOOL/AVGPOOL/GAP: int32 bias, uint16 mult, uint8 shift
per lane; SCALE: uint16 s per lane; ADD: none), right-aligned in its beats, then the pixels).

Window modes (DW, MAXPOOL, AVGPOOL), per lane c < dw_channels:
  line buffer  one ``Memory`` of ``max_width`` words, each the (kmax-1)-row column history of a
               pixel column (kmax-1 rows x max_width pixels x dw_channels lanes), read one column
               ahead, rewritten with the new pixel on top every step (read-during-write transparent)
  window       kmax x kmax registers shifting one column per step; a k x k window uses the
               bottom-right corner; padding / rows above the tile / cleared columns read as 0
               (MAXPOOL: -128, which never wins a max)
  products     kmax*kmax multipliers (weights = taps; pooling passes x itself)
  sum          adder tree (or max tree for MAXPOOL)
  postproc     ``rtl.postproc.PostProc`` (5 stages), whose output register is the ``m`` register

Pixel-wise modes (one pixel of a channel group per step, no window, no line buffer):
  input        stage 1 registers the beat's lanes (``ein``)
  products     the window multipliers are shared: multiplier i (i = c*kmax^2 + t in the window
               modes) takes lane i: SCALE x[i] * s[i] (s unsigned 16 bit), ADD a[i] * ma for
               i < add_lanes and b[i-add_lanes] * mb above, GAP x[i] * 1.  An INT8 x 17-bit
               signed product fits one DSP48E2; the engine has ``params.dw_multipliers`` =
               max(dw_channels*kmax^2, ew_lanes, 2*add_lanes) multipliers, so extra DSPs appear
               only when the pixel-wise lanes outnumber the window's.
  SCALE / ADD  the light output path per lane (no multiplier, no bias/mult/LUT): stage 3
               t = ((x*s | a*ma + b*mb) << 1) >>> shift, stage 4 (the ``m`` register)
               y = clamp(sat8((t + (shift != 0)) >> 1)), i.e. round to nearest, ties toward +inf,
               exactly ``rtl.golden.requantize`` with bias 0 and mult 1.  Latency ``EW_LATENCY``.
  GAP          ``ew_lanes`` accumulators over the group's h x w pixels (stage 3); once the last
               pixel is in, the sums go through the dw_channels-lane PostProc in ceil(ew_lanes /
               dw_channels) chunks, one per advancing cycle, with the group's per-lane
               bias/mult/shift, and a gather register assembles the chunks into the group's one
               output beat (the ``m`` register).  Latency ``LATENCY + chunks``.

Scheduling: the engine walks the padded input (h+pad) x (w+pad) steps per group (the top/left
padding is free, the bottom/right padding rows/columns are real steps that consume no input), one
step per cycle when the input has data and the pipeline may advance.  Every stage advances together
when ``m`` can take a beat (``en = ~m.valid | m.ready``), so backpressure stalls the whole engine.
The next group's block loads into a shadow register while the previous group drains; it takes
over once the previous group has released its parameters (``hold`` advancing cycles after its last
step: ``PIPE_STAGES``, GAP ``PIPE_STAGES + chunks - 1`` (its serialised post-processing)), so
consecutive groups are max(block beats, hold) cycles apart.  ADD has no per-group block: its groups
follow each other without a gap.  After the tile's last step the pipeline drains.
Exact cycle counts: ``rtl.cycles.tile_cycles``.  ``busy`` falls the cycle after the drain: right
after the ``last`` beat, unless a stride leaves trailing input rows/columns that no window uses
(they are still consumed, so ``busy`` stays high for those steps).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory

from .contract import (BIAS_WIDTH, CFG_BITS, DW_LATENCY, DW_PIPE_STAGES, EW_LATENCY, EW_SHIFT_WIDTH,
                       MULT_WIDTH, RQ_BYTES, SHIFT_WIDTH, block_beats, gap_chunks, header_beats, lut_beats,
                       lut_word_bytes, shadow_beats)
from .layout import engine_signature
from .params import Mode, ParamError, PEArrayParams
from .postproc import PostProc

# the pipeline depths and stream sizes are the RTL contract (rtl.contract), which rtl.cycles counts with
PIPE_STAGES = DW_PIPE_STAGES             # window, products, sum/accumulate
LATENCY = DW_LATENCY                     # cycles from a step to its output beat

__all__ = ["DepthwiseEngine", "EW_LATENCY", "LATENCY", "PIPE_STAGES", "gap_chunks"]


class DepthwiseEngine(wiring.Component):
    """The depthwise-engine modes of ``rtl.params.Mode`` (DW, MAXPOOL, AVGPOOL, SCALE, GAP, ADD)."""

    def __init__(self, params: PEArrayParams):
        if params.kmax < 2:
            raise ParamError(f"the depthwise engine needs a window of at least 2x2 (its line buffer holds "
                             f"kmax-1 rows), not dw_kernels={list(params.dw_kernels)}")
        self.params = params
        super().__init__(engine_signature(params))

    def elaborate(self, platform):
        m = Module()
        p = self.params
        d, km, nb = p.dw_channels, p.kmax, p.in_bytes
        nt = km * km
        L, A = p.ew_lanes, p.add_lanes
        E = max(L, 2 * A)                     # input lanes the pixel-wise modes use
        M = p.dw_multipliers
        NQ = gap_chunks(p)
        lw = lut_word_bytes(nb)
        n_lut = lut_beats(nb)
        bb = {md: block_beats(p, md) for md in Mode if md != Mode.CONV}
        hb = {md: header_beats(p, md) for md in Mode if md != Mode.CONV}
        sb = shadow_beats(p)
        pbytes = sb * nb
        hold_max = PIPE_STAGES + NQ - 1

        m.submodules.pp = pp = PostProc(d, p.acc_width, lw)

        # ---- configuration, latched at start (SCALE/GAP/ADD run as a 1x1 window, stride 1, no pad)
        mode = Signal(CFG_BITS["mode"])
        cin = Signal(CFG_BITS["cin"])
        h = Signal(CFG_BITS["h"])
        w = Signal(CFG_BITS["w"])
        k = Signal(CFG_BITS["k"])
        stride = Signal(CFG_BITS["stride"])
        pad = Signal(CFG_BITS["pad"])
        clamp_lo = Signal(signed(CFG_BITS["clamp_lo"]))
        clamp_hi = Signal(signed(CFG_BITS["clamp_hi"]))
        lut_en = Signal()
        oh = Signal(13)
        ow = Signal(13)
        is_max = mode == Mode.MAXPOOL
        is_gap = mode == Mode.GAP
        is_add = mode == Mode.ADD
        is_scale = mode == Mode.SCALE
        is_dw = mode == Mode.DW
        ew = is_scale | is_add                # the light output path
        pixel = ew | is_gap
        use_lb = is_dw | is_max | (mode == Mode.AVGPOOL)
        padval = Mux(is_max, -128, 0)
        glanes = Mux(is_scale | is_gap, L, Mux(is_add, A, d))     # channels per group
        gfull = Mux(is_scale | is_gap, (1 << L) - 1, Mux(is_add, (1 << A) - 1, (1 << d) - 1))
        t_shift = Signal(EW_SHIFT_WIDTH)      # SCALE / ADD per-tensor header
        t_ma = Signal(signed(16))
        t_mb = Signal(signed(16))

        # ---- sequencing state
        adv = Signal()                        # the whole pipeline advances this cycle
        fire = Signal()                       # a window step happens this cycle
        gbase = Signal(13)                    # first channel of the current group
        first_group = Signal()
        pc = Signal(range(n_lut + sb + 1))    # parameter beats taken in LOAD
        since = Signal(range(hold_max + 1))   # advancing cycles since the previous group's last step
        drain = Signal(range(LATENCY + NQ + 1))
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
        lane_mask = Signal(L)                 # the running group's lanes (ragged last group)
        last_group = Signal()                 # the running group is the tile's last

        m_valid = Signal()
        m.d.comb += adv.eq(~m_valid | self.m.ready)
        rem = cin - gbase                     # channels from the group being loaded on
        rem_next = cin - gbase - glanes       # channels from the next group on (ADD: no LOAD between groups)

        def group_state(r):
            last = r <= glanes
            return last, Mux(last, (Const(1, L + 1) << r[:L.bit_length()]) - 1, gfull)

        n_blk = Mux(is_dw, bb[Mode.DW], Mux(is_scale, bb[Mode.SCALE], Mux(is_add, bb[Mode.ADD],
                    Mux(is_gap, bb[Mode.GAP], bb[Mode.MAXPOOL]))))
        n_pre = Mux(ew, 0, n_lut)             # the LUT (post-processed modes only)
        n_hdr = Mux(is_scale, hb[Mode.SCALE], Mux(is_add, hb[Mode.ADD], 0))
        n_load = Mux(first_group, n_pre + n_hdr + n_blk, n_blk)
        hold = Mux(is_gap, hold_max, PIPE_STAGES)
        lut_phase = first_group & (pc < n_pre)
        x_end = x == w + pad - 1
        y_end = y == h + pad - 1
        need_in = (y < h) & (x < w)

        def byte(sig, i):
            return sig[8 * i:8 * i + 8].as_signed()

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    c = self.cfg
                    px = (c.mode == Mode.SCALE) | (c.mode == Mode.GAP) | (c.mode == Mode.ADD)
                    ke = Mux(px, 1, c.k)
                    pe = Mux(px, 0, c.pad)
                    se = Mux(px, 1, c.stride)
                    m.d.sync += [
                        mode.eq(c.mode), cin.eq(c.cin), h.eq(c.h), w.eq(c.w), k.eq(ke), stride.eq(se),
                        pad.eq(pe), clamp_lo.eq(c.clamp_lo), clamp_hi.eq(c.clamp_hi), lut_en.eq(c.lut_en),
                        oh.eq(Mux(se == 2, (c.h + 2 * pe - ke) >> 1, c.h + 2 * pe - ke) + 1),
                        ow.eq(Mux(se == 2, (c.w + 2 * pe - ke) >> 1, c.w + 2 * pe - ke) + 1),
                        gbase.eq(0), first_group.eq(1), pc.eq(0), since.eq(hold_max),
                    ]
                    m.next = "LOAD"
            with m.State("LOAD"):
                # The block goes into ``shadow`` while the previous group drains; it becomes the
                # running block once the previous group has released its parameters (``hold``
                # advancing cycles after its last step: its taps, factors and requantisation
                # fields are consumed).
                take = self.s.valid & (pc < n_load)
                shadow_nxt = Mux(take & ~lut_phase, Cat(shadow[8 * nb:], self.s.payload.data), shadow)
                complete = (pc == n_load) | take & (pc == n_load - 1)
                free = (since >= hold) | (since == hold - 1) & adv
                m.d.comb += [self.busy.eq(1), self.s.ready.eq(pc < n_load), pp.lut_we.eq(take & lut_phase)]
                m.d.sync += shadow.eq(shadow_nxt)
                with m.If(take):
                    m.d.sync += pc.eq(pc + 1)
                with m.If(adv & (since < hold)):
                    m.d.sync += since.eq(since + 1)
                with m.If(complete & free):
                    lg, lm = group_state(rem)
                    m.d.sync += [
                        preg.eq(shadow_nxt), last_group.eq(lg), lane_mask.eq(lm),
                        first_group.eq(0), pc.eq(0), y.eq(0), x.eq(0), oyc.eq(0), oxc.eq(0),
                        ry.eq(pad - k + 1), rph.eq(0), cx.eq(pad - k + 1), cph.eq(0),
                    ]
                    with m.If(first_group & is_scale):     # the header sits below the group's s block
                        m.d.sync += t_shift.eq(shadow_nxt[8 * (pbytes - bb[Mode.SCALE] * nb - 1):][:EW_SHIFT_WIDTH])
                    with m.If(first_group & is_add):       # ma, mb, shift: the top five bytes
                        m.d.sync += [t_ma.eq(shadow_nxt[8 * (pbytes - 5):][:16]),
                                     t_mb.eq(shadow_nxt[8 * (pbytes - 3):][:16]),
                                     t_shift.eq(shadow_nxt[8 * (pbytes - 1):][:EW_SHIFT_WIDTH])]
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
                        with m.Elif(y_end & is_add):     # no per-group block: the next group goes on
                            lg, lm = group_state(rem_next)
                            m.d.sync += [gbase.eq(gbase + glanes), last_group.eq(lg), lane_mask.eq(lm),
                                         y.eq(0), ry.eq(pad - k + 1), rph.eq(0), oyc.eq(0)]
                        with m.Elif(y_end):
                            m.d.sync += [gbase.eq(gbase + glanes), pc.eq(0), since.eq(0)]
                            m.next = "LOAD"
                    with m.Else():
                        m.d.sync += [x.eq(x + 1), cx.eq(cx + 1)]
                        with m.If(cx >= 0):
                            m.d.sync += cph.eq(Mux(cph == stride - 1, 0, cph + 1))
                            with m.If(cph == 0):
                                m.d.sync += oxc.eq(oxc + 1)
            with m.State("DRAIN"):        # the latency of the mode: advancing cycles flush the last step
                lat = Mux(is_gap, LATENCY + NQ, Mux(ew, EW_LATENCY, LATENCY))
                m.d.comb += self.busy.eq(1)
                with m.If(adv):
                    m.d.sync += drain.eq(drain + 1)
                    with m.If(drain == lat - 1):
                        m.next = "IDLE"

        # ---- line buffer: word at column x = the (km-1) rows above the step, lane-packed
        lb = Memory(shape=unsigned(8 * d * (km - 1)), depth=p.max_width, init=[])
        m.submodules.lb = lb
        wr = lb.write_port()
        rd = lb.read_port(transparent_for=(wr,))
        m.d.comb += rd.addr.eq(Mux(fire, Mux(x_end, 0, x + 1), x))

        step_emit = Mux(is_gap, x_end & y_end, (ry >= 0) & (rph == 0) & (cx >= 0) & (cph == 0))
        step_last = last_group & Mux(is_gap, x_end & y_end, (oyc == oh - 1) & (oxc == ow - 1))
        # ---- stage 1: window (per lane km x km, index r*km + col; col km-1 is the newest);
        #      pixel-wise modes: the beat's lanes
        win = [[Signal(signed(8), name=f"win{c}_{t}") for t in range(nt)] for c in range(d)]
        ein = [Signal(signed(8), name=f"ein{i}") for i in range(E)]
        v1, e1, l1, f1 = Signal(), Signal(), Signal(), Signal()
        mk1, mk2, mk3 = Signal(L), Signal(L), Signal(L)      # lane mask travelling with SCALE/ADD pixels
        wr_rows = []
        for c in range(d):
            x_in = Mux(need_in, byte(self.s.payload.data, c), padval)
            hist = [Mux(use_lb & (j < y) & (x < w), byte(rd.data, j * d + c), padval) for j in range(km - 1)]
            col = [*reversed(hist), x_in]                    # top (oldest row) .. bottom (this row)
            wr_rows.append([x_in, *hist[:-1]])
            with m.If(fire):
                for r in range(km):
                    for cc in range(km):
                        nxt = col[r] if cc == km - 1 else Mux(x == 0, padval, win[c][r * km + cc + 1])
                        m.d.sync += win[c][r * km + cc].eq(nxt)
        with m.If(fire):
            m.d.sync += [ein[i].eq(byte(self.s.payload.data, i)) for i in range(E)]
        m.d.comb += [wr.en.eq(fire & use_lb & (x < w)), wr.addr.eq(x),
                     wr.data.eq(Cat(*[wr_rows[c][j] for j in range(km - 1) for c in range(d)]))]
        with m.If(adv):
            m.d.sync += [v1.eq(fire), e1.eq(step_emit), l1.eq(step_last), f1.eq((x == 0) & (y == 0)),
                         mk1.eq(lane_mask)]

        # ---- stage 2: products.  Multiplier i: window lane c = i // nt, tap t = i % nt (taps from
        #      the parameter block; pooling passes x through); pixel-wise modes: lane i (SCALE s[i],
        #      ADD ma / mb, GAP 1)
        top = pbytes
        below_rq = top - RQ_BYTES * d            # the DW taps end where the requantisation fields start

        tap_mask = Signal(nt)
        for t in range(nt):
            m.d.comb += tap_mask[t].eq((t // km >= km - k) & (t % km >= km - k))
        prods = []
        v2, e2, l2, f2 = Signal(), Signal(), Signal(), Signal()
        with m.If(adv):
            m.d.sync += [v2.eq(v1), e2.eq(e1), l2.eq(l1), f2.eq(f1), mk2.eq(mk1)]
        for i in range(M):
            wide = i < max(L, 2 * A)
            prod = Signal(signed(25 if wide else 16), name=f"prod{i}")
            prods.append(prod)
            a_op, b_op, keep = Const(0, signed(8)), Const(0, signed(17)), pixel
            if wide:
                s_fac = preg[8 * (top - 2 * L + 2 * i):][:16].as_unsigned() if i < L else Const(0, 16)
                ab_fac = t_ma if i < A else t_mb if i < 2 * A else Const(0, signed(16))
                gap_fac = 1 if i < L else 0
                a_op = ein[i] if i < E else Const(0, signed(8))
                b_op = Mux(is_scale, s_fac, Mux(is_add, ab_fac, gap_fac))
            if i < d * nt:
                c, t = divmod(i, nt)
                tap = Mux(is_dw, byte(preg, below_rq - nt * d + c * nt + t), 1)
                a_op = Mux(pixel, a_op, win[c][t])
                b_op = Mux(pixel, b_op, tap)
                keep = pixel | tap_mask[t]
            with m.If(adv):
                m.d.sync += prod.eq(Mux(keep, a_op * b_op, padval))

        # ---- stage 3: adder / max tree (window modes); GAP accumulators; SCALE/ADD shift
        def tree(vals, op):
            while len(vals) > 1:
                vals = [op(vals[i], vals[i + 1]) if i + 1 < len(vals) else vals[i]
                        for i in range(0, len(vals), 2)]
            return vals[0]

        acc3 = [Signal(signed(p.acc_width), name=f"acc3_{c}") for c in range(d)]
        gacc = [Signal(signed(p.acc_width), name=f"gacc{j}") for j in range(L)]
        t3 = [Signal(signed(27), name=f"t3_{j}") for j in range(L)]
        v3, l3 = Signal(), Signal()
        with m.If(adv):
            m.d.sync += [v3.eq(v2 & e2), l3.eq(l2), mk3.eq(mk2)]
            for c in range(d):
                lane = [prods[c * nt + t][:16].as_signed() for t in range(nt)]
                total = tree(lane, lambda a, b: a + b)
                biggest = tree(lane, lambda a, b: Mux(a > b, a, b))
                m.d.sync += acc3[c].eq(Mux(is_max, biggest, total))
            with m.If(v2 & is_gap):
                for j in range(L):
                    m.d.sync += gacc[j].eq(Mux(f2, 0, gacc[j]) + prods[j][:16].as_signed())
            for j in range(L):
                total = prods[j] + prods[A + j] if j < A else prods[j]
                summed = Mux(is_add, total, prods[j]) if j < A else prods[j]
                m.d.sync += t3[j].eq((summed << 1) >> t_shift)

        # ---- stage 4 (SCALE / ADD): round, saturate, clamp; the m register of those modes
        eo = [Signal(signed(8), name=f"eo{j}") for j in range(L)]
        ev4, el4 = Signal(), Signal()
        with m.If(adv):
            m.d.sync += [ev4.eq(v3 & ew), el4.eq(l3)]
            for j in range(L):
                q = (t3[j] + (t_shift != 0)) >> 1
                sat = Mux(q > 127, 127, Mux(q < -128, -128, q[:8].as_signed()))
                clamped = Mux(sat < clamp_lo, clamp_lo, Mux(sat > clamp_hi, clamp_hi, sat))
                m.d.sync += eo[j].eq(Mux(mk3[j], clamped, 0))

        # ---- GAP: the group's ew_lanes sums through the dw_channels-lane PostProc, one chunk per
        #      advancing cycle once the last pixel is accumulated
        dact = Signal()
        dq = Signal(range(NQ))
        dlast = Signal()
        with m.If(adv):
            with m.If(v2 & e2 & is_gap):
                m.d.sync += [dact.eq(1), dq.eq(0), dlast.eq(l2)]
            with m.Elif(dact):
                m.d.sync += dq.eq(dq + 1)
                with m.If(dq == NQ - 1):
                    m.d.sync += dact.eq(0)

        def chunked(vals, width):
            """Signal of NQ words of d * width bits, word q = vals[q*d .. q*d+d-1] (zero-padded)."""
            vals = list(vals) + [Const(0, width)] * (NQ * d - len(vals))
            return Cat(*[v.as_unsigned() if hasattr(v, "as_unsigned") else v for v in vals])

        g_acc = chunked(gacc, p.acc_width).word_select(dq, d * p.acc_width)
        g_bias = chunked([preg[8 * (top - RQ_BYTES * L + 4 * j):][:BIAS_WIDTH] for j in range(L)],
                         BIAS_WIDTH).word_select(dq, d * BIAS_WIDTH)
        g_mult = chunked([preg[8 * (top - 3 * L + 2 * j):][:MULT_WIDTH] for j in range(L)],
                         MULT_WIDTH).word_select(dq, d * MULT_WIDTH)
        g_shift = chunked([preg[8 * (top - L + j):][:SHIFT_WIDTH] for j in range(L)],
                          SHIFT_WIDTH).word_select(dq, d * SHIFT_WIDTH)
        g_mask = chunked([lane_mask[j] for j in range(L)], 1).word_select(dq, d)

        # ---- post-processing (window modes: PostProc's output register is the m register)
        lut_word = self.s.payload.data[:8 * lw]
        m.d.comb += [
            pp.en.eq(adv),
            pp.i_valid.eq(Mux(is_gap, dact, v3 & ~pixel)),
            pp.i_last.eq(Mux(is_gap, dlast & (dq == NQ - 1), l3)),
            pp.i_mask.eq(Mux(is_gap, g_mask, lane_mask[:d])),
            pp.clamp_lo.eq(clamp_lo), pp.clamp_hi.eq(clamp_hi), pp.lut_en.eq(lut_en),
            pp.lut_waddr.eq(pc), pp.lut_wdata.eq(lut_word),
        ]
        for c in range(d):
            m.d.comb += [
                pp.i_acc[c].eq(Mux(is_gap, g_acc[c * p.acc_width:][:p.acc_width].as_signed(), acc3[c])),
                pp.i_bias[c].eq(Mux(is_gap, g_bias[c * BIAS_WIDTH:][:BIAS_WIDTH],
                                    preg[8 * (top - RQ_BYTES * d + 4 * c):][:BIAS_WIDTH]).as_signed()),
                pp.i_mult[c].eq(Mux(is_gap, g_mult[c * MULT_WIDTH:][:MULT_WIDTH],
                                    preg[8 * (top - 3 * d + 2 * c):][:MULT_WIDTH])),
                pp.i_shift[c].eq(Mux(is_gap, g_shift[c * SHIFT_WIDTH:][:SHIFT_WIDTH],
                                     preg[8 * (top - d + c):][:SHIFT_WIDTH])),
            ]

        # ---- GAP gather: the chunks shift in (newest on top); the group's beat after the last one
        gth = Signal(8 * d * NQ)
        gq = Signal(range(NQ))
        gv, gl = Signal(), Signal()
        with m.If(adv):
            m.d.sync += gv.eq(0)
            with m.If(is_gap & pp.o_valid):
                m.d.sync += gth.eq(Cat(gth[8 * d:], *[pp.o_data[c] for c in range(d)]))
                with m.If(gq == NQ - 1):
                    m.d.sync += [gq.eq(0), gv.eq(1), gl.eq(pp.o_last)]
                with m.Else():
                    m.d.sync += gq.eq(gq + 1)

        m.d.comb += [
            m_valid.eq(Mux(is_gap, gv, Mux(ew, ev4, pp.o_valid))),
            self.m.valid.eq(m_valid),
            self.m.payload.last.eq(Mux(is_gap, gl, Mux(ew, el4, pp.o_last))),
            self.m.payload.data.eq(Mux(is_gap, gth[:8 * L], Mux(ew, Cat(*eo), Cat(*[pp.o_data[c] for c in range(d)])))),
        ]
        return m
