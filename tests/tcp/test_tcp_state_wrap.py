"""Sequence numbers across 2^32 (RFC 9293 3.4: all comparisons modulo 2^32).
The initial sequence numbers sit just below the wrap so that data, FINs and
ACKs cross it. Sequence arguments are masked to 32 bits by the harness."""
import pytest

from netchan._testing import debug_tcb_set
from tcp_harness import LOCAL_PORT

TOP = 2**32
IRS = TOP - 3          # the peer's first data byte is TOP - 2
ISS = TOP - 2          # our first data byte is TOP - 1
RCV_NXT = IRS + 1
SND_NXT = ISS + 1


def conn_in(peer, state, iss=ISS, irs=IRS, **kw):
    kw.setdefault("quickack", 16)
    return peer.connection(state, iss=iss, irs=irs, **kw)


@pytest.fixture
def conn(peer):
    return conn_in(peer, "ESTABLISHED")


def send(peer, flags, seq, ack=SND_NXT, **kw):
    peer.send(flags, seq=seq, ack=ack, **kw)


class TestEstablishedWrap:

    def test_data_across_the_wrap(self, peer, conn):
        send(peer, "PA", RCV_NXT, data=b"0123456789")
        peer.expect("A", seq=SND_NXT, ack=8)
        assert conn.recv(100, timeout=0) == b"0123456789"
        assert peer.tcb(conn)["rcv_nxt"] == 8

    def test_out_of_order_across_the_wrap(self, peer, conn):
        send(peer, "PA", RCV_NXT + 4, data=b"efgh")        # seq 2, after the wrap
        peer.expect("A", ack=RCV_NXT)
        send(peer, "PA", RCV_NXT, data=b"abcd")            # TOP - 2 .. TOP + 1
        peer.expect("A", ack=6)
        assert conn.recv(100, timeout=0) == b"abcdefgh"

    def test_fin_just_after_the_wrap(self, peer, conn):
        send(peer, "FPA", RCV_NXT, data=b"ab")             # FIN takes sequence 0
        peer.expect("A", ack=1)
        assert conn.state == "CLOSE_WAIT"

    def test_old_duplicate_before_the_wrap_is_acked_not_delivered(self, peer, conn):
        send(peer, "PA", RCV_NXT, data=b"abcd")
        peer.expect("A", ack=2)
        send(peer, "PA", RCV_NXT, data=b"ab")              # ends before RCV.NXT = 2
        peer.expect("A", ack=2)
        assert conn.recv(100, timeout=0) == b"abcd"

    def test_partly_old_segment_across_the_wrap(self, peer, conn):
        send(peer, "PA", RCV_NXT, data=b"ab")              # RCV.NXT becomes 0
        peer.expect("A", ack=0)
        send(peer, "PA", RCV_NXT, data=b"abcdef")
        peer.expect("A", ack=4)
        assert conn.recv(100, timeout=0) == b"abcdef"

    def test_segment_beyond_window_after_wrap_is_dropped(self, peer, conn):
        send(peer, "PA", RCV_NXT + 65535, data=b"x")
        peer.expect("A", ack=RCV_NXT)
        assert peer.tcb(conn)["ooo"] == []

    def test_our_data_and_its_ack_across_the_wrap(self, peer, conn):
        conn.send(b"0123456789")
        peer.expect("PA", seq=TOP - 1, data=b"0123456789")
        send(peer, "A", RCV_NXT, ack=9)
        peer.expect_nothing()
        assert peer.tcb(conn)["snd_una"] == 9

    def test_partial_ack_to_zero(self, peer, conn):
        conn.send(b"0123456789")
        peer.expect("PA")
        send(peer, "A", RCV_NXT, ack=0)
        assert peer.tcb(conn)["snd_una"] == 0

    def test_ack_above_snd_max_across_the_wrap(self, peer, conn):
        send(peer, "A", RCV_NXT, ack=5)
        peer.expect("A", seq=SND_NXT, ack=RCV_NXT)
        assert peer.tcb(conn)["snd_una"] == SND_NXT % TOP

    def test_old_ack_below_the_wrap_gets_challenge(self, peer):
        conn = conn_in(peer, "ESTABLISHED", iss=10)        # SND.UNA = 11
        send(peer, "PA", RCV_NXT, ack=11 - 65535 - 1, data=b"blind")
        peer.expect("A", seq=11, ack=RCV_NXT)
        assert conn.readable == 0

    def test_old_ack_within_max_window_below_the_wrap_is_fine(self, peer):
        conn = conn_in(peer, "ESTABLISHED", iss=10)
        send(peer, "PA", RCV_NXT, ack=11 - 65535, data=b"ok")
        peer.expect("A", ack=0)
        assert conn.recv(10, timeout=0) == b"ok"

    def test_rst_at_rcv_nxt_after_the_wrap(self, peer, conn):
        send(peer, "PA", RCV_NXT, data=b"abcd")
        peer.expect("A", ack=2)
        peer.send("R", seq=RCV_NXT, ack=None)              # the old RCV.NXT: ignored
        peer.expect_nothing()
        peer.send("R", seq=2, ack=None)
        assert conn.state == "CLOSED"

    def test_rst_in_window_across_the_wrap_gets_challenge(self, peer, conn):
        peer.send("R", seq=5, ack=None)
        peer.expect("A", seq=SND_NXT, ack=RCV_NXT)
        assert conn.state == "ESTABLISHED"

    def test_window_update_order_across_the_wrap(self, peer, conn):
        send(peer, "PA", 3, data=b"later", win=6000)
        peer.expect("A")
        send(peer, "PA", RCV_NXT, data=b"01234", win=100)  # older: TOP - 2
        peer.expect("A", ack=8)
        assert peer.tcb(conn)["snd_wnd"] == 6000


