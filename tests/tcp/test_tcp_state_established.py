"""ESTABLISHED (RFC 9293 3.10.7.4 step by step, with the RFC 5961 defences).

Connections are built directly in the state with snd_una = snd_nxt = ISS + 1
and rcv_nxt = IRS + 1. quickack=16 makes every data segment ACKed at once,
so ACKs are visible without timing (delayed ACKs are tested elsewhere).
Without window scaling the window we offer is 65535; `small` stacks have a
4096-byte receive buffer, so their window is the buffer."""
import pytest

from tcp_harness import IRS, ISS, payload

RCV_NXT = IRS + 1
SND_NXT = ISS + 1
WND = 65535


def est(peer, **kw):
    kw.setdefault("quickack", 16)
    return peer.connection("ESTABLISHED", **kw)


@pytest.fixture
def conn(peer):
    return est(peer)


@pytest.fixture
def small(make_peer):
    """(peer, conn) with a 4096-byte receive window."""
    p = make_peer(rcvbuf=4096)
    return p, est(p)


def fill(peer, nbytes, seq=RCV_NXT):
    """Send nbytes in order in MSS-sized segments; return the last reply."""
    last = None
    while nbytes:
        n = min(nbytes, 1460)
        peer.send("A", seq=seq, data=b"f" * n)
        last = peer.expect("A", ack=seq + n)
        seq += n
        nbytes -= n
    return last


def sent_data(peer, conn, data=b"0123456789" * 2):
    """Have conn send data and swallow the segment; returns SND.NXT after it."""
    conn.send(data)
    peer.expect("PA", seq=SND_NXT, data=data)
    return SND_NXT + len(data)


# ---- first: sequence number acceptability (RFC 9293 3.10.7.4 table) -------------

