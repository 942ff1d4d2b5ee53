"""The closing states after our FIN (RFC 9293 3.6, 3.10.7.4): FIN_WAIT_1,
FIN_WAIT_2, CLOSING and TIME_WAIT. Built directly: our FIN is at ISS + 1
(so SND.NXT = ISS + 2); the peer's FIN, where received, at IRS + 1."""
import pytest

from netchan._testing import debug_time_wait
from tcp_harness import IRS, ISS, LOCAL_PORT

FIN = ISS + 1          # our FIN's sequence number
RCV_NXT = IRS + 1
MSL = 30               # the stack's default, seconds


def conn_in(peer, state, **kw):
    kw.setdefault("quickack", 16)
    return peer.connection(state, **kw)


# ---- FIN_WAIT_1: our FIN is out, unacked -----------------------------------------------

class TestFinWait1:

    @pytest.fixture
    def conn(self, peer):
        return conn_in(peer, "FIN_WAIT_1")

    def test_ack_of_fin_goes_to_fin_wait_2_silently(self, peer, conn):
        peer.send("A", seq=RCV_NXT, ack=FIN + 1)
        peer.expect_nothing()
        assert conn.state == "FIN_WAIT_2"

    def test_ack_short_of_fin_stays(self, peer, conn):
        peer.send("A", seq=RCV_NXT, ack=FIN)
        peer.expect_nothing()
        assert conn.state == "FIN_WAIT_1"

    def test_fin_before_our_fin_is_acked_goes_to_closing(self, peer, conn):
        # simultaneous close
        peer.send("FA", seq=RCV_NXT, ack=FIN)
        peer.expect("A", seq=FIN + 1, ack=RCV_NXT + 1)
        assert conn.state == "CLOSING"

    def test_fin_with_ack_of_our_fin_goes_to_time_wait(self, peer, conn):
        peer.send("FA", seq=RCV_NXT, ack=FIN + 1)
        peer.expect("A", seq=FIN + 1, ack=RCV_NXT + 1)
        assert conn.state == "TIME_WAIT"

    def test_data_is_still_received(self, peer, conn):
        # half-close: the peer may keep sending after our FIN
        peer.send("PA", seq=RCV_NXT, ack=FIN, data=b"more")
        peer.expect("A", seq=FIN + 1, ack=RCV_NXT + 4)
        assert conn.recv(10, timeout=0) == b"more"
        assert conn.state == "FIN_WAIT_1"

    def test_data_with_ack_of_fin_is_received(self, peer, conn):
        peer.send("PA", seq=RCV_NXT, ack=FIN + 1, data=b"more")
        peer.expect("A", ack=RCV_NXT + 4)
        assert conn.state == "FIN_WAIT_2"
        assert conn.recv(10, timeout=0) == b"more"

    def test_rst_at_rcv_nxt_resets(self, peer, conn):
        peer.send("R", seq=RCV_NXT, ack=None)
        peer.expect_nothing()
        with pytest.raises(ConnectionResetError):
            conn.recv(1, timeout=0)

    def test_rst_in_window_gets_challenge_ack(self, peer, conn):
        peer.send("R", seq=RCV_NXT + 10, ack=None)
        peer.expect("A", seq=FIN + 1, ack=RCV_NXT)
        assert conn.state == "FIN_WAIT_1"

    def test_syn_gets_challenge_ack(self, peer, conn):
        peer.send("S", seq=RCV_NXT + 10, ack=None)
        peer.expect("A", seq=FIN + 1, ack=RCV_NXT)
        assert conn.state == "FIN_WAIT_1"

    def test_ack_beyond_fin_gets_ack(self, peer, conn):
        peer.send("A", seq=RCV_NXT, ack=FIN + 2)
        peer.expect("A", seq=FIN + 1, ack=RCV_NXT)
        assert conn.state == "FIN_WAIT_1"


# ---- FIN_WAIT_2: our FIN is acked, the peer's has not come -------------------------------

