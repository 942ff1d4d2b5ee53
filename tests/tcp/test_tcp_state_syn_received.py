"""SYN_RECEIVED (RFC 9293 3.10.7.4 in that state): the peer's SYN (IRS) is
in, our SYN-ACK (ISS) is out and unacked. Built directly (passive, with no
listener) or through a real listener where accept() matters."""
import pytest

from tcp_harness import IRS, ISS, LOCAL_PORT, PEER_PORT


@pytest.fixture
def conn(peer):
    return peer.connection("SYN_RECEIVED")


@pytest.fixture
def listener(peer):
    return peer.stack.listen(LOCAL_PORT)


def half_open(peer):
    """A SYN to the listener; returns the stack's ISS from its SYN-ACK."""
    peer.send("S", seq=IRS, ack=None, options=[("MSS", 1460)])
    return peer.expect("SA", ack=IRS + 1).seq


def test_acceptable_ack_establishes_silently(peer, conn):
    peer.send("A", seq=IRS + 1, ack=ISS + 1)
    peer.expect_nothing()
    assert conn.state == "ESTABLISHED"


def test_ack_takes_the_peer_window(peer, conn):
    peer.send("A", seq=IRS + 1, ack=ISS + 1, win=1234)
    assert peer.tcb(conn)["snd_wnd"] == 1234


def test_ack_with_data_establishes_and_delivers(peer, conn):
    peer.send("PA", seq=IRS + 1, ack=ISS + 1, data=b"first")
    assert conn.state == "ESTABLISHED"
    assert conn.recv(100, timeout=0) == b"first"


def test_ack_with_fin_goes_to_close_wait(peer, conn):
    peer.send("FA", seq=IRS + 1, ack=ISS + 1)
    peer.expect("A", seq=ISS + 1, ack=IRS + 2)
    assert conn.state == "CLOSE_WAIT"


def test_fin_without_ack_is_dropped(peer, conn):
    # fifth step: "if the ACK bit is off, drop the segment and return"
    peer.send("F", seq=IRS + 1, ack=None)
    peer.expect_nothing()
    assert conn.state == "SYN_RECEIVED"


def test_ack_of_iss_gets_rst(peer, conn):
    # SND.UNA < SEG.ACK =< SND.NXT fails: <SEQ=SEG.ACK><CTL=RST>
    peer.send("A", seq=IRS + 1, ack=ISS)
    peer.expect("R", seq=ISS)
    assert conn.state == "SYN_RECEIVED"


def test_ack_above_snd_nxt_gets_rst(peer, conn):
    peer.send("A", seq=IRS + 1, ack=ISS + 100)
    peer.expect("R", seq=ISS + 100)
    assert conn.state == "SYN_RECEIVED"


def test_rst_at_rcv_nxt_closes_passive_silently(peer, conn):
    peer.send("R", seq=IRS + 1, ack=None)
    peer.expect_nothing()
    assert conn.state == "CLOSED"
    assert conn.recv(1, timeout=0) == b""      # passive: no error to report


def test_rst_in_window_gets_challenge(peer, conn):
    # RFC 5961 3.2; before our SYN is acked the only ACK we can send is the
    # SYN-ACK itself
    peer.send("R", seq=IRS + 100, ack=None)
    peer.expect("SA", seq=ISS, ack=IRS + 1)
    assert conn.state == "SYN_RECEIVED"


def test_rst_out_of_window_is_dropped(peer, conn):
    peer.send("R", seq=IRS + 1 + 2**20 + 10, ack=None)
    peer.expect_nothing()
    assert conn.state == "SYN_RECEIVED"


def test_retransmitted_syn_gets_synack_again(peer, conn):
    peer.send("S", seq=IRS, ack=None)
    peer.expect("SA", seq=ISS, ack=IRS + 1)
    assert conn.state == "SYN_RECEIVED"


def test_simultaneous_open_rst_refuses(peer):
    # an active open that went through SYN_RECEIVED reports the refusal
    conn = peer.connection("SYN_SENT")
    peer.send("S", seq=IRS, ack=None)
    peer.expect("SA")
    peer.send("R", seq=IRS + 1, ack=None)
    with pytest.raises(ConnectionRefusedError):
        conn.recv(1, timeout=0)


def test_passive_ack_reaches_accept(peer, listener):
    iss = half_open(peer)
    with pytest.raises(BlockingIOError):
        listener.accept(timeout=0)
    peer.send("A", seq=IRS + 1, ack=iss + 1)
    conn = listener.accept(timeout=0)
    assert conn.getpeername()[1] == PEER_PORT
    assert conn.state == "ESTABLISHED"


def test_passive_rst_removes_it_silently(peer, listener):
    half_open(peer)
    peer.send("R", seq=IRS + 1, ack=None)
    peer.expect_nothing()
    assert peer.stack.n_connections == 0
    with pytest.raises(BlockingIOError):
        listener.accept(timeout=0)


def test_passive_bad_ack_gets_rst_and_stays(peer, listener):
    iss = half_open(peer)
    peer.send("A", seq=IRS + 1, ack=iss + 7)
    peer.expect("R", seq=iss + 7)
    peer.send("A", seq=IRS + 1, ack=iss + 1)
    assert listener.accept(timeout=0).state == "ESTABLISHED"