class TestAcceptability:

    def test_empty_at_rcv_nxt_is_accepted_silently(self, peer, conn):
        peer.send("A", seq=RCV_NXT)
        peer.expect_nothing()

    def test_empty_at_last_window_byte_is_accepted(self, peer, conn):
        peer.send("A", seq=RCV_NXT + WND - 1)
        peer.expect_nothing()

    def test_empty_at_window_end_gets_ack(self, peer, conn):
        peer.send("A", seq=RCV_NXT + WND)
        peer.expect("A", seq=SND_NXT, ack=RCV_NXT)

    def test_empty_below_rcv_nxt_gets_ack(self, peer, conn):
        peer.send("A", seq=RCV_NXT - 1)
        peer.expect("A", seq=SND_NXT, ack=RCV_NXT)

    def test_old_duplicate_data_gets_ack_and_is_not_delivered_again(self, peer, conn):
        peer.send("PA", seq=RCV_NXT, data=b"abcde")
        peer.expect("A", ack=RCV_NXT + 5)
        peer.send("PA", seq=RCV_NXT, data=b"abcde")
        peer.expect("A", ack=RCV_NXT + 5)
        assert conn.recv(100, timeout=0) == b"abcde"

    def test_data_partly_before_rcv_nxt_keeps_the_new_part(self, peer, conn):
        peer.send("PA", seq=RCV_NXT, data=b"abc")
        peer.expect("A", ack=RCV_NXT + 3)
        peer.send("PA", seq=RCV_NXT + 1, data=b"bcdef")
        peer.expect("A", ack=RCV_NXT + 6)
        assert conn.recv(100, timeout=0) == b"abcdef"

    def test_data_ending_at_rcv_nxt_is_old(self, peer, conn):
        peer.send("PA", seq=RCV_NXT - 4, data=b"oldd")
        peer.expect("A", ack=RCV_NXT)
        assert conn.readable == 0

    def test_data_starting_at_window_end_is_dropped(self, peer, conn):
        # RCV.WND without window scaling is at most 65535, whatever the buffer
        peer.send("PA", seq=RCV_NXT + WND, data=b"x")
        peer.expect("A", ack=RCV_NXT)
        assert peer.tcb(conn)["ooo"] == []

    def test_data_at_last_window_byte_is_held(self, peer, conn):
        peer.send("PA", seq=RCV_NXT + WND - 1, data=b"x")
        peer.expect("A", ack=RCV_NXT)
        assert peer.tcb(conn)["ooo"] == [(WND - 1, WND)]

    def test_data_far_beyond_window_is_dropped(self, peer, conn):
        peer.send("PA", seq=RCV_NXT + 2**30, data=b"x")
        peer.expect("A", ack=RCV_NXT)
        assert peer.tcb(conn)["ooo"] == []

    def test_segment_straddling_window_end_is_trimmed(self, small):
        peer, conn = small
        peer.send("PA", seq=RCV_NXT + 4090, data=b"0123456789")
        peer.expect("A", ack=RCV_NXT)
        assert peer.tcb(conn)["ooo"] == [(4090, 4096)]

    def test_fin_beyond_trimmed_data_is_not_taken(self, small):
        peer, conn = small
        fill(peer, 4000)
        peer.send("FA", seq=RCV_NXT + 4000, data=b"y" * 200)
        peer.expect("A", ack=RCV_NXT + 4096, win=0)
        assert conn.state == "ESTABLISHED"

    def test_zero_window_empty_at_rcv_nxt_is_accepted(self, small):
        peer, conn = small
        fill(peer, 4096)
        peer.send("A", seq=RCV_NXT + 4096)
        peer.expect_nothing()

    def test_zero_window_empty_elsewhere_gets_ack(self, small):
        peer, conn = small
        fill(peer, 4096)
        peer.send("A", seq=RCV_NXT + 4097)
        peer.expect("A", ack=RCV_NXT + 4096, win=0)

    def test_zero_window_data_is_refused_with_ack(self, small):
        peer, conn = small
        assert fill(peer, 4096).window == 0
        peer.send("PA", seq=RCV_NXT + 4096, data=b"z")
        peer.expect("A", ack=RCV_NXT + 4096, win=0)
        assert conn.readable == 4096

    def test_zero_window_still_takes_the_ack_field(self, small):
        # RFC 9293 3.10.7.4: with a zero window "special allowance should be
        # made to accept valid ACKs"; Linux processes them.
        peer, conn = small
        fill(peer, 4096)
        una = sent_data(peer, conn)
        peer.send("PA", seq=RCV_NXT + 4096, ack=una, data=b"z")
        peer.expect("A", ack=RCV_NXT + 4096, win=0)
        assert peer.tcb(conn)["snd_una"] == una


# ---- second: RST (RFC 9293 3.10.7.4, RFC 5961 3.2) -------------------------------

