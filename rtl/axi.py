"""AXI4 master read and write engines of the data mover, and the width converters between the
AXI data bus and the engine's streams.

``AxiReader``: one command ``(addr, words)`` at a time (``addr`` aligned to the bus width) is cut
into INCR bursts of at most ``params.burst_beats`` beats that never cross a 4 KiB boundary (AXI4
spec, ARM IHI 0022, A3.4.1); at most ``params.outstanding`` bursts are in flight (AR issued, RLAST
not yet received).  It takes the next command as soon as the last AR of the current one is issued,
so back-to-back commands keep the R channel busy.  R data is passed through (``rready`` =
downstream ready), in order (one ID).

``AxiWriter``: the same for AW; each issued burst's length is queued for the W channel, which
sends data beats only for bursts whose AW has been issued (WLAST on the burst's last beat); B
responses retire bursts.  ``idle`` is high when no command is active and every burst has its B.

``WordsToBeats`` / ``BeatsToWords``: DDR holds engine beats at a stride of ``beat_stride(nbytes)``
bytes (the beat's bytes rounded up to a power of two, unused top bytes zero), so a bus word carries
``W / stride`` beats or one beat spans ``stride / W`` words.  Both convert per command of ``n``
beats: a command's data starts on a word boundary and its last word is zero-padded.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from .contract import beat_stride  # noqa: F401  (re-exported: the DDR layout fact lives in the contract)
from .params import PEArrayParams

ADDR_BITS = 32          # the HP ports of Zynq UltraScale+ take 40-bit addresses; the PS DDR in the low 2 GiB fits 32
LEN_BITS = 24           # words / beats of one command
PAGE = 4096             # AXI4: a burst must not cross a 4 KiB boundary




def words_for(n_beats: int, nbytes: int, bus_bytes: int) -> int:
    """Bus words of ``n_beats`` engine beats of ``nbytes`` lanes (last word zero-padded)."""
    s = beat_stride(nbytes)
    return -(-n_beats * s // bus_bytes)


Cmd = data.StructLayout({"addr": ADDR_BITS, "n": LEN_BITS})


def _burst_len(m: Module, p: PEArrayParams, addr, left) -> Signal:
    """Beats of the next burst: min(burst_beats, left, words to the next 4 KiB boundary)."""
    wb = p.axi_data_bits // 8
    sh = (wb - 1).bit_length()
    to_page = Signal(range(PAGE // wb + 1))
    m.d.comb += to_page.eq((PAGE >> sh) - addr[sh:12])
    blen = Signal(range(max(p.burst_beats, PAGE // wb) + 1))
    a = Mux(left < p.burst_beats, left, p.burst_beats)
    m.d.comb += blen.eq(Mux(to_page < a, to_page, a))
    return blen


def _axi_ports(prefix: str, write: bool, dbits: int) -> dict:
    """Master-side AXI4 channel signals (ID-less: one ID, in order)."""
    if not write:
        return {f"{prefix}arid": Out(1), f"{prefix}araddr": Out(ADDR_BITS), f"{prefix}arlen": Out(8), f"{prefix}arsize": Out(3),
                f"{prefix}arburst": Out(2), f"{prefix}arcache": Out(4), f"{prefix}arprot": Out(3),
                f"{prefix}arvalid": Out(1), f"{prefix}arready": In(1),
                f"{prefix}rid": In(1), f"{prefix}rdata": In(dbits), f"{prefix}rresp": In(2), f"{prefix}rlast": In(1),
                f"{prefix}rvalid": In(1), f"{prefix}rready": Out(1)}
    return {f"{prefix}awid": Out(1), f"{prefix}awaddr": Out(ADDR_BITS), f"{prefix}awlen": Out(8), f"{prefix}awsize": Out(3),
            f"{prefix}awburst": Out(2), f"{prefix}awcache": Out(4), f"{prefix}awprot": Out(3),
            f"{prefix}awvalid": Out(1), f"{prefix}awready": In(1),
            f"{prefix}wdata": Out(dbits), f"{prefix}wstrb": Out(dbits // 8), f"{prefix}wlast": Out(1),
            f"{prefix}wvalid": Out(1), f"{prefix}wready": In(1),
            f"{prefix}bid": In(1), f"{prefix}bresp": In(2), f"{prefix}bvalid": In(1), f"{prefix}bready": Out(1)}


class AxiReader(wiring.Component):
    def __init__(self, p: PEArrayParams):
        self.p = p
        sig = {"cmd": In(stream.Signature(Cmd)), "data": Out(stream.Signature(p.axi_data_bits)),
               "err": Out(1)}
        sig.update(_axi_ports("", False, p.axi_data_bits))
        super().__init__(sig)

    def elaborate(self, platform):
        m = Module()
        p = self.p
        wb = p.axi_data_bits // 8
        addr = Signal(ADDR_BITS)
        left = Signal(LEN_BITS)
        active = Signal()
        inflight = Signal(range(p.outstanding + 1))
        blen = _burst_len(m, p, addr, left)
        ar = self.arvalid & self.arready
        rl = self.rvalid & self.rready & self.rlast
        m.d.comb += [
            self.cmd.ready.eq(~active | (ar & (left == blen))),
            self.araddr.eq(addr), self.arlen.eq(blen - 1), self.arsize.eq((wb - 1).bit_length()),
            self.arburst.eq(1), self.arcache.eq(0b0011), self.arprot.eq(0),
            self.arvalid.eq(active & (inflight < p.outstanding)),
            self.data.valid.eq(self.rvalid), self.data.payload.eq(self.rdata), self.rready.eq(self.data.ready),
        ]
        m.d.sync += inflight.eq(inflight + ar - rl)
        with m.If(self.rvalid & self.rready & self.rresp[1]):
            m.d.sync += self.err.eq(1)
        with m.If(ar):
            m.d.sync += [addr.eq(addr + blen * wb), left.eq(left - blen)]
            with m.If(left == blen):
                m.d.sync += active.eq(0)
        with m.If(self.cmd.valid & self.cmd.ready & (self.cmd.payload.n != 0)):
            m.d.sync += [addr.eq(self.cmd.payload.addr), left.eq(self.cmd.payload.n), active.eq(1)]
        return m


class AxiWriter(wiring.Component):
    def __init__(self, p: PEArrayParams):
        self.p = p
        sig = {"cmd": In(stream.Signature(Cmd)), "data": In(stream.Signature(p.axi_data_bits)),
               "idle": Out(1), "err": Out(1)}
        sig.update(_axi_ports("", True, p.axi_data_bits))
        super().__init__(sig)

    def elaborate(self, platform):
        m = Module()
        p = self.p
        wb = p.axi_data_bits // 8
        addr = Signal(ADDR_BITS)
        left = Signal(LEN_BITS)
        active = Signal()
        inflight = Signal(range(p.outstanding + 1))       # AW issued, B not yet received
        blen = _burst_len(m, p, addr, left)
        m.submodules.lens = lens = SyncFIFOBuffered(width=8, depth=p.outstanding + 1)
        aw = self.awvalid & self.awready
        b = self.bvalid & self.bready
        m.d.comb += [
            self.cmd.ready.eq(~active),
            self.awaddr.eq(addr), self.awlen.eq(blen - 1), self.awsize.eq((wb - 1).bit_length()),
            self.awburst.eq(1), self.awcache.eq(0b0011), self.awprot.eq(0),
            self.awvalid.eq(active & (inflight < p.outstanding) & lens.w_rdy),
            lens.w_en.eq(aw), lens.w_data.eq(blen - 1),
            self.bready.eq(1),
            self.idle.eq(~active & (inflight == 0)),
        ]
        m.d.sync += inflight.eq(inflight + aw - b)
        with m.If(b & self.bresp[1]):
            m.d.sync += self.err.eq(1)
        with m.If(self.cmd.valid & self.cmd.ready & (self.cmd.payload.n != 0)):
            m.d.sync += [addr.eq(self.cmd.payload.addr), left.eq(self.cmd.payload.n), active.eq(1)]
        with m.If(aw):
            m.d.sync += [addr.eq(addr + blen * wb), left.eq(left - blen)]
            with m.If(left == blen):
                m.d.sync += active.eq(0)
        # W channel: beats of bursts whose AW is out
        beat = Signal(8)
        wl = beat == lens.r_data
        m.d.comb += [self.wvalid.eq(self.data.valid & lens.r_rdy), self.data.ready.eq(self.wready & lens.r_rdy),
                     self.wdata.eq(self.data.payload), self.wstrb.eq((1 << wb) - 1), self.wlast.eq(wl)]
        with m.If(self.wvalid & self.wready):
            m.d.sync += beat.eq(Mux(wl, 0, beat + 1))
            m.d.comb += lens.r_en.eq(wl)
        return m


class WordsToBeats(wiring.Component):
    """Bus words -> engine beats of ``nbytes`` lanes, per command of ``n`` beats."""

    def __init__(self, p: PEArrayParams, nbytes: int):
        self.p, self.nbytes = p, nbytes
        super().__init__({"count": In(stream.Signature(LEN_BITS)),
                          "i": In(stream.Signature(p.axi_data_bits)),
                          "o": Out(stream.Signature(8 * nbytes))})

    def elaborate(self, platform):
        m = Module()
        W = self.p.axi_data_bits // 8
        S = beat_stride(self.nbytes)
        left = Signal(LEN_BITS)
        active = Signal()
        done = Signal()
        m.d.comb += done.eq(self.o.valid & self.o.ready)
        # the next command is taken in the cycle the current one's last beat leaves (no bubble)
        m.d.comb += self.count.ready.eq(~active | (done & (left == 1)))
        with m.If(done):
            m.d.sync += left.eq(left - 1)
            with m.If(left == 1):
                m.d.sync += active.eq(0)
        with m.If(self.count.valid & self.count.ready & (self.count.payload != 0)):
            m.d.sync += [left.eq(self.count.payload), active.eq(1)]
        if S <= W:
            r = W // S
            k = Signal(range(r))
            m.d.comb += [self.o.valid.eq(active & self.i.valid),
                         self.o.payload.eq(self.i.payload.word_select(k, 8 * S)[:8 * self.nbytes])]
            with m.If(done):
                last_in_word = (k == r - 1) | (left == 1)
                m.d.sync += k.eq(Mux(last_in_word, 0, k + 1))
                m.d.comb += self.i.ready.eq(last_in_word)
        else:
            q = S // W
            acc = Signal(8 * W * (q - 1))
            j = Signal(range(q))
            full = Signal()                     # q-1 words held; the q-th is on the input
            m.d.comb += [full.eq(j == q - 1),
                         self.o.valid.eq(active & self.i.valid & full),
                         self.o.payload.eq(Cat(acc, self.i.payload)[:8 * self.nbytes]),
                         self.i.ready.eq(active & (~full | self.o.ready))]
            with m.If(self.i.valid & self.i.ready):
                m.d.sync += j.eq(Mux(full, 0, j + 1))
                with m.If(~full):
                    m.d.sync += acc.word_select(j, 8 * W).eq(self.i.payload)
        return m


class BeatsToWords(wiring.Component):
    """Engine beats of ``nbytes`` lanes -> bus words, per command of ``n`` beats (last word zero-padded)."""

    def __init__(self, p: PEArrayParams, nbytes: int):
        self.p, self.nbytes = p, nbytes
        super().__init__({"count": In(stream.Signature(LEN_BITS)),
                          "i": In(stream.Signature(8 * nbytes)),
                          "o": Out(stream.Signature(p.axi_data_bits)),
                          "idle": Out(1)})

    def elaborate(self, platform):
        m = Module()
        W = self.p.axi_data_bits // 8
        S = beat_stride(self.nbytes)
        left = Signal(LEN_BITS)
        active = Signal()
        m.d.comb += [self.count.ready.eq(~active), self.idle.eq(~active)]
        with m.If(self.count.valid & ~active & (self.count.payload != 0)):
            m.d.sync += [left.eq(self.count.payload), active.eq(1)]
        take = Signal()
        m.d.comb += take.eq(self.i.valid & self.i.ready)
        if S <= W:
            r = W // S
            buf = Signal(8 * W)
            k = Signal(range(r))
            ov = Signal()                      # the o register holds a word
            word = Signal(8 * W)
            m.d.comb += [self.o.valid.eq(ov), self.o.payload.eq(word),
                         self.i.ready.eq(active & (~ov | self.o.ready))]
            with m.If(self.o.valid & self.o.ready):
                m.d.sync += ov.eq(0)
            slot = Signal(8 * W)
            m.d.comb += slot.eq(buf | (self.i.payload.as_unsigned() << (k * 8 * S)))
            with m.If(take):
                m.d.sync += left.eq(left - 1)
                with m.If((k == r - 1) | (left == 1)):
                    m.d.sync += [word.eq(slot), ov.eq(1), buf.eq(0), k.eq(0)]
                with m.Else():
                    m.d.sync += [buf.eq(slot), k.eq(k + 1)]
                with m.If(left == 1):
                    m.d.sync += active.eq(0)
            m.d.comb += self.idle.eq(~active & ~ov)
        else:
            q = S // W
            hold = Signal(8 * S)
            j = Signal(range(q))
            busy = Signal()                    # hold carries a beat being sent word by word
            # the next beat is taken in the cycle the held beat's last word leaves (no bubble)
            m.d.comb += [self.o.valid.eq(busy), self.o.payload.eq(hold.word_select(j, 8 * W)),
                         self.i.ready.eq(active & (~busy | (self.o.ready & (j == q - 1))))]
            with m.If(self.o.valid & self.o.ready):
                m.d.sync += j.eq(j + 1)
                with m.If(j == q - 1):
                    m.d.sync += [busy.eq(0), j.eq(0)]
            with m.If(take):
                m.d.sync += [hold.eq(self.i.payload), busy.eq(1), j.eq(0), left.eq(left - 1)]
                with m.If(left == 1):
                    m.d.sync += active.eq(0)
            m.d.comb += self.idle.eq(~active & ~busy)
        return m
