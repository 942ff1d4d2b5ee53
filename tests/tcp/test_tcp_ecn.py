"""RFC 3168 ECN, Stack(ecn=True) (off by default): the handshake's
negotiation, ECT(0) on new data only, CE echoed as ECE until CWR, and the
sender's response: a loss's reduction, once per window, then CWR."""
import pytest
from scapy.all import IP, TCP, Ether

from netchan._testing import debug_tcb_set

from tcp_harness import IRS, ISS, LOCAL_IP, LOCAL_PORT, PEER_IP, PEER_PORT, options
from tcp_tools import MSS, ack, counter, send_segments
from test_tcp_isn_cookies import full_listener

ECT0, CE = 2, 3


def ecn_peer(make_peer, **kw):
    return make_peer(ecn=True, delayed_ack=0, **kw)


def test_syn_offers_ecn_with_ece_and_cwr(make_peer):
    peer = ecn_peer(make_peer)
    listener = peer.stack.listen(LOCAL_PORT)
    peer.send("SEC", seq=IRS, ack=None)
    synack = peer.expect()
    assert str(synack.flags) == "SAE"                    # ECE alone accepts
    assert synack.underlayer.tos & 3 == 0                # a SYN-ACK is not ECN-capable
    assert counter(peer.stack, "tcp_ecn_negotiated") == 1
    listener.close()


def test_syn_without_the_offer_gets_no_ece(make_peer):
    peer = ecn_peer(make_peer)
    listener = peer.stack.listen(LOCAL_PORT)
    peer.send("S", seq=IRS, ack=None)
    assert str(peer.expect().flags) == "SA"
    listener.close()


def test_ecn_off_ignores_the_offer(make_peer):
    peer = make_peer()
    listener = peer.stack.listen(LOCAL_PORT)
    peer.send("SEC", seq=IRS, ack=None)
    assert str(peer.expect().flags) == "SA"
    listener.close()


def handshake_ecn(peer):
    """A passive ECN connection, accepted; returns (conn, our ISS)."""
    listener = peer.stack.listen(LOCAL_PORT)
    peer.send("SEC", seq=IRS, ack=None)
    iss = peer.expect().seq
    peer.send("A", seq=IRS + 1, ack=iss + 1)
    conn = listener.accept(timeout=0)
    peer.held.append(listener)
    return conn, iss


def data_from_peer(peer, iss, off, n=100, tos=0, flags="PA"):
    pkt = (Ether(dst=peer.stack.mac, src=peer.mac) / IP(src=PEER_IP, dst=LOCAL_IP, tos=tos) /
           TCP(sport=PEER_PORT, dport=LOCAL_PORT, flags=flags, seq=IRS + 1 + off, ack=iss + 1,
               window=65535) / (b"d" * n))
    peer.send_raw(pkt)


def test_new_data_is_ect0_and_pure_acks_are_not(make_peer):
    peer = ecn_peer(make_peer)
    conn, iss = handshake_ecn(peer)
    conn.send(b"x" * 100)
    seg = peer.expect("PA")
    assert seg.underlayer.tos & 3 == ECT0
    data_from_peer(peer, iss, 0)
    assert peer.expect("A").underlayer.tos & 3 == 0


def test_retransmission_is_not_ect(make_peer):
    peer = ecn_peer(make_peer)
    conn, iss = handshake_ecn(peer)
    conn.send(b"x" * 100)
    peer.recv()
    peer.advance(1.0)                                   # RTO
    seg = peer.expect("PA")
    assert seg.underlayer.tos & 3 == 0


def test_zero_window_probe_is_not_ect(make_peer):
    """RFC 3168 6.1.6: a window probe (the byte beyond a zero window) may be
    dropped rather than marked, so it is not ECN-capable; data once the
    window opens is."""
    peer = ecn_peer(make_peer)
    conn, iss = handshake_ecn(peer)
    data_from_peer(peer, iss, 0, n=0, flags="A")        # (window 65535 first: max_snd_wnd)
    pkt = (Ether(dst=peer.stack.mac, src=peer.mac) / IP(src=PEER_IP, dst=LOCAL_IP) /
           TCP(sport=PEER_PORT, dport=LOCAL_PORT, flags="A", seq=IRS + 1, ack=iss + 1, window=0))
    peer.send_raw(pkt)
    conn.send(b"p" * 500)
    assert peer.recv() == []
    peer.advance(1.0)                                   # the persist timer
    probe = peer.expect("A", seq=iss + 1)
    assert len(bytes(probe.payload)) == 1 and probe.underlayer.tos & 3 == 0
    assert counter(peer.stack, "tcp_persist_probes") == 1


def test_ce_is_echoed_as_ece_until_cwr(make_peer):
    peer = ecn_peer(make_peer)
    conn, iss = handshake_ecn(peer)
    data_from_peer(peer, iss, 0, tos=CE)
    assert "E" in str(peer.expect().flags)
    assert counter(peer.stack, "tcp_ecn_ce_seen") == 1
    data_from_peer(peer, iss, 100, tos=ECT0)
    assert "E" in str(peer.expect().flags)              # still, until CWR
    data_from_peer(peer, iss, 200, tos=ECT0, flags="PAC")
    assert "E" not in str(peer.expect().flags)