class TestRst:

    def test_rst_at_rcv_nxt_resets(self, peer, conn):
        peer.send("R", seq=RCV_NXT, ack=None)
        peer.expect_nothing()
        assert conn.state == "CLOSED"
        with pytest.raises(ConnectionResetError):
            conn.recv(1, timeout=0)

    def test_rst_ack_at_rcv_nxt_resets(self, peer, conn):
        peer.send("RA", seq=RCV_NXT, ack=SND_NXT)
        with pytest.raises(ConnectionResetError):
            conn.send(b"x")

    def test_rst_in_window_gets_challenge_ack(self, peer, conn):
        peer.send("R", seq=RCV_NXT + 1, ack=None)
        peer.expect("A", seq=SND_NXT, ack=RCV_NXT)
        assert conn.state == "ESTABLISHED"

    def test_rst_at_window_edge_gets_challenge_ack(self, peer, conn):
        peer.send("R", seq=RCV_NXT + WND - 1, ack=None)
        peer.expect("A", seq=SND_NXT, ack=RCV_NXT)
        assert conn.state == "ESTABLISHED"

    def test_rst_beyond_window_is_dropped(self, peer, conn):
        peer.send("R", seq=RCV_NXT + WND, ack=None)
        peer.expect_nothing()
        assert conn.state == "ESTABLISHED"

    def test_rst_below_rcv_nxt_is_dropped(self, peer, conn):
        peer.send("R", seq=RCV_NXT - 1, ack=None)
        peer.expect_nothing()
        assert conn.state == "ESTABLISHED"

    def test_rst_follows_rcv_nxt(self, peer, conn):
        peer.send("PA", seq=RCV_NXT, data=b"12345")
        peer.expect("A", ack=RCV_NXT + 5)
        peer.send("R", seq=RCV_NXT, ack=None)        # was RCV.NXT: now old
        peer.expect_nothing()
        peer.send("R", seq=RCV_NXT + 5, ack=None)
        assert conn.state == "CLOSED"

    def test_challenge_acks_are_rate_limited(self, make_peer):
        # RFC 5961 7: at most challenge_ack_limit per second, stack-wide
        peer = make_peer(challenge_ack_limit=2)
        est(peer)
        for i in range(3):
            peer.send("R", seq=RCV_NXT + 1 + i, ack=None)
        assert len(peer.recv()) == 2
        peer.advance(1)
        peer.send("R", seq=RCV_NXT + 9, ack=None)
        peer.expect("A", ack=RCV_NXT)

    def test_unread_data_stays_readable_after_reset(self, peer, conn):
        peer.send("PA", seq=RCV_NXT, data=b"last words")
        peer.expect("A")
        peer.send("R", seq=RCV_NXT + 10, ack=None)
        assert conn.recv(100, timeout=0) == b"last words"
        with pytest.raises(ConnectionResetError):
            conn.recv(100, timeout=0)


# ---- fourth: SYN in a synchronized state (RFC 5961 4.2) ---------------------------

class TestSyn:

    def test_syn_in_window_gets_challenge_ack(self, peer, conn):
        peer.send("S", seq=RCV_NXT + 100, ack=None)
        peer.expect("A", seq=SND_NXT, ack=RCV_NXT)
        assert conn.state == "ESTABLISHED"

    def test_syn_at_rcv_nxt_gets_challenge_ack(self, peer, conn):
        peer.send("S", seq=RCV_NXT, ack=None)
        peer.expect("A", seq=SND_NXT, ack=RCV_NXT)
        assert conn.state == "ESTABLISHED"

    def test_old_syn_gets_ack(self, peer, conn):
        peer.send("S", seq=IRS, ack=None)
        peer.expect("A", seq=SND_NXT, ack=RCV_NXT)
        assert conn.state == "ESTABLISHED"

    def test_synack_in_window_gets_challenge_ack(self, peer, conn):
        peer.send("SA", seq=RCV_NXT + 10, ack=SND_NXT)
        peer.expect("A", seq=SND_NXT, ack=RCV_NXT)
        assert conn.state == "ESTABLISHED"

    def test_syn_data_is_not_delivered(self, peer, conn):
        peer.send("S", seq=RCV_NXT, ack=None, data=b"inject")
        peer.expect("A", ack=RCV_NXT)
        assert conn.readable == 0


# ---- fifth: ACK (RFC 9293, RFC 5961 5.2) -------------------------------------------