class TestHandshakeWrap:

    def test_synack_acking_zero(self, peer):
        conn = conn_in(peer, "SYN_SENT", iss=TOP - 1)     # SND.NXT = 0
        peer.send("SA", seq=TOP - 1, ack=0)
        peer.expect("A", seq=0, ack=0)
        assert conn.state == "ESTABLISHED"

    def test_syn_sent_ack_at_iss_below_the_wrap_gets_rst(self, peer):
        conn = conn_in(peer, "SYN_SENT", iss=TOP - 1)
        peer.send("SA", seq=IRS, ack=TOP - 1)
        peer.expect("R", seq=TOP - 1)
        assert conn.state == "SYN_SENT"

    def test_syn_received_ack_of_zero(self, peer):
        conn = conn_in(peer, "SYN_RECEIVED", iss=TOP - 1)
        peer.send("A", seq=RCV_NXT, ack=0)
        peer.expect_nothing()
        assert conn.state == "ESTABLISHED"


class TestClosingWrap:

    def test_fin_wait_1_ack_of_fin_at_the_top(self, peer):
        conn = conn_in(peer, "FIN_WAIT_1")                 # our FIN is TOP - 1
        send(peer, "A", RCV_NXT, ack=0)
        assert conn.state == "FIN_WAIT_2"

    def test_fin_wait_1_fin_at_zero(self, peer):
        conn = conn_in(peer, "FIN_WAIT_1", iss=TOP - 1)   # our FIN takes sequence 0
        send(peer, "FA", RCV_NXT, ack=1)
        peer.expect("A", seq=1, ack=TOP - 1)
        assert conn.state == "TIME_WAIT"

    def test_fin_wait_1_data_across_the_wrap(self, peer):
        conn = conn_in(peer, "FIN_WAIT_1")
        send(peer, "PA", RCV_NXT, ack=SND_NXT, data=b"abcde")
        peer.expect("A", seq=0, ack=3)
        assert conn.recv(10, timeout=0) == b"abcde"

    def test_fin_wait_2_peer_fin_at_the_top(self, peer):
        conn = conn_in(peer, "FIN_WAIT_2", irs=TOP - 2)    # the peer's FIN: TOP - 1
        send(peer, "FA", TOP - 1, ack=0)
        peer.expect("A", seq=0, ack=0)
        assert conn.state == "TIME_WAIT"

    def test_close_wait_fin_carries_wrapped_ack(self, peer):
        conn = conn_in(peer, "CLOSE_WAIT", iss=TOP - 1, irs=TOP - 2)   # RCV.NXT = 0
        conn.close()
        peer.expect("FA", seq=0, ack=0)
        send(peer, "A", 0, ack=1)
        assert peer.stack.n_connections == 0

    def test_close_wait_retransmitted_fin_below_the_wrap(self, peer):
        conn = conn_in(peer, "CLOSE_WAIT", irs=TOP - 2)
        send(peer, "FA", TOP - 1, ack=SND_NXT)
        peer.expect("A", ack=0)
        assert conn.state == "CLOSE_WAIT"

    def test_time_wait_takeover_compares_across_the_wrap(self, peer):
        conn = conn_in(peer, "TIME_WAIT", irs=TOP - 2)     # RCV.NXT = 0
        listener = peer.stack.listen(LOCAL_PORT)
        conn.close()
        peer.send("S", seq=TOP - 100, ack=None)           # "below" 0 modulo 2^32
        peer.expect("A", ack=0)
        peer.send("S", seq=100, ack=None)                 # above it
        sa = peer.expect("SA", ack=101)
        peer.send("A", seq=101, ack=sa.seq + 1)
        assert listener.accept(timeout=0).state == "ESTABLISHED"


class TestSndUnaBackAtTheIss:
    """After 2^32 bytes SND.UNA passes the ISS again: the SYN's sequence
    number must not be taken for an unacknowledged SYN then (the release of
    acknowledged bytes would keep one byte, retransmissions would stop)."""

    @pytest.fixture
    def conn(self, peer):
        conn = conn_in(peer, "ESTABLISHED", rto=0.2)
        conn.send(b"0123456789")
        peer.expect("PA", seq=SND_NXT, data=b"0123456789")
        # as if this connection had sent 2^32 bytes more: ISS = SND.UNA + 4
        debug_tcb_set(conn, iss=SND_NXT + 4)
        return conn

    def test_acks_from_the_iss_release_exactly_the_acked_bytes(self, peer, conn):
        send(peer, "A", RCV_NXT, ack=SND_NXT + 4)
        t = peer.tcb(conn)
        assert t["snd_una"] == t["iss"]
        assert t["snd_tail"] - t["snd_head"] == 6       # "456789" still held
        send(peer, "A", RCV_NXT, ack=SND_NXT + 6)      # the first ACK from the ISS
        t = peer.tcb(conn)
        assert t["snd_tail"] - t["snd_head"] == 4       # "6789"

    def test_retransmission_from_the_iss(self, peer, conn):
        send(peer, "A", RCV_NXT, ack=SND_NXT + 4)
        peer.advance(1.0)                               # the RTO fires
        peer.expect(seq=(SND_NXT + 4) & (TOP - 1), data=b"456789")

    def test_new_data_after_the_iss_carries_the_right_bytes(self, peer, conn):
        send(peer, "A", RCV_NXT, ack=SND_NXT + 4)
        send(peer, "A", RCV_NXT, ack=SND_NXT + 10)
        conn.send(b"abc")
        peer.expect("PA", seq=(SND_NXT + 10) & (TOP - 1), data=b"abc")
        assert peer.tcb(conn)["snd_tail"] == peer.tcb(conn)["snd_head"] + 3
