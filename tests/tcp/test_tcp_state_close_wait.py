"""The passive close (RFC 9293 3.6): CLOSE_WAIT (the peer's FIN at IRS + 1 is
in) and LAST_ACK (our FIN at ISS + 1 is out too, unacked)."""
import socket

import pytest

from tcp_harness import IRS, ISS

RCV_NXT = IRS + 2      # after the peer's FIN
SND_NXT = ISS + 1


class TestCloseWait:

    @pytest.fixture
    def conn(self, peer):
        return peer.connection("CLOSE_WAIT")

    def test_reads_end_of_stream(self, peer, conn):
        assert conn.recv(10, timeout=0) == b""

    def test_close_sends_fin_and_goes_to_last_ack(self, peer, conn):
        conn.close()
        peer.expect("FA", seq=SND_NXT, ack=RCV_NXT)
        assert peer.stack.n_connections == 1

    def test_shutdown_sends_fin(self, peer, conn):
        conn.shutdown(socket.SHUT_WR)
        peer.expect("FA", seq=SND_NXT, ack=RCV_NXT)
        assert conn.state == "LAST_ACK"

    def test_can_still_send(self, peer, conn):
        conn.send(b"reply")
        peer.expect("PA", seq=SND_NXT, ack=RCV_NXT, data=b"reply")
        assert conn.state == "CLOSE_WAIT"

    def test_data_then_fin(self, peer, conn):
        conn.send(b"reply")
        conn.close()
        data, fin = peer.expect(count=2)
        assert (str(data.flags), data.seq, bytes(data.payload)) == ("PA", SND_NXT, b"reply")
        assert (str(fin.flags), fin.seq, fin.ack) == ("FA", SND_NXT + 5, RCV_NXT)

    def test_retransmitted_fin_is_acked(self, peer, conn):
        peer.send("FA", seq=IRS + 1, ack=SND_NXT)
        peer.expect("A", seq=SND_NXT, ack=RCV_NXT)
        assert conn.state == "CLOSE_WAIT"

    def test_data_after_the_fin_is_ignored(self, peer, conn):
        # RFC 9293: "ignore the segment text" (Linux does the same)
        peer.send("PA", seq=RCV_NXT, ack=SND_NXT, data=b"ghost")
        peer.expect_nothing()
        assert conn.recv(10, timeout=0) == b""

    def test_rst_at_rcv_nxt_resets(self, peer, conn):
        peer.send("R", seq=RCV_NXT, ack=None)
        peer.expect_nothing()
        with pytest.raises(ConnectionResetError):
            conn.send(b"x")

    def test_rst_in_window_gets_challenge_ack(self, peer, conn):
        peer.send("R", seq=RCV_NXT + 5, ack=None)
        peer.expect("A", seq=SND_NXT, ack=RCV_NXT)
        assert conn.state == "CLOSE_WAIT"

    def test_ack_of_our_data(self, peer, conn):
        conn.send(b"abc")
        peer.expect("PA")
        peer.send("A", seq=RCV_NXT, ack=SND_NXT + 3)
        peer.expect_nothing()
        assert peer.tcb(conn)["snd_una"] == SND_NXT + 3


class TestLastAck:

    @pytest.fixture
    def conn(self, peer):
        return peer.connection("LAST_ACK")

    def test_ack_of_fin_closes(self, peer, conn):
        peer.send("A", seq=RCV_NXT, ack=SND_NXT + 1)
        peer.expect_nothing()
        assert conn.state == "CLOSED"

    def test_gone_after_ack_later_segments_get_rst(self, peer, conn):
        conn.close()
        peer.send("A", seq=RCV_NXT, ack=SND_NXT + 1)
        assert peer.stack.n_connections == 0
        peer.send("FA", seq=IRS + 1, ack=SND_NXT + 1)
        peer.expect("R", seq=SND_NXT + 1)

    def test_ack_short_of_fin_stays(self, peer, conn):
        peer.send("A", seq=RCV_NXT, ack=SND_NXT)
        peer.expect_nothing()
        assert conn.state == "LAST_ACK"

    def test_retransmitted_peer_fin_is_acked(self, peer, conn):
        peer.send("FA", seq=IRS + 1, ack=SND_NXT)
        peer.expect("A", seq=SND_NXT + 1, ack=RCV_NXT)
        assert conn.state == "LAST_ACK"

    def test_rst_at_rcv_nxt_closes_without_error(self, peer, conn):
        peer.send("R", seq=RCV_NXT, ack=None)
        peer.expect_nothing()
        assert conn.state == "CLOSED"
        assert conn.recv(10, timeout=0) == b""

    def test_ack_beyond_fin_gets_ack(self, peer, conn):
        peer.send("A", seq=RCV_NXT, ack=SND_NXT + 2)
        peer.expect("A", seq=SND_NXT + 1, ack=RCV_NXT)
        assert conn.state == "LAST_ACK"