class TestAck:

    def test_ack_of_our_data_advances_snd_una(self, peer, conn):
        una = sent_data(peer, conn)
        peer.send("A", seq=RCV_NXT, ack=una)
        peer.expect_nothing()
        tcb = peer.tcb(conn)
        assert tcb["snd_una"] == una and tcb["t_rexmt"] == 0

    def test_partial_ack(self, peer, conn):
        sent_data(peer, conn)
        peer.send("A", seq=RCV_NXT, ack=SND_NXT + 7)
        assert peer.tcb(conn)["snd_una"] == SND_NXT + 7

    def test_ack_above_snd_max_gets_ack_and_drops(self, peer, conn):
        peer.send("PA", seq=RCV_NXT, ack=SND_NXT + 10, data=b"data")
        peer.expect("A", seq=SND_NXT, ack=RCV_NXT)
        assert conn.readable == 0
        assert peer.tcb(conn)["snd_una"] == SND_NXT

    def test_duplicate_ack_is_ignored(self, peer, conn):
        peer.send("A", seq=RCV_NXT, ack=SND_NXT)
        peer.send("A", seq=RCV_NXT, ack=SND_NXT)
        peer.expect_nothing()

    def test_old_ack_within_max_window_is_ignored(self, peer, conn):
        una = sent_data(peer, conn)
        peer.send("A", seq=RCV_NXT, ack=una)
        peer.send("A", seq=RCV_NXT, ack=una - WND)      # SND.UNA - MAX.SND.WND
        peer.expect_nothing()
        assert peer.tcb(conn)["snd_una"] == una

    def test_old_data_ack_within_max_window_delivers(self, peer, conn):
        peer.send("PA", seq=RCV_NXT, ack=SND_NXT - 1000, data=b"ok")
        peer.expect("A", ack=RCV_NXT + 2)
        assert conn.recv(10, timeout=0) == b"ok"

    def test_ack_far_below_snd_una_gets_challenge(self, peer, conn):
        peer.send("PA", seq=RCV_NXT, ack=SND_NXT - WND - 1, data=b"blind")
        peer.expect("A", seq=SND_NXT, ack=RCV_NXT)
        assert conn.readable == 0

    def test_segment_without_ack_bit_is_dropped(self, peer, conn):
        peer.send("P", seq=RCV_NXT, ack=None, data=b"noack")
        peer.expect_nothing()
        assert conn.readable == 0


# ---- seventh and eighth: text and FIN ----------------------------------------------

class TestData:

    def test_in_order_data_is_acked_and_readable(self, peer, conn):
        peer.send("PA", seq=RCV_NXT, data=b"hello")
        peer.expect("A", seq=SND_NXT, ack=RCV_NXT + 5)
        assert conn.recv(100, timeout=0) == b"hello"

    def test_out_of_order_gets_immediate_duplicate_ack(self, peer):
        conn = est(peer, quickack=0)          # even when ACKs are delayed
        peer.send("PA", seq=RCV_NXT + 5, data=b"world")
        peer.expect("A", ack=RCV_NXT)
        assert conn.readable == 0

    def test_filling_the_hole_acks_everything(self, peer):
        conn = est(peer, quickack=0)
        peer.send("PA", seq=RCV_NXT + 5, data=b"world")
        peer.expect("A", ack=RCV_NXT)
        peer.send("PA", seq=RCV_NXT, data=b"hello")
        peer.expect("A", ack=RCV_NXT + 10)
        assert conn.recv(100, timeout=0) == b"helloworld"

    def test_two_holes_fill_in_any_order(self, peer, conn):
        peer.send("PA", seq=RCV_NXT + 6, data=b"ghi")
        peer.expect("A", ack=RCV_NXT)
        peer.send("PA", seq=RCV_NXT + 3, data=b"def")
        peer.expect("A", ack=RCV_NXT)
        peer.send("PA", seq=RCV_NXT, data=b"abc")
        peer.expect("A", ack=RCV_NXT + 9)
        assert conn.recv(100, timeout=0) == b"abcdefghi"

    def test_fin_goes_to_close_wait_and_is_acked(self, peer, conn):
        peer.send("FA", seq=RCV_NXT)
        peer.expect("A", seq=SND_NXT, ack=RCV_NXT + 1)
        assert conn.state == "CLOSE_WAIT"
        assert conn.recv(10, timeout=0) == b""

    def test_fin_with_data(self, peer, conn):
        peer.send("FPA", seq=RCV_NXT, data=b"the end")
        peer.expect("A", ack=RCV_NXT + 8)
        assert conn.recv(100, timeout=0) == b"the end"
        assert conn.recv(100, timeout=0) == b""

    def test_fin_out_of_order_waits_for_the_hole(self, peer, conn):
        peer.send("FA", seq=RCV_NXT + 4, data=b"tail")
        peer.expect("A", ack=RCV_NXT)
        assert conn.state == "ESTABLISHED"
        peer.send("PA", seq=RCV_NXT, data=b"head")
        peer.expect("A", ack=RCV_NXT + 9)
        assert conn.state == "CLOSE_WAIT"
        assert conn.recv(100, timeout=0) == b"headtail"

    def test_bare_fin_out_of_order_is_remembered(self, peer, conn):
        peer.send("FA", seq=RCV_NXT + 3)
        peer.expect("A", ack=RCV_NXT)
        peer.send("PA", seq=RCV_NXT, data=b"abc")
        peer.expect("A", ack=RCV_NXT + 4)
        assert conn.state == "CLOSE_WAIT"

    def test_urgent_data_is_delivered_inline(self, peer, conn):
        peer.send("UPA", seq=RCV_NXT, data=b"ab!cd", urg=3)
        peer.expect("A", ack=RCV_NXT + 5)
        assert conn.recv(100, timeout=0) == b"ab!cd"

    def test_our_data_goes_out_with_the_right_numbers(self, peer, conn):
        conn.send(b"request")
        seg = peer.expect("PA", seq=SND_NXT, ack=RCV_NXT)
        assert payload(seg) == b"request"


