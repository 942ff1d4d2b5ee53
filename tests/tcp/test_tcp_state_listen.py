"""LISTEN (RFC 9293 3.10.7.2) and the SYN-ACK's option negotiation
(RFC 9293 3.7.1 MSS, RFC 7323 window scale and timestamps, RFC 2018 SACK)."""
import pytest

from tcp_harness import IRS, LOCAL_PORT, options, payload

MSS_OPTS = [("MSS", 1460)]
ALL_OPTS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (7, 0)), ("NOP", None),
            ("WScale", 7)]


@pytest.fixture
def listener(peer):
    return peer.stack.listen(LOCAL_PORT)


def syn(peer, opts=MSS_OPTS, **kw):
    kw.setdefault("seq", IRS)
    peer.send("S", ack=None, options=opts, **kw)


def test_rst_is_ignored(peer, listener):
    peer.send("R", seq=IRS, ack=None)
    peer.expect_nothing()
    assert peer.stack.n_connections == 0


def test_ack_gets_rst_at_seg_ack(peer, listener):
    peer.send("A", seq=IRS + 1, ack=31337)
    peer.expect("R", seq=31337)
    assert peer.stack.n_connections == 0


def test_synack_gets_rst(peer, listener):
    peer.send("SA", seq=IRS, ack=555)
    peer.expect("R", seq=555)


def test_fin_without_ack_is_dropped(peer, listener):
    # RFC 9293 3.10.7.2 "fourth": a segment without SYN, ACK or RST is
    # dropped (Linux discards it too); it cannot belong to any connection.
    peer.send("F", seq=IRS + 1, ack=None)
    peer.expect_nothing()


def test_syn_with_rst_is_ignored(peer, listener):
    peer.send("SR", seq=IRS, ack=None)
    peer.expect_nothing()
    assert peer.stack.n_connections == 0


def test_syn_gets_synack_acking_the_syn(peer, listener):
    syn(peer)
    sa = peer.expect("SA", ack=IRS + 1)
    assert payload(sa) == b""
    assert peer.stack.n_connections == 1


def test_synack_carries_our_mss_for_our_mtu(peer, listener):
    syn(peer, opts=[("MSS", 9000)])
    assert options(peer.expect("SA"))["MSS"] == 1460    # 1500 - 40


def test_peer_mss_clamps_our_segments(peer, listener):
    syn(peer, opts=[("MSS", 536)])
    iss = peer.expect("SA").seq
    peer.send("A", seq=IRS + 1, ack=iss + 1)
    conn = listener.accept(timeout=0)
    assert conn.mss == 536
    conn.nodelay = True             # the 464-byte tail goes without waiting (no Nagle)
    conn.send(b"x" * 1000)
    segs = peer.recv()
    assert [len(payload(s)) for s in segs] == [536, 464]


def test_syn_without_mss_means_536(peer, listener):
    syn(peer, opts=[])
    iss = peer.expect("SA").seq
    peer.send("A", seq=IRS + 1, ack=iss + 1)
    assert listener.accept(timeout=0).mss == 536      # RFC 9293 3.7.1 default


def test_no_options_offered_none_returned(peer, listener):
    syn(peer)
    opts = options(peer.expect("SA"))
    assert set(opts) == {"MSS"}


def test_window_scale_only_if_offered(peer, listener):
    syn(peer, opts=[("MSS", 1460), ("WScale", 2)])
    opts = options(peer.expect("SA"))
    assert "WScale" in opts and "SAckOK" not in opts and "Timestamp" not in opts


def test_sack_permitted_only_if_offered(peer, listener):
    syn(peer, opts=[("MSS", 1460), ("SAckOK", b"")])
    opts = options(peer.expect("SA"))
    assert "SAckOK" in opts and "WScale" not in opts and "Timestamp" not in opts


def test_timestamps_only_if_offered_and_echoed(peer, listener):
    syn(peer, opts=[("MSS", 1460), ("Timestamp", (4242, 0))])
    opts = options(peer.expect("SA"))
    assert opts["Timestamp"][1] == 4242
    assert "WScale" not in opts and "SAckOK" not in opts


def test_synack_window_is_unscaled(peer, listener):
    # 1 MiB of receive buffer: the SYN-ACK offers 65535 (RFC 7323 2.2: a SYN
    # window is never scaled), later segments the scaled value.
    syn(peer, opts=ALL_OPTS)
    sa = peer.expect("SA", win=65535)
    shift = options(sa)["WScale"]
    assert shift == 5
    peer.send("A", seq=IRS + 1, ack=sa.seq + 1, options=[("Timestamp", (8, 0))])
    conn = listener.accept(timeout=0)
    conn.send(b"x")
    seg = peer.expect("PA")
    assert seg.window == (1 << 20) >> shift


def test_peer_window_scale_applies_after_handshake(peer, listener):
    syn(peer, opts=[("MSS", 1460), ("WScale", 3)], win=1000)
    iss = peer.expect("SA").seq
    peer.send("A", seq=IRS + 1, ack=iss + 1, win=1000)
    conn = listener.accept(timeout=0)
    assert conn.info()["snd_wnd"] == 8000


