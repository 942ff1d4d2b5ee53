"""RFC 7323: window scaling (negotiation, the shift on SEG.WND both ways,
never in SYNs, the cap at 14) and timestamps (echo rules, RTT measurement
from TSecr, PAWS)."""
import pytest

from tcp_harness import IRS, ISS, LOCAL_PORT, options, payload
from tcp_tools import MSS, ack, counter, send_segments, ts  # noqa: F401

SYN_OPTS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (7, 0)), ("NOP", None), ("WScale", 7)]


def handshake(peer, syn_opts, win=65535, ack_win=None, ack_opts=None):
    """Passive open through the listener; returns (SYN-ACK, accepted connection)."""
    listener = peer.stack.listen(LOCAL_PORT)
    peer.send("S", seq=IRS, ack=None, win=win, options=syn_opts)
    synack = peer.expect("SA", ack=IRS + 1)
    peer.send("A", seq=IRS + 1, ack=synack.seq + 1, win=ack_win if ack_win is not None else win,
              options=ack_opts)
    return synack, listener.accept(timeout=0)


# ---- window scale -----------------------------------------------------------------

def test_synack_offers_window_scale_when_the_syn_did(peer):
    synack, conn = handshake(peer, SYN_OPTS)
    assert "WScale" in options(synack)
    assert conn.info()["snd_wscale"] == 7
    assert conn.info()["rcv_wscale"] == options(synack)["WScale"] > 0


def test_window_in_syn_and_synack_is_not_scaled(peer):
    listener = peer.stack.listen(LOCAL_PORT)
    peer.send("S", seq=IRS, ack=None, win=1000, options=SYN_OPTS)
    synack = peer.expect("SA")
    assert synack.window == 65535                   # our 1 MiB, capped, unscaled
    peer.send("A", seq=IRS + 1, ack=synack.seq + 1, win=1000)
    conn = listener.accept(timeout=0)
    assert conn.info()["snd_wnd"] == 1000 << 7      # the ACK's window is scaled


def test_our_window_is_scaled_down_by_our_shift(peer):
    conn = peer.established(snd_wscale=7, rcv_wscale=7)
    peer.send("PA", seq=IRS + 1, ack=ISS + 1, data=b"x" * 1000)
    peer.advance(0.04)
    seg = peer.expect("A", ack=IRS + 1001)
    assert seg.window == ((1 << 20) - 1000) >> 7
    assert conn.readable == 1000


def test_peer_window_is_scaled_up_by_its_shift(peer):
    conn = peer.established(snd_wscale=2, rcv_wscale=0)
    ack(peer, ISS + 1, win=730)                     # 730 << 2 = 2 segments
    assert conn.info()["snd_wnd"] == 2920
    segs = send_segments(peer, conn, 5)
    assert sum(len(payload(s)) for s in segs) == 2920


def test_shift_above_14_is_taken_as_14(peer):
    synack, conn = handshake(peer, [("MSS", 1460), ("WScale", 15)], ack_win=1)
    assert conn.info()["snd_wscale"] == 14
    assert conn.info()["snd_wnd"] == 1 << 14


def test_no_window_scale_when_the_peer_does_not_offer_it(peer):
    synack, conn = handshake(peer, [("MSS", 1460), ("SAckOK", b"")])
    assert "WScale" not in options(synack)
    assert conn.info()["snd_wscale"] is None and conn.info()["rcv_wscale"] is None
    peer.send("PA", seq=IRS + 1, ack=synack.seq + 1, data=b"x" * 10)
    peer.advance(0.04)
    assert peer.expect("A").window == 65535         # 1 MiB free, unscaled, capped


def test_no_window_scale_when_our_synack_has_none(peer):
    """Active open: our SYN offered a shift, the SYN-ACK did not: neither applies."""
    conn = peer.connection("SYN_SENT", rcv_wscale=5)
    peer.send("SA", seq=IRS, ack=ISS + 1, win=1000, options=[("MSS", 1460)])
    seg = peer.expect("A", ack=IRS + 1)
    assert seg.window == 65535 and peer.tcb(conn)["rcv_wscale"] == 0
    ack(peer, ISS + 1, win=1000)
    assert conn.info()["snd_wnd"] == 1000


def test_window_scaling_off_in_the_stack(make_peer):
    peer = make_peer(window_scaling=False)
    synack, conn = handshake(peer, SYN_OPTS, ack_win=1000)
    assert "WScale" not in options(synack)
    assert conn.info()["snd_wnd"] == 1000


# ---- timestamps: negotiation and echo ------------------------------------------------

def test_synack_echoes_the_syn_tsval(peer):
    synack, conn = handshake(peer, SYN_OPTS, ack_opts=[ts(8, 0)])
    assert options(synack)["Timestamp"][1] == 7
    assert conn.info()["timestamps"] and conn.mss == 1460 - 12


def test_no_timestamps_unless_the_syn_had_them(peer):
    synack, conn = handshake(peer, [("MSS", 1460), ("WScale", 7)])
    assert "Timestamp" not in options(synack)
    conn.send(b"x" * 10)
    assert "Timestamp" not in options(peer.expect("PA"))
    assert conn.mss == 1460


def test_every_segment_carries_tsval_and_the_echo(peer):
    conn = peer.established(ts_recent=500)
    segs = send_segments(peer, conn, 2, size=1448)
    for s in segs:
        val, ecr = options(s)["Timestamp"]
        assert ecr == 500 and val == peer.clock.now_ns // 1_000_000
    assert [len(payload(s)) for s in segs] == [1448, 1448]     # MSS less the option


