"""What the application's calls put on the wire (RFC 9293 3.10.4 CLOSE and
ABORT, RFC 2525 2.17 for close with unread data), and the state trace over
a connection's whole life (netchan.trace_transitions / trace_read)."""
import socket

import pytest

import netchan
from tcp_harness import IRS, ISS, LOCAL_PORT

RCV_NXT = IRS + 1
SND_NXT = ISS + 1


@pytest.fixture
def conn(peer):
    return peer.connection("ESTABLISHED", quickack=16)


@pytest.fixture
def trace():
    netchan.trace_transitions(True)
    yield
    netchan.trace_transitions(False)


def states(entries):
    return [(old, new) for _, _, old, new in entries]


class TestClose:

    def test_close_sends_fin_and_goes_to_fin_wait_1(self, peer, conn):
        conn.close()
        peer.expect("FA", seq=SND_NXT, ack=RCV_NXT)
        assert peer.stack.n_connections == 1

    def test_close_with_unread_data_sends_rst(self, peer, conn):
        peer.send("PA", seq=RCV_NXT, data=b"unread")
        peer.expect("A")
        conn.close()
        peer.expect("RA", seq=SND_NXT, ack=RCV_NXT + 6)
        assert peer.stack.n_connections == 0

    def test_close_after_reading_everything_is_graceful(self, peer, conn):
        peer.send("PA", seq=RCV_NXT, data=b"read")
        peer.expect("A")
        assert conn.recv(10, timeout=0) == b"read"
        conn.close()
        peer.expect("FA", seq=SND_NXT, ack=RCV_NXT + 4)

    def test_close_sends_queued_data_before_the_fin(self, peer):
        conn = peer.connection("ESTABLISHED", snd_wnd=4)
        conn.send(b"abcdefgh")
        peer.expect("A", seq=SND_NXT, data=b"abcd")     # the window holds the rest back
        conn.close()
        peer.expect_nothing()
        peer.send("A", seq=RCV_NXT, ack=SND_NXT + 4, win=100)
        peer.expect("FPA", seq=SND_NXT + 4, data=b"efgh")

    def test_closed_connection_still_completes_its_close(self, peer, conn):
        conn.close()
        peer.expect("FA")
        peer.send("FA", seq=RCV_NXT, ack=SND_NXT + 1)
        peer.expect("A", seq=SND_NXT + 1, ack=RCV_NXT + 1)
        peer.advance(60)
        assert peer.stack.n_connections == 0


class TestShutdown:

    def test_shut_wr_sends_fin_after_queued_data(self, peer, conn):
        conn.send(b"abc")
        conn.shutdown(socket.SHUT_WR)
        segs = peer.recv()
        data = b"".join(bytes(s.payload) for s in segs)
        assert data == b"abc"
        fin = segs[-1]
        assert "F" in str(fin.flags) and fin.seq + len(bytes(fin.payload)) == SND_NXT + 3
        assert conn.state == "FIN_WAIT_1"

    def test_shut_wr_alone_sends_bare_fin(self, peer, conn):
        conn.shutdown(socket.SHUT_WR)
        peer.expect("FA", seq=SND_NXT, ack=RCV_NXT)

    def test_send_after_shut_wr_fails(self, peer, conn):
        conn.shutdown(socket.SHUT_WR)
        with pytest.raises(BrokenPipeError):
            conn.send(b"x")

    def test_half_closed_connection_still_reads(self, peer, conn):
        conn.shutdown(socket.SHUT_WR)
        peer.expect("FA")
        peer.send("PA", seq=RCV_NXT, ack=SND_NXT + 1, data=b"still here")
        peer.expect("A", ack=RCV_NXT + 10)
        assert conn.recv(100, timeout=0) == b"still here"

    def test_shut_rd_sends_nothing(self, peer, conn):
        conn.shutdown(socket.SHUT_RD)
        peer.expect_nothing()
        assert conn.state == "ESTABLISHED"


class TestAbort:

    def test_abort_sends_rst_and_forgets(self, peer, conn):
        conn.abort()
        peer.expect("RA", seq=SND_NXT, ack=RCV_NXT)
        assert peer.stack.n_connections == 0

    def test_segments_after_abort_get_closed_port_rst(self, peer, conn):
        conn.abort()
        peer.expect("RA")
        peer.send("PA", seq=RCV_NXT, ack=SND_NXT, data=b"x")
        peer.expect("R", seq=SND_NXT)

    def test_abort_in_time_wait_is_silent(self, peer):
        conn = peer.connection("TIME_WAIT")
        conn.abort()
        peer.expect_nothing()
        assert peer.stack.n_connections == 0


class TestTrace:

    def test_passive_lifetime(self, peer, trace):
        listener = peer.stack.listen(LOCAL_PORT)
        iss = peer.handshake()
        conn = listener.accept(timeout=0)
        peer.send("FA", seq=IRS + 1, ack=iss + 1)
        peer.expect("A")
        conn.close()
        peer.expect("FA")
        peer.send("A", seq=IRS + 2, ack=iss + 2)
        assert states(netchan.trace_read()) == [
            ("CLOSED", "SYN_RECEIVED"), ("SYN_RECEIVED", "ESTABLISHED"),
            ("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"),
            ("LAST_ACK", "CLOSED")]

    def test_active_close_lifetime_with_times(self, peer, trace):
        conn = peer.connection("SYN_SENT")
        peer.send("SA", seq=IRS, ack=ISS + 1)
        peer.expect("A")
        conn.close()
        peer.expect("FA")
        peer.advance(0.5)                  # (less than the 1 s RTO)
        peer.send("A", seq=IRS + 1, ack=ISS + 2)
        peer.send("FA", seq=IRS + 1, ack=ISS + 2)
        peer.expect("A")
        peer.advance(60)
        entries = netchan.trace_read()
        assert states(entries) == [
            ("CLOSED", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED"),
            ("ESTABLISHED", "FIN_WAIT_1"), ("FIN_WAIT_1", "FIN_WAIT_2"),
            ("FIN_WAIT_2", "TIME_WAIT"), ("TIME_WAIT", "CLOSED")]
        times = [e[0] for e in entries]
        assert times == sorted(times)
        assert times[-1] - times[-2] == 60 * 10**9       # 2MSL on the virtual clock

    def test_simultaneous_close_lifetime(self, peer, trace):
        conn = peer.connection("ESTABLISHED")
        conn.close()
        peer.expect("FA")
        peer.send("FA", seq=IRS + 1, ack=ISS + 1)
        peer.expect("A")
        peer.send("A", seq=IRS + 2, ack=ISS + 2)
        assert states(netchan.trace_read()) == [
            ("CLOSED", "ESTABLISHED"), ("ESTABLISHED", "FIN_WAIT_1"),
            ("FIN_WAIT_1", "CLOSING"), ("CLOSING", "TIME_WAIT")]

    def test_trace_off_records_nothing(self, peer):
        netchan.trace_transitions(False)
        peer.connection("ESTABLISHED").abort()
        assert netchan.trace_read() == []
