"""SYN_SENT (RFC 9293 3.10.7.3): our SYN (ISS) is out, nothing received.
The connection is built directly in the state (connect() would block)."""
import pytest

from tcp_harness import IRS, ISS, options, payload


@pytest.fixture
def conn(peer):
    return peer.connection("SYN_SENT")


def test_ack_at_iss_gets_rst(peer, conn):
    # SEG.ACK =< ISS: <SEQ=SEG.ACK><CTL=RST>, and the connection stays
    peer.send("A", seq=IRS, ack=ISS)
    peer.expect("R", seq=ISS, ack=0)
    assert conn.state == "SYN_SENT"


def test_ack_above_snd_nxt_gets_rst(peer, conn):
    peer.send("SA", seq=IRS, ack=ISS + 2)
    peer.expect("R", seq=ISS + 2)
    assert conn.state == "SYN_SENT"


def test_bad_ack_with_rst_is_dropped(peer, conn):
    peer.send("RA", seq=IRS, ack=ISS + 5)
    peer.expect_nothing()
    assert conn.state == "SYN_SENT"


def test_rst_with_acceptable_ack_refuses(peer, conn):
    peer.send("RA", seq=0, ack=ISS + 1)
    peer.expect_nothing()
    assert conn.state == "CLOSED"
    with pytest.raises(ConnectionRefusedError):
        conn.recv(1, timeout=0)


def test_rst_without_ack_is_ignored(peer, conn):
    peer.send("R", seq=IRS, ack=None)
    peer.expect_nothing()
    assert conn.state == "SYN_SENT"


def test_synack_establishes_and_acks(peer, conn):
    peer.send("SA", seq=IRS, ack=ISS + 1)
    peer.expect("A", seq=ISS + 1, ack=IRS + 1)
    assert conn.state == "ESTABLISHED"


def test_synack_window_is_not_scaled(peer, conn):
    peer.send("SA", seq=IRS, ack=ISS + 1, win=1000, options=[("MSS", 1460), ("WScale", 4)])
    peer.expect("A")
    assert peer.tcb(conn)["snd_wnd"] == 1000
    assert conn.info()["snd_wscale"] == 4


def test_synack_options_are_adopted(peer, conn):
    peer.send("SA", seq=IRS, ack=ISS + 1,
              options=[("MSS", 1000), ("SAckOK", b""), ("Timestamp", (77, 1))])
    ack = peer.expect("A")
    assert options(ack)["Timestamp"][1] == 77
    info = conn.info()
    assert info["sack"] and info["timestamps"] and info["mss"] == 1000 - 12


def test_synack_with_data_delivers_it(peer, conn):
    peer.send("SA", seq=IRS, ack=ISS + 1, data=b"greetings")
    peer.expect("A", ack=IRS + 10)
    assert conn.recv(100, timeout=0) == b"greetings"


def test_synack_with_fin_goes_to_close_wait(peer, conn):
    peer.send("SFA", seq=IRS, ack=ISS + 1, data=b"bye")
    peer.expect("A", ack=IRS + 5)
    assert conn.state == "CLOSE_WAIT"
    assert conn.recv(100, timeout=0) == b"bye"


def test_bare_syn_is_simultaneous_open(peer, conn):
    # RFC 9293 figure 8: SYN-RECEIVED, SYN-ACK on the same ISS
    peer.send("S", seq=IRS, ack=None)
    sa = peer.expect("SA", seq=ISS, ack=IRS + 1)
    assert payload(sa) == b""
    assert conn.state == "SYN_RECEIVED"


def test_simultaneous_open_completes_on_the_peers_synack(peer, conn):
    # Figure 8 line 6: the other side's SYN-ACK (its SYN again, acking ours)
    # completes the handshake with nothing more to send (Linux does so too).
    peer.send("S", seq=IRS, ack=None)
    peer.expect("SA", seq=ISS, ack=IRS + 1)
    peer.send("SA", seq=IRS, ack=ISS + 1)
    assert conn.state == "ESTABLISHED"
    peer.expect_nothing()


def test_simultaneous_open_completes_on_plain_ack(peer, conn):
    peer.send("S", seq=IRS, ack=None)
    peer.expect("SA")
    peer.send("A", seq=IRS + 1, ack=ISS + 1)
    peer.expect_nothing()
    assert conn.state == "ESTABLISHED"


def test_segment_without_syn_or_rst_is_dropped(peer, conn):
    peer.send("PA", seq=IRS + 1, ack=ISS + 1, data=b"stray")
    peer.expect_nothing()
    assert conn.state == "SYN_SENT"


def test_fin_without_ack_is_dropped(peer, conn):
    peer.send("F", seq=IRS + 1, ack=None)
    peer.expect_nothing()
    assert conn.state == "SYN_SENT"