def test_ece_reduces_once_per_window_and_cwr_follows(make_peer):
    peer = ecn_peer(make_peer)
    conn, iss = handshake_ecn(peer)
    conn.send(bytes(4 * MSS))
    peer.recv()
    cwnd = conn.cwnd
    peer.send("AE", seq=IRS + 1, ack=iss + 1 + MSS)
    assert conn.cwnd < cwnd and conn.cwnd == conn.ssthresh
    assert counter(peer.stack, "tcp_ecn_reductions") == 1
    reduced = conn.cwnd
    peer.send("AE", seq=IRS + 1, ack=iss + 1 + 2 * MSS)  # same window: no second cut
    assert counter(peer.stack, "tcp_ecn_reductions") == 1
    peer.recv()
    conn.send(bytes(MSS))
    segs = [s for s in peer.recv() if len(s.payload)]
    assert "C" in str(segs[0].flags)                     # CWR on the next new data
    assert counter(peer.stack, "tcp_retransmits") == 0


def test_ece_is_answered_after_2_to_the_31_bytes_without_one(make_peer):
    """The once-per-window mark follows SND.UNA: an ECE long after the last
    one still reduces (a mark left 2^31 behind would read as ahead)."""
    peer = ecn_peer(make_peer)
    conn, iss = handshake_ecn(peer)
    debug_tcb_set(conn, ecn_recover=iss + 1 - (2**31 - 2 * MSS))
    conn.send(bytes(4 * MSS))
    peer.recv()
    peer.send("A", seq=IRS + 1, ack=iss + 1 + MSS)       # within 2^31 of the mark
    cwnd = conn.cwnd
    peer.send("AE", seq=IRS + 1, ack=iss + 1 + 3 * MSS)  # 2^31 + MSS past it
    assert counter(peer.stack, "tcp_ecn_reductions") == 1
    assert conn.cwnd < cwnd


def test_ece_is_ignored_without_negotiation(peer):
    conn = peer.established()
    send_segments(peer, conn, 4)
    cwnd = conn.cwnd
    peer.send("AE", seq=IRS + 1, ack=ISS + 1 + MSS)
    assert conn.cwnd >= cwnd


def test_ecn_option_is_checked():
    from netchan.config import stack_config
    with pytest.raises(TypeError, match="ecn=1: expected True or False"):
        stack_config(ecn=1)
    assert stack_config().ecn is False


# ---- SYN cookies: the acceptance rides in the SYN-ACK's TSval -------------------------

def cookie_synack(peer, ecn_offer=True, timestamps=True):
    """Fill the listener's SYN queue, then a SYN that gets a cookie."""
    full_listener(peer)
    opts = [("MSS", 1460)] + ([("Timestamp", (77, 0))] if timestamps else [])
    peer.send("SEC" if ecn_offer else "S", seq=IRS, ack=None, options=opts)
    synack = peer.expect(ack=IRS + 1)
    assert counter(peer.stack, "tcp_syncookies_sent") == 1
    return synack


def complete_cookie(peer, synack, echo=None):
    """The peer's ACK; with timestamps it echoes the SYN-ACK's TSval (or `echo`)."""
    tsval = options(synack).get("Timestamp", (None,))[0]
    opts = None
    if tsval is not None:
        opts = [("Timestamp", (78, tsval if echo is None else echo))]
    peer.send("A", seq=IRS + 1, ack=synack.seq + 1, options=opts)
    conn = peer.listener.accept(timeout=0)
    assert counter(peer.stack, "tcp_syncookies_ok") == 1
    return conn


def test_cookie_with_timestamps_keeps_ecn_in_the_tsval(make_peer):
    peer = ecn_peer(make_peer)
    synack = cookie_synack(peer)
    assert str(synack.flags) == "SAE"                   # accepted, as without cookies
    tsval = options(synack)["Timestamp"][0]
    assert tsval & 1 == 1 and tsval <= peer.clock.now_ns // 1000000
    conn = complete_cookie(peer, synack)
    assert counter(peer.stack, "tcp_ecn_negotiated") == 1
    conn.send(b"x" * 100)
    seg = peer.expect("PA")
    assert seg.underlayer.tos & 3 == ECT0
    assert options(seg)["Timestamp"][0] >= tsval       # the clock never went back (PAWS)


def test_cookie_ack_echoing_an_even_tsval_has_no_ecn(make_peer):
    peer = ecn_peer(make_peer)
    synack = cookie_synack(peer, ecn_offer=False)
    assert str(synack.flags) == "SA"
    assert options(synack)["Timestamp"][0] & 1 == 0
    conn = complete_cookie(peer, synack)
    conn.send(b"x" * 100)
    assert peer.expect("PA").underlayer.tos & 3 == 0
    assert counter(peer.stack, "tcp_ecn_negotiated") == 0


def test_cookie_without_timestamps_cannot_carry_ecn_and_does_not_accept_it(make_peer):
    """No TSval to keep the answer in: the SYN-ACK says no (no ECE), so the
    peer knows, and the connection runs without ECN."""
    peer = ecn_peer(make_peer)
    synack = cookie_synack(peer, timestamps=False)
    assert str(synack.flags) == "SA"
    conn = complete_cookie(peer, synack)
    assert not conn.info()["timestamps"]
    conn.send(b"x" * 100)
    assert peer.expect("PA").underlayer.tos & 3 == 0
    assert counter(peer.stack, "tcp_ecn_negotiated") == 0


def test_cookie_with_ecn_off_ignores_the_offer(make_peer):
    peer = make_peer()
    synack = cookie_synack(peer)
    assert str(synack.flags) == "SA"
    complete_cookie(peer, synack, echo=options(synack)["Timestamp"][0] | 1)
    assert counter(peer.stack, "tcp_ecn_negotiated") == 0
