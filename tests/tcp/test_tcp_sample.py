"""A few packet-level tests showing the harness (tests/tcp_harness.py)."""
from tcp_harness import IRS, ISS, PEER_PORT, LOCAL_PORT, options, payload


def test_data_is_acked_and_readable(peer):
    conn = peer.established()
    peer.send("PA", seq=IRS + 1, ack=ISS + 1, data=b"hello")
    peer.expect_nothing()                            # one segment: the ACK is delayed
    peer.advance(0.040)
    peer.expect("A", seq=ISS + 1, ack=IRS + 6)
    assert conn.recv(10) == b"hello"


def test_syn_to_listener_gets_synack_with_options(peer):
    listener = peer.stack.listen(LOCAL_PORT)
    peer.send("S", seq=IRS, ack=None, options=[("MSS", 1460), ("SAckOK", b""),
                                                ("Timestamp", (7, 0)), ("NOP", None),
                                                ("WScale", 7)])
    seg = peer.expect("SA", ack=IRS + 1)
    opts = options(seg)
    assert opts["MSS"] == 1460 and "SAckOK" in opts and opts["Timestamp"][1] == 7
    assert "WScale" in opts