class TestFinWait2:

    @pytest.fixture
    def conn(self, peer):
        return conn_in(peer, "FIN_WAIT_2")

    def test_fin_goes_to_time_wait_and_is_acked(self, peer, conn):
        peer.send("FA", seq=RCV_NXT, ack=FIN + 1)
        peer.expect("A", seq=FIN + 1, ack=RCV_NXT + 1)
        assert conn.state == "TIME_WAIT"

    def test_data_is_still_received(self, peer, conn):
        peer.send("PA", seq=RCV_NXT, ack=FIN + 1, data=b"half-closed")
        peer.expect("A", ack=RCV_NXT + 11)
        assert conn.recv(100, timeout=0) == b"half-closed"
        assert conn.state == "FIN_WAIT_2"

    def test_fin_with_data(self, peer, conn):
        peer.send("FPA", seq=RCV_NXT, ack=FIN + 1, data=b"bye")
        peer.expect("A", ack=RCV_NXT + 4)
        assert conn.state == "TIME_WAIT"
        assert conn.recv(100, timeout=0) == b"bye"

    def test_out_of_order_fin_waits_for_the_hole(self, peer, conn):
        peer.send("FA", seq=RCV_NXT + 2, ack=FIN + 1, data=b"cd")
        peer.expect("A", ack=RCV_NXT)
        assert conn.state == "FIN_WAIT_2"
        peer.send("PA", seq=RCV_NXT, ack=FIN + 1, data=b"ab")
        peer.expect("A", ack=RCV_NXT + 5)
        assert conn.state == "TIME_WAIT"

    def test_rst_at_rcv_nxt_resets(self, peer, conn):
        peer.send("R", seq=RCV_NXT, ack=None)
        with pytest.raises(ConnectionResetError):
            conn.recv(1, timeout=0)

    def test_duplicate_ack_of_fin_is_ignored(self, peer, conn):
        peer.send("A", seq=RCV_NXT, ack=FIN + 1)
        peer.expect_nothing()
        assert conn.state == "FIN_WAIT_2"

    def test_orphan_gives_up_after_2msl(self, peer, conn):
        # Nobody can read any more: do not wait forever for the peer's FIN.
        conn.close()
        peer.advance(2 * MSL - 1)
        assert peer.stack.n_connections == 1
        peer.advance(1)
        assert peer.stack.n_connections == 0
        peer.expect_nothing()


# ---- CLOSING: both FINs sent, ours unacked ----------------------------------------------

class TestClosing:

    @pytest.fixture
    def conn(self, peer):
        return conn_in(peer, "CLOSING")

    def test_ack_of_fin_goes_to_time_wait_silently(self, peer, conn):
        peer.send("A", seq=RCV_NXT + 1, ack=FIN + 1)
        peer.expect_nothing()
        assert conn.state == "TIME_WAIT"

    def test_ack_short_of_fin_stays(self, peer, conn):
        peer.send("A", seq=RCV_NXT + 1, ack=FIN)
        peer.expect_nothing()
        assert conn.state == "CLOSING"

    def test_retransmitted_peer_fin_is_acked_again(self, peer, conn):
        peer.send("FA", seq=RCV_NXT, ack=FIN)
        peer.expect("A", seq=FIN + 1, ack=RCV_NXT + 1)
        assert conn.state == "CLOSING"

    def test_old_fin_is_unacceptable_so_its_ack_is_not_taken(self, peer, conn):
        # RFC 9293 3.10.7.4: a segment wholly before RCV.NXT is answered with
        # an ACK and dropped, ACK field and all. (Linux lets a segment that
        # ends at RCV.NXT through and would take the ACK; our FIN is then
        # acked by the peer's next ACK, or resent on timeout.)
        peer.send("FA", seq=RCV_NXT, ack=FIN + 1)
        peer.expect("A", ack=RCV_NXT + 1)
        assert conn.state == "CLOSING"

    def test_rst_at_rcv_nxt_closes(self, peer, conn):
        peer.send("R", seq=RCV_NXT + 1, ack=None)
        peer.expect_nothing()
        assert conn.state == "CLOSED"


# ---- TIME_WAIT (RFC 9293 3.6.1, 3.10.7.4; RFC 6191 for reuse) ---------------------------
#
# Each test runs twice: on a control block the application still holds
# ("handle": conn.state says TIME_WAIT), and on the compact record that
# takes over once nobody holds it ("record": the handle closed at once).

def tw_state(peer, conn):
    """TIME_WAIT or CLOSED, for the control block or for its record."""
    if peer.stack.n_connections:
        return conn.state
    return "TIME_WAIT" if debug_time_wait(peer.stack) else "CLOSED"