def test_syn_data_is_not_acked_in_the_synack_but_delivered_after_the_handshake(peer, listener):
    # RFC 9293 3.10.7.2: text on a SYN is queued until ESTABLISHED (Linux
    # without TCP Fast Open drops it); the SYN-ACK acks only the SYN.
    syn(peer, data=b"early")
    iss = peer.expect("SA", ack=IRS + 1).seq
    peer.send("A", seq=IRS + 1, ack=iss + 1)
    peer.expect("A", ack=IRS + 6)                       # now it is acknowledged
    conn = listener.accept(timeout=0)
    assert conn.recv(100, timeout=0) == b"early"
    assert peer.stack.stats()["tcp_syn_data_queued"] == 1


def test_syn_data_sent_again_after_the_handshake_is_a_duplicate(peer, listener):
    """A client that did not see it acknowledged sends it again: one copy."""
    syn(peer, data=b"early")
    iss = peer.expect("SA", ack=IRS + 1).seq
    peer.send("PA", seq=IRS + 1, ack=iss + 1, data=b"early")
    peer.expect("A", ack=IRS + 6)
    peer.send("PA", seq=IRS + 6, ack=iss + 1, data=b"later")
    conn = listener.accept(timeout=0)
    assert conn.recv(100, timeout=0) == b"earlylater"


def test_syn_data_of_a_handshake_that_never_completes_is_not_delivered(peer, listener):
    syn(peer, data=b"early")
    peer.expect("SA", ack=IRS + 1)
    peer.send("R", seq=IRS + 1, ack=None)
    assert peer.stack.n_connections == 0


def test_retransmitted_syn_gets_the_same_synack(peer, listener):
    syn(peer)
    first = peer.expect("SA", ack=IRS + 1)
    syn(peer)
    again = peer.expect("SA", seq=first.seq, ack=IRS + 1)
    assert options(again) == options(first)
    assert peer.stack.n_connections == 1


def test_ack_of_synack_completes_and_accept_returns(peer, listener):
    iss = peer.handshake()
    conn = listener.accept(timeout=0)
    assert conn.state == "ESTABLISHED"
    assert peer.tcb(conn)["snd_una"] == (iss + 1) & 0xFFFFFFFF
    peer.expect_nothing()


def test_two_peers_get_two_connections(peer, listener):
    syn(peer, sport=40001)
    syn(peer, sport=40002)
    segs = peer.recv()
    assert sorted(s.dport for s in segs) == [40001, 40002]
    assert all(str(s.flags) == "SA" for s in segs)


def test_full_accept_queue_drops_new_syns(peer):
    # nobody is accepting: a new connection would only wait (Linux drops too)
    listener = peer.stack.listen(LOCAL_PORT, backlog=1)
    peer.handshake()
    syn(peer, sport=40001)
    peer.expect_nothing()
    assert listener.pending == 1 and peer.stack.n_connections == 1


def test_handshake_into_a_full_queue_is_reset_and_freed(peer):
    # (netchan refuses at once, like Linux with tcp_abort_on_overflow=1)
    listener = peer.stack.listen(LOCAL_PORT, backlog=1)
    syn(peer, sport=40001)
    syn(peer, sport=40002)
    a, b = sorted(peer.recv(), key=lambda s: s.dport)
    peer.send("A", seq=IRS + 1, ack=a.seq + 1, sport=40001)
    peer.send("A", seq=IRS + 1, ack=b.seq + 1, sport=40002)
    rst = peer.expect("RA", seq=b.seq + 1)
    assert rst.dport == 40002
    assert listener.pending == 1 and peer.stack.n_connections == 1


def test_data_on_the_handshake_ack_is_delivered(peer, listener):
    syn(peer)
    iss = peer.expect("SA").seq
    peer.send("PA", seq=IRS + 1, ack=iss + 1, data=b"GET /")
    conn = listener.accept(timeout=0)
    assert conn.recv(100, timeout=0) == b"GET /"


def test_fin_before_accept_is_seen_after_accept(peer, listener):
    iss = peer.handshake()
    peer.send("FA", seq=IRS + 1, ack=iss + 1)
    peer.expect("A", ack=IRS + 2)
    conn = listener.accept(timeout=0)
    assert conn.state == "CLOSE_WAIT" and conn.recv(10, timeout=0) == b""


def test_listener_close_resets_unaccepted(peer, listener):
    iss = peer.handshake()
    assert listener.pending == 1
    listener.close()
    peer.expect("RA", seq=iss + 1, ack=IRS + 1)
    assert peer.stack.n_connections == 0


def test_listener_close_refuses_half_open_when_its_ack_comes(peer, listener):
    syn(peer)
    iss = peer.expect("SA").seq
    listener.close()
    peer.send("A", seq=IRS + 1, ack=iss + 1)
    peer.expect("RA", seq=iss + 1, ack=IRS + 1)
    assert peer.stack.n_connections == 0


def test_port_closed_after_listener_close(peer, listener):
    listener.close()
    syn(peer)
    peer.expect("RA", seq=0, ack=IRS + 1)