def test_tsecr_echoes_the_latest_tsval_when_each_segment_is_acked(peer):
    peer.established(ts_recent=500, quickack=2)
    peer.send("PA", seq=IRS + 1, ack=ISS + 1, data=b"a" * 10, options=[ts(600)])
    assert options(peer.expect("A", ack=IRS + 11))["Timestamp"][1] == 600
    peer.send("PA", seq=IRS + 11, ack=ISS + 1, data=b"b" * 10, options=[ts(601)])
    assert options(peer.expect("A", ack=IRS + 21))["Timestamp"][1] == 601


def test_delayed_ack_echoes_the_earliest_unacked_tsval(peer):
    """RFC 7323 4.3: TS.Recent follows only segments at or below
    Last.ACK.sent, so an ACK covering two segments echoes the first one's
    TSval and the peer's RTT sample includes the ACK delay."""
    peer.established(ts_recent=500)
    peer.send("PA", seq=IRS + 1, ack=ISS + 1, data=b"a" * 10, options=[ts(600)])
    peer.advance(0.04)
    peer.expect("A", ack=IRS + 11)                  # delayed ACK sent: Last.ACK.sent = 11
    peer.send("PA", seq=IRS + 11, ack=ISS + 1, data=b"b" * 10, options=[ts(700)])
    peer.send("PA", seq=IRS + 21, ack=ISS + 1, data=b"c" * 10, options=[ts(701)])
    assert options(peer.expect("A", ack=IRS + 31))["Timestamp"][1] == 700


def test_out_of_order_segment_does_not_update_ts_recent(peer):
    """RFC 7323 4.3: only a segment at or below Last.ACK.sent may update
    TS.Recent; the ACK for out-of-order data echoes the older value."""
    conn = peer.established(ts_recent=500)
    peer.send("PA", seq=IRS + 101, ack=ISS + 1, data=b"z" * 10, options=[ts(700)])
    assert options(peer.expect("A", ack=IRS + 1))["Timestamp"][1] == 500
    assert peer.tcb(conn)["ts_recent"] == 500


# ---- RTT from timestamps (RFC 7323 4) -------------------------------------------------

def test_rtt_is_measured_from_tsecr(make_peer):
    peer = make_peer(rto_min=0.01)
    conn = peer.established(ts_recent=500)
    tsval = options(send_segments(peer, conn, 1)[0])["Timestamp"][0]
    peer.advance(0.2)
    ack(peer, ISS + 1 + 1448, options=[ts(501, tsval)])
    assert conn.srtt == pytest.approx(0.2)


def test_timestamps_give_a_sample_even_for_a_retransmission(make_peer):
    """The retransmission carries a new TSval, so its echo is unambiguous
    (no Karn's rule needed)."""
    peer = make_peer(rto_min=0.01)
    conn = peer.established(ts_recent=500)
    send_segments(peer, conn, 1)
    peer.advance(1)
    tsval = options(peer.expect("A"))["Timestamp"][0]
    peer.advance(0.07)
    ack(peer, ISS + 1 + 1448, options=[ts(501, tsval)])
    assert conn.srtt == pytest.approx(0.07)


# ---- PAWS (RFC 7323 5) ---------------------------------------------------------------

def test_paws_drops_an_old_tsval_and_acks(peer):
    conn = peer.established(ts_recent=500)
    peer.send("PA", seq=IRS + 1, ack=ISS + 1, data=b"old", options=[ts(499)])
    seg = peer.expect("A", ack=IRS + 1)
    assert options(seg)["Timestamp"][1] == 500
    assert conn.readable == 0
    assert counter(peer.stack, "tcp_paws_dropped") == 1


def test_paws_accepts_an_equal_tsval(peer):
    conn = peer.established(ts_recent=500)
    peer.send("PA", seq=IRS + 1, ack=ISS + 1, data=b"same", options=[ts(500)])
    assert conn.readable == 4 and counter(peer.stack, "tcp_paws_dropped") == 0


def test_paws_compares_tsval_modulo_2_32(peer):
    conn = peer.established(ts_recent=0xFFFFFFF0)
    peer.send("PA", seq=IRS + 1, ack=ISS + 1, data=b"wrapped", options=[ts(0x10)])
    assert conn.readable == 7                       # 0x10 is after 0xFFFFFFF0
    assert peer.tcb(conn)["ts_recent"] == 0x10


def test_paws_ignores_the_acks_of_a_dropped_segment(peer):
    conn = peer.established(ts_recent=500)
    conn.send(b"x" * 100)
    peer.recv()
    peer.send("A", seq=IRS + 1, ack=ISS + 101, options=[ts(100)])
    peer.expect("A")                                # the PAWS answer
    assert conn.info()["unacked"] == 100


def test_rst_is_exempt_from_paws(peer):
    conn = peer.established(ts_recent=500)
    peer.send("R", seq=IRS + 1, ack=None, options=[ts(1)])
    assert conn.state == "CLOSED"
    with pytest.raises(ConnectionResetError):
        conn.recv(1)


def test_paws_trusts_no_ts_recent_older_than_24_days(peer):
    conn = peer.established(ts_recent=500)
    peer.advance(25 * 86400)
    peer.send("PA", seq=IRS + 1, ack=ISS + 1, data=b"late", options=[ts(100)])
    assert conn.readable == 4 and counter(peer.stack, "tcp_paws_dropped") == 0
