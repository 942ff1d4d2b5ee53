"""CLOSED: segments for a port with neither a connection nor a listener
(RFC 9293 3.10.7.1). Each gets a RST built from the segment alone, except a
RST, which is never answered (two stacks would otherwise loop)."""
from tcp_harness import IRS, LOCAL_PORT, PEER_PORT, describe


def test_ack_gets_rst_at_seg_ack(peer):
    # ACK bit on: <SEQ=SEG.ACK><CTL=RST>, no ACK of our own
    peer.send("A", seq=IRS + 1, ack=777)
    peer.expect("R", seq=777, ack=0)


def test_data_with_ack_gets_rst_at_seg_ack(peer):
    peer.send("PA", seq=IRS + 1, ack=123456, data=b"hello")
    peer.expect("R", seq=123456)


def test_syn_gets_rst_ack_counting_the_syn(peer):
    # ACK bit off: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; the SYN counts one
    peer.send("S", seq=IRS, ack=None)
    peer.expect("RA", seq=0, ack=IRS + 1)


def test_syn_with_data_counts_syn_and_data(peer):
    peer.send("S", seq=IRS, ack=None, data=b"12345")
    peer.expect("RA", seq=0, ack=IRS + 6)


def test_fin_without_ack_counts_the_fin(peer):
    peer.send("F", seq=IRS + 1, ack=None, data=b"abc")
    peer.expect("RA", seq=0, ack=IRS + 5)


def test_bare_data_without_flags_counts_the_data(peer):
    peer.send("", seq=IRS + 1, ack=None, data=b"abcdefg")
    peer.expect("RA", seq=0, ack=IRS + 8)


def test_syn_fin_counts_both(peer):
    peer.send("SF", seq=IRS, ack=None)
    peer.expect("RA", seq=0, ack=IRS + 2)


def test_rst_ack_sequence_wraps(peer):
    peer.send("S", seq=2**32 - 1, ack=None, data=b"ab")
    peer.expect("RA", seq=0, ack=2)


def test_synack_to_closed_port_gets_rst_at_its_ack(peer):
    # a stale SYN-ACK (we never sent the SYN): reset the half-open peer
    peer.send("SA", seq=IRS, ack=4242)
    peer.expect("R", seq=4242)


def test_rst_reply_swaps_the_ports_and_offers_no_window(peer):
    peer.send("A", seq=IRS + 1, ack=5)
    rst = peer.expect("R")
    assert (rst.sport, rst.dport) == (LOCAL_PORT, PEER_PORT), describe(rst)
    assert rst.window == 0


def test_rst_is_never_answered(peer):
    peer.send("R", seq=IRS + 1, ack=None)
    peer.expect_nothing()


def test_rst_ack_is_never_answered(peer):
    peer.send("RA", seq=IRS + 1, ack=99)
    peer.expect_nothing()


def test_nothing_is_left_behind(peer):
    peer.send("S", seq=IRS, ack=None)
    peer.expect("RA")
    assert peer.stack.n_connections == 0
