"""TCP super-frames by reference (NC_CAP_TX_REF): to a port with TCP
segmentation offload, tcp_send_new hands several segments' new data as one
frame whose payload stays in the send window. What reaches the wire must be
exactly what TCP sends without the offload: each test runs one script twice
on TcbHarness, with tso=False and with tso=True (the capture port then cuts
super-frames as a NIC would), and compares the segments byte for byte,
dissected with scapy."""
from scapy.all import TCP
from test_tcb_unit import IRS, ISS, MS, MSS, T0, seg    # the same harness's conventions

from netchan._testing import TcbHarness


def pattern(n, salt=0):
    return bytes((i * 7 + salt) & 0xFF for i in range(n))


def both(script, **kw):
    """Run script(h) -> list of dispatch outputs on a harness without and
    with TSO; assert the wire is the same; return the TSO harness's
    counters and the segments (scapy)."""
    runs = {}
    for tso in (False, True):
        h = TcbHarness(tso=tso, **kw)
        runs[tso] = (script(h), h.counters)
    plain, cut = runs[False][0], runs[True][0]
    assert [len(d) for d in cut] == [len(d) for d in plain]
    for i, (a, b) in enumerate(zip(plain, cut)):
        for j, (x, y) in enumerate(zip(a, b)):
            assert x == y, f"dispatch {i} segment {j}: {TCP(x).summary()} vs {TCP(y).summary()}"
    assert runs[False][1].get("tcp_tso_frames", 0) == 0
    assert runs[True][1].get("tcp_over_mtu", 0) == 0
    return runs[True][1], [[TCP(s) for s in d] for d in cut]


def acked_bulk(h, total, win=65535, step=MS):
    """Write total bytes as the send window takes them, and ACK everything
    sent, dispatch by dispatch."""
    outs = []
    now = T0
    data = pattern(total)
    written = h.send(data)
    while True:
        now += step
        out = h.dispatch(now)
        outs.append(out)
        if not out and written == total:
            return outs
        h.feed(seg(ack=h.snd_nxt, win=win), now)
        written += h.send(data[written:])


def test_bulk_goes_as_super_frames_and_the_same_segments():
    def script(h):
        return acked_bulk(h, 300_000, win=65535)
    ctr, outs = both(script, snd_wscale=4, rcv_wscale=4, sndbuf=1 << 20)
    segs = [s for d in outs for s in d]
    assert b"".join(bytes(s.payload) for s in segs) == pattern(300_000)
    assert all(len(s.payload) <= MSS for s in segs)
    assert ctr["tcp_tso_frames"] > 0
    assert ctr["tcp_tso_segments"] >= 4 * ctr["tcp_tso_frames"]
    # PSH only where the data written ran out (the last segment of all)
    assert [s.seq for s in segs if "P" in str(s.flags)] == [segs[-1].seq]


def test_nagle_holds_the_short_tail_of_a_super_frame():
    """3 full segments and 100 bytes, idle: the full ones go (one frame);
    the tail waits for their ACK, as it would segment by segment."""
    def script(h):
        h.send(pattern(3 * MSS + 100))
        first = h.dispatch(T0 + MS)
        h.feed(seg(ack=ISS + 1 + 3 * MSS), T0 + 2 * MS)
        return [first, h.dispatch(T0 + 2 * MS)]
    ctr, (first, second) = both(script, nodelay=False)
    assert [len(s.payload) for s in first] == [MSS] * 3
    assert [len(s.payload) for s in second] == [100]
    assert ctr["tcp_tso_frames"] == 1 and ctr["tcp_tso_segments"] == 3


def test_nodelay_sends_the_tail_in_the_frame_with_psh_on_it():
    def script(h):
        h.send(pattern(3 * MSS + 100))
        return [h.dispatch(T0 + MS)]
    ctr, [out] = both(script, nodelay=True)
    assert [len(s.payload) for s in out] == [MSS, MSS, MSS, 100]
    assert [str(s.flags) for s in out] == ["A", "A", "A", "PA"]
    assert ctr["tcp_tso_segments"] == 4


def test_fin_rides_on_the_last_segment_only():
    def script(h):
        h.send(pattern(5 * MSS))
        h.shutdown()
        return [h.dispatch(T0 + MS)]
    ctr, [out] = both(script)
    assert [str(s.flags) for s in out] == ["A"] * 4 + ["FPA"]
    assert ctr["tcp_tso_frames"] == 1


def test_peer_window_caps_the_frame():
    """A 5000-byte window: three segments, the 620-byte rest held (Nagle:
    under half the largest window seen), exactly as without TSO."""
    def script(h):
        h.send(pattern(20 * MSS))
        return [h.dispatch(T0 + MS)]
    ctr, [out] = both(script, snd_wnd=5000)
    assert [len(s.payload) for s in out] == [MSS] * 3


def test_sack_blocks_shrink_every_segment_of_the_frame():
    """Holding out-of-order data, each data segment carries SACK blocks: the
    frame's segment size is the smaller data room, nothing over the MTU."""
    def script(h):
        now = T0 + MS
        outs = []
        for k in (2, 4, 6):
            h.feed(seg("A", seq=IRS + 1 + k * 100, data=b"x" * 100), now)
        outs.append(h.dispatch(now))
        h.send(pattern(8 * MSS))
        outs.append(h.dispatch(now + MS))
        return outs
    ctr, (acks, out) = both(script, sack=True, ts_recent=1)
    sizes = [len(s.payload) for s in out]
    assert sizes and max(sizes) < MSS - 12 and sizes[0] == sizes[1]
    assert all(dict(s.options).get("SAck") for s in out)
    assert ctr["tcp_tso_frames"] >= 1


def test_payload_wraps_the_send_ring_intact():
    """A 64 KiB send window written and acknowledged many times over: super
    frames start anywhere in the ring and run past its end (the window is
    mapped twice, back to back), and every byte arrives as written."""
    def script(h):
        return acked_bulk(h, 200_000 + 333, win=65535, step=MS)
    ctr, outs = both(script, sndbuf=65536)
    segs = [s for d in outs for s in d]
    assert b"".join(bytes(s.payload) for s in segs) == pattern(200_000 + 333)
    assert ctr["tcp_tso_frames"] > 4


def test_retransmissions_after_an_rto_are_single_segments():
    def script(h):
        h.send(pattern(10 * MSS))
        outs = [h.dispatch(T0 + MS)]
        deadline = h.timers["rexmt"]
        h.tick(deadline)
        outs.append(h.dispatch(deadline))
        h.feed(seg(ack=ISS + 1 + MSS), deadline + MS)     # the resent one arrived
        outs.append(h.dispatch(deadline + MS))
        return outs
    ctr, (first, rto, after) = both(script)
    assert len(first) == 10 and len(rto) == 1 and rto[0].seq == ISS + 1
    assert ctr["tcp_tso_frames"] == 1           # the first flight only
    assert ctr["tcp_retransmits"] >= 1
