"""Command sequencer: fetches a PL segment's tile descriptors from DDR and runs every tile.

Descriptor list (written by the PS, ``rtl.driver.DescriptorWriter``; 16-byte words, little-endian).
Each tile is one header of two words followed by its read segments, one word each; the next
tile's header follows the last segment::

    word 0   bits 0..76   rtl.layout.LayerConfig of the tile (packed as Amaranth packs it, LSB first)
             bits 80..87  nseg: read segments of the tile (1 .. MAX_SEGS)
             bit 88       last: the segment ends after this tile
             bit 89       fence: before reading this tile's data, wait until every earlier write
                          has its response (a layer reading the previous layer's output)
    word 1   bits 0..31   output DDR address; bits 32..63 output beats (engine ``m`` beats)
    seg j    bits 0..31   DDR address; bits 32..63 engine input beats

The tile's input stream is the concatenation of its segments (``params`` block and activations
live in different DDR buffers: a CONV tile is [LUT, weights/quant of group 0, activations,
weights/quant of group 1, activations, ...]).  Engine beats sit in DDR at ``rtl.axi.beat_stride``
bytes; every segment and every output starts on a bus word.

Timeline per tile: fetch header (one read command of 2 words), fetch its segments (one command),
queue the output write, then issue the segments' data reads back to back (the reader keeps
``outstanding`` bursts in flight across commands) while starting the engine as soon as it is idle,
then fetch the next tile's descriptor.  The next tile's first data reads are issued while this
tile still computes, so up to ``outstanding`` bursts of its input wait at the engine's input
(double buffering in the stream); a tile's data reaches the engine only after its own start.  The segment completes when the last tile's output has every
write response.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .axi import LEN_BITS, BeatsToWords, Cmd, WordsToBeats, beat_stride
from .layout import LayerConfig
from .params import PEArrayParams

MAX_SEGS = 64            # read segments per tile (the segment table is a 64 x 64-bit LUT-RAM)
CFG_BITS = 77            # LayerConfig's packed width
NSEG_LO, LAST_BIT, FENCE_BIT = 80, 88, 89

Route = data.StructLayout({"eng": 1, "first": 1, "n": LEN_BITS})


class Sequencer(wiring.Component):
    def __init__(self, p: PEArrayParams):
        self.p = p
        W = p.axi_data_bits
        super().__init__({
            "go": In(1), "desc_base": In(32), "running": Out(1), "done": Out(1), "tile_done": Out(1),
            # the AXI engines' command and data streams (rtl.axi)
            "rd_cmd": Out(stream.Signature(Cmd)), "rd_data": In(stream.Signature(W)),
            "wr_cmd": Out(stream.Signature(Cmd)), "wr_data": Out(stream.Signature(W)), "wr_idle": In(1),
            # the layer engine (rtl.layout interface)
            "cfg": Out(LayerConfig), "start": Out(1), "busy": In(1),
            "s_data": Out(8 * p.in_bytes), "s_valid": Out(1), "s_ready": In(1),
            "m_data": In(8 * p.out_bytes), "m_valid": In(1), "m_ready": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.p
        WB = p.axi_data_bits // 8
        SI, SO = beat_stride(p.in_bytes), beat_stride(p.out_bytes)

        m.submodules.route = route = SyncFIFOBuffered(width=Route.size, depth=MAX_SEGS + 4)
        m.submodules.w2b = w2b = WordsToBeats(p, p.in_bytes)
        m.submodules.b2w = b2w = BeatsToWords(p, p.out_bytes)
        m.submodules.ocmd = ocmd = SyncFIFOBuffered(width=64, depth=2)
        segmem = Memory(shape=64, depth=MAX_SEGS, init=[])
        m.submodules.segmem = segmem
        sw, sr = segmem.write_port(), segmem.read_port()

        # ---- read demux: the route FIFO says whose words come next
        head = Signal(Route)
        m.d.comb += head.eq(route.r_data)
        armed = Signal()            # the engine was started for a tile whose first segment is not yet routed
        seq_words = Signal(LEN_BITS)    # descriptor words still expected by the sequencer
        seq_word = Signal(p.axi_data_bits)
        seq_take = Signal()
        # engine segments: hand the head's beat count to the converter when it is free
        eng_go = Signal()
        m.d.comb += eng_go.eq(route.r_rdy & head.eng & (~head.first | armed) & w2b.count.ready & (seq_words == 0))
        seq_go = Signal()
        m.d.comb += seq_go.eq(route.r_rdy & ~head.eng & w2b.count.ready & (seq_words == 0))
        m.d.comb += [w2b.count.valid.eq(eng_go), w2b.count.payload.eq(head.n), route.r_en.eq(eng_go | seq_go)]
        with m.If(eng_go & head.first):
            m.d.sync += armed.eq(0)
        with m.If(seq_go):
            m.d.sync += seq_words.eq(head.n)
        to_seq = seq_words != 0
        m.d.comb += [
            w2b.i.valid.eq(self.rd_data.valid & ~to_seq), w2b.i.payload.eq(self.rd_data.payload),
            self.rd_data.ready.eq(Mux(to_seq, 1, w2b.i.ready)),
            seq_take.eq(self.rd_data.valid & to_seq), seq_word.eq(self.rd_data.payload),
            self.s_valid.eq(w2b.o.valid), self.s_data.eq(w2b.o.payload), w2b.o.ready.eq(self.s_ready),
        ]
        with m.If(seq_take):
            m.d.sync += seq_words.eq(seq_words - 1)

        # ---- write side: one output command per tile
        wstate = Signal()
        oaddr, obeats = ocmd.r_data[:32], ocmd.r_data[32:64]
        m.d.comb += [b2w.i.valid.eq(self.m_valid), b2w.i.payload.eq(self.m_data), self.m_ready.eq(b2w.i.ready),
                     self.wr_data.valid.eq(b2w.o.valid), self.wr_data.payload.eq(b2w.o.payload),
                     b2w.o.ready.eq(self.wr_data.ready)]
        wgo = Signal()
        m.d.comb += [wgo.eq(ocmd.r_rdy & self.wr_cmd.ready & b2w.count.ready),
                     self.wr_cmd.valid.eq(wgo), self.wr_cmd.payload.addr.eq(oaddr),
                     self.wr_cmd.payload.n.eq((obeats * SO + WB - 1) // WB),
                     b2w.count.valid.eq(wgo), b2w.count.payload.eq(obeats), ocmd.r_en.eq(wgo)]
        writes_done = Signal()
        m.d.comb += writes_done.eq(~ocmd.r_rdy & b2w.idle & self.wr_idle)

        # ---- sequencer FSM
        ptr = Signal(32)
        hdr0 = Signal(p.axi_data_bits)
        hdr1 = Signal(64)
        nseg = Signal(8)
        got = Signal(range(MAX_SEGS + 2))
        j = Signal(range(MAX_SEGS + 1))
        cfg_q = Signal(LayerConfig)
        started = Signal()          # a tile was started and has not yet been seen busy/finished
        m.d.comb += self.cfg.eq(cfg_q)

        rfire = Signal()
        m.d.comb += rfire.eq(self.rd_cmd.valid & self.rd_cmd.ready)
        rentry = Signal(Route)
        m.d.comb += [route.w_data.eq(rentry), route.w_en.eq(rfire)]
        segw = Signal(64)
        m.d.comb += segw.eq(sr.data)
        eng_idle = ~self.busy & ~started & ~armed

        with m.If(started):
            m.d.sync += started.eq(0)       # busy rises the cycle after start
        tstarted = Signal()         # the current tile's engine start was given

        def start_tile():
            with m.If(eng_idle & ~tstarted):
                m.d.comb += self.start.eq(1)
                m.d.sync += [cfg_q.eq(hdr0[:CFG_BITS]), started.eq(1), armed.eq(1), tstarted.eq(1)]

        def next_tile():
            m.d.sync += tstarted.eq(0)
            with m.If(hdr0[LAST_BIT]):
                m.next = "FINISH"
            with m.Else():
                m.next = "HDR"
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.go):
                    m.d.sync += [ptr.eq(self.desc_base), self.running.eq(1)]
                    m.next = "HDR"
            with m.State("HDR"):
                m.d.comb += [self.rd_cmd.valid.eq(route.w_rdy), self.rd_cmd.payload.addr.eq(ptr),
                             self.rd_cmd.payload.n.eq(2), rentry.eng.eq(0), rentry.n.eq(2)]
                with m.If(rfire):
                    m.d.sync += [got.eq(0), ptr.eq(ptr + 2 * WB)]
                    m.next = "HDR_WAIT"
            with m.State("HDR_WAIT"):
                with m.If(seq_take):
                    m.d.sync += got.eq(got + 1)
                    with m.If(got == 0):
                        m.d.sync += hdr0.eq(seq_word)
                    with m.Else():
                        m.d.sync += [hdr1.eq(seq_word[:64]), nseg.eq(hdr0[NSEG_LO:NSEG_LO + 8])]
                        m.next = "SEGS"
            with m.State("SEGS"):
                m.d.comb += [self.rd_cmd.valid.eq(route.w_rdy), self.rd_cmd.payload.addr.eq(ptr),
                             self.rd_cmd.payload.n.eq(nseg), rentry.eng.eq(0), rentry.n.eq(nseg)]
                with m.If(rfire):
                    m.d.sync += [got.eq(0), ptr.eq(ptr + nseg * WB)]
                    m.next = "SEGS_WAIT"
            with m.State("SEGS_WAIT"):
                m.d.comb += [sw.en.eq(seq_take), sw.addr.eq(got), sw.data.eq(seq_word[:64])]
                with m.If(seq_take):
                    m.d.sync += got.eq(got + 1)
                    with m.If(got == nseg - 1):
                        m.d.sync += j.eq(0)
                        m.next = "FENCE"
            with m.State("FENCE"):
                with m.If(~hdr0[FENCE_BIT] | (eng_idle & writes_done)):
                    m.next = "OUT"
            with m.State("OUT"):
                m.d.comb += [ocmd.w_en.eq(1), ocmd.w_data.eq(hdr1), sr.addr.eq(0)]
                with m.If(ocmd.w_rdy):
                    m.next = "ISSUE"
            with m.State("ISSUE"):      # sr.data holds segment j; the engine starts as soon as it is idle
                start_tile()
                m.d.comb += [self.rd_cmd.valid.eq(route.w_rdy), self.rd_cmd.payload.addr.eq(segw[:32]),
                             self.rd_cmd.payload.n.eq((segw[32:64] * SI + WB - 1) // WB),
                             rentry.eng.eq(1), rentry.first.eq(j == 0), rentry.n.eq(segw[32:56]),
                             sr.addr.eq(j)]
                with m.If(rfire):
                    m.d.comb += sr.addr.eq(j + 1)
                    m.d.sync += j.eq(j + 1)
                    with m.If(j == nseg - 1):
                        with m.If(tstarted | self.start):
                            next_tile()
                        with m.Else():
                            m.next = "START"
            with m.State("START"):
                start_tile()
                with m.If(self.start):
                    next_tile()
            with m.State("FINISH"):
                with m.If(eng_idle & writes_done):
                    m.d.comb += self.done.eq(1)
                    m.d.sync += self.running.eq(0)
                    m.next = "IDLE"
        # cfg goes to the engine in the cycle of start (the engine samples it then)
        with m.If(self.start):
            m.d.comb += self.cfg.eq(hdr0[:CFG_BITS])
        # a tile is done when the engine drops busy
        busy_q = Signal()
        m.d.sync += busy_q.eq(self.busy)
        m.d.comb += self.tile_done.eq(busy_q & ~self.busy)
        return m