# ---- window update (RFC 9293 3.10.7.4 fifth step: SND.WL1 / SND.WL2) ----------------

class TestWindowUpdate:

    def test_newer_ack_updates_the_window(self, peer, conn):
        peer.send("A", seq=RCV_NXT, ack=SND_NXT, win=1000)
        tcb = peer.tcb(conn)
        assert (tcb["snd_wnd"], tcb["snd_wl1"], tcb["snd_wl2"]) == (1000, RCV_NXT, SND_NXT)

    def test_older_segment_does_not_change_the_window(self, peer, conn):
        peer.send("PA", seq=RCV_NXT + 10, data=b"later", win=6000)
        peer.expect("A")
        peer.send("PA", seq=RCV_NXT, data=b"0123456789", win=100)   # sent earlier
        peer.expect("A", ack=RCV_NXT + 15)
        tcb = peer.tcb(conn)
        assert (tcb["snd_wnd"], tcb["snd_wl1"]) == (6000, RCV_NXT + 10)

    def test_older_ack_on_same_seq_does_not_shrink_the_window(self, peer, conn):
        una = sent_data(peer, conn)
        peer.send("A", seq=RCV_NXT, ack=una, win=3000)
        peer.send("A", seq=RCV_NXT, ack=una - 10, win=50)
        assert peer.tcb(conn)["snd_wnd"] == 3000

    def test_window_limits_what_we_send(self, peer):
        conn = est(peer, snd_wnd=10, nodelay=True)
        conn.send(b"x" * 25)
        peer.expect("A", seq=SND_NXT, data=b"x" * 10)
        peer.send("A", seq=RCV_NXT, ack=SND_NXT + 10, win=100)
        peer.expect("PA", seq=SND_NXT + 10, data=b"x" * 15)

    def test_reading_sends_no_update_when_the_edge_cannot_move(self, peer, conn):
        # Without window scaling the offer is capped at 65535, already out:
        # an "update" would announce the same edge (RFC 9293 3.8.6.2.2).
        peer.send("PA", seq=RCV_NXT, data=b"abcd")
        peer.expect("A", ack=RCV_NXT + 4, win=WND)
        assert conn.recv(10, timeout=0) == b"abcd"
        peer.expect_nothing()

    def test_window_scale_applies_to_updates(self, peer):
        conn = est(peer, snd_wscale=4, rcv_wscale=0)
        peer.send("A", seq=RCV_NXT, ack=SND_NXT, win=100)
        assert peer.tcb(conn)["snd_wnd"] == 1600