class TestTimeWait:

    @pytest.fixture(params=["handle", "record"])
    def conn(self, request, peer):
        conn = conn_in(peer, "TIME_WAIT")
        if request.param == "record":
            conn.close()
            assert peer.stack.n_connections == 0
            assert len(debug_time_wait(peer.stack)) == 1
        return conn

    def test_lasts_2msl(self, peer, conn):
        peer.advance(2 * MSL - 0.001)
        assert tw_state(peer, conn) == "TIME_WAIT"
        peer.advance(0.001)
        assert tw_state(peer, conn) == "CLOSED"
        peer.expect_nothing()

    def test_gone_after_2msl_segments_get_rst(self, peer, conn):
        conn.close()
        peer.advance(2 * MSL)
        assert peer.stack.n_connections == 0 and debug_time_wait(peer.stack) == []
        peer.send("FA", seq=RCV_NXT, ack=FIN + 1)
        peer.expect("R", seq=FIN + 1)

    @pytest.mark.parametrize("close", [False, True])
    def test_shorter_msl_is_honoured(self, make_peer, close):
        peer = make_peer(msl=1.0)
        conn = peer.connection("TIME_WAIT")
        if close:
            conn.close()
        peer.advance(1.999)
        assert tw_state(peer, conn) == "TIME_WAIT"
        peer.advance(0.001)
        assert tw_state(peer, conn) == "CLOSED"

    def test_retransmitted_fin_is_acked_again(self, peer, conn):
        peer.send("FA", seq=RCV_NXT, ack=FIN + 1)
        peer.expect("A", seq=FIN + 1, ack=RCV_NXT + 1)
        assert tw_state(peer, conn) == "TIME_WAIT"

    def test_retransmitted_fin_restarts_2msl(self, peer, conn):
        peer.advance(MSL)
        peer.send("FA", seq=RCV_NXT, ack=FIN + 1)
        peer.expect("A", ack=RCV_NXT + 1)
        peer.advance(2 * MSL - 1)
        assert tw_state(peer, conn) == "TIME_WAIT"
        peer.advance(1)
        assert tw_state(peer, conn) == "CLOSED"

    def test_ack_alone_does_not_restart_2msl(self, peer, conn):
        # RFC 9293: only a retransmitted FIN restarts the timer (Linux also
        # restarts it on a bare ACK; nothing requires that)
        peer.advance(MSL)
        peer.send("A", seq=RCV_NXT + 1, ack=FIN + 1)
        peer.expect_nothing()
        peer.advance(MSL)
        assert tw_state(peer, conn) == "CLOSED"

    def test_rst_at_rcv_nxt_ends_it(self, peer, conn):
        # RFC 1337 leaves this open; Linux (tcp_rfc1337=0) ends TIME_WAIT too
        peer.send("R", seq=RCV_NXT + 1, ack=None)
        peer.expect_nothing()
        assert tw_state(peer, conn) == "CLOSED"

    def test_rst_elsewhere_in_window_gets_challenge_ack(self, peer, conn):
        peer.send("R", seq=RCV_NXT + 11, ack=None)
        peer.expect("A", seq=FIN + 1, ack=RCV_NXT + 1)
        assert tw_state(peer, conn) == "TIME_WAIT"

    def test_ack_of_unsent_data_gets_challenge_ack(self, peer, conn):
        peer.send("A", seq=RCV_NXT + 1, ack=FIN + 100)
        peer.expect("A", seq=FIN + 1, ack=RCV_NXT + 1)
        assert tw_state(peer, conn) == "TIME_WAIT"

    def test_syn_above_old_sequence_space_takes_over(self, peer, conn):
        listener = peer.stack.listen(LOCAL_PORT)
        conn.close()                  # the application is done with it
        new_irs = IRS + 100000
        peer.send("S", seq=new_irs, ack=None, options=[("MSS", 1460)])
        sa = peer.expect("SA", ack=new_irs + 1)
        peer.send("A", seq=new_irs + 1, ack=sa.seq + 1)
        fresh = listener.accept(timeout=0)
        assert peer.tcb(fresh)["irs"] == new_irs
        assert peer.stack.n_connections == 1 and debug_time_wait(peer.stack) == []

    def test_takeover_iss_is_above_the_old_sequence_space(self, peer, conn):
        # RFC 1122 4.2.2.13: the new ISS must exceed every sequence number
        # of the old incarnation (and, as in Linux, its last window too)
        listener = peer.stack.listen(LOCAL_PORT)
        conn.close()
        peer.send("S", seq=IRS + 100000, ack=None)
        sa = peer.expect("SA", ack=IRS + 100001)
        above = (sa.seq - (FIN + 1)) % 2**32
        assert 65535 < above < 2**31

    def test_syn_at_old_rcv_nxt_is_not_accepted(self, peer, conn):
        listener = peer.stack.listen(LOCAL_PORT)
        conn.close()
        peer.send("S", seq=RCV_NXT + 1, ack=None)
        peer.expect("A", seq=FIN + 1, ack=RCV_NXT + 1)
        assert tw_state(peer, conn) == "TIME_WAIT"

    def test_syn_below_old_sequence_space_is_not_accepted(self, peer, conn):
        listener = peer.stack.listen(LOCAL_PORT)
        conn.close()
        peer.send("S", seq=IRS - 1000, ack=None)
        peer.expect("A", seq=FIN + 1, ack=RCV_NXT + 1)
        assert tw_state(peer, conn) == "TIME_WAIT"

    def test_syn_without_listener_is_not_accepted(self, peer, conn):
        conn.close()
        peer.send("S", seq=IRS + 100000, ack=None)
        peer.expect("A", seq=FIN + 1, ack=RCV_NXT + 1)
        assert tw_state(peer, conn) == "TIME_WAIT"

    def test_syn_with_a_handle_held_is_not_accepted(self, peer):
        # the application may still read: the 4-tuple is not free yet
        conn = conn_in(peer, "TIME_WAIT")
        listener = peer.stack.listen(LOCAL_PORT)
        peer.send("S", seq=IRS + 100000, ack=None)
        peer.expect("A", seq=FIN + 1, ack=RCV_NXT + 1)
        assert conn.state == "TIME_WAIT"
