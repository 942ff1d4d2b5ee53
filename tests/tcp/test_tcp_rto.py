"""RFC 6298: the retransmission timer. RTT samples, Karn's rule, backoff,
the rto_min / rto_max bounds, giving up (max_retries, syn_retries), and when
the timer runs. Times are read on the virtual clock."""
import pytest

import netchan
from conftest import unique
from tcp_harness import IRS, ISS, LOCAL_PORT, PEER_IP, PEER_PORT, payload
from tcp_tools import MSS, ack, advance_to, at, counter, send_segments  # noqa: F401


def test_initial_rto_is_one_second(peer):
    conn = peer.established()
    conn.send(b"x" * 100)
    peer.expect("PA", seq=ISS + 1)
    peer.advance(0.999)
    peer.expect_nothing()
    peer.advance(0.001)
    peer.expect("PA", seq=ISS + 1, data=b"x" * 100)


def test_first_sample_sets_srtt_and_half_rttvar(make_peer):
    peer = make_peer(rto_min=0.01)
    conn = peer.established()
    conn.send(b"x" * 100)
    peer.recv()
    peer.advance(0.1)
    ack(peer, ISS + 101)
    assert conn.srtt == pytest.approx(0.1)
    assert conn.rttvar == pytest.approx(0.05)
    assert conn.rto == pytest.approx(0.1 + 4 * 0.05)       # srtt + 4 rttvar, above rto_min


def test_first_sample_rto_floored_at_one_second_by_default(peer):
    conn = peer.established()
    conn.send(b"x" * 100)
    peer.recv()
    peer.advance(0.1)
    ack(peer, ISS + 101)
    assert conn.srtt == pytest.approx(0.1)
    assert conn.rto == pytest.approx(1.0)


def test_later_samples_smooth_with_alpha_and_beta(make_peer):
    peer = make_peer(rto_min=0.01)
    conn = peer.established()
    for i, r in enumerate((0.1, 0.25)):             # 0.25 < the RTO of 0.3 s
        conn.send(b"x" * 100)
        peer.recv()
        peer.advance(r)
        ack(peer, ISS + 1 + 100 * (i + 1))
    # rttvar = 3/4 * 0.05 + 1/4 * |0.1 - 0.25|, srtt = 7/8 * 0.1 + 1/8 * 0.25
    assert conn.rttvar == pytest.approx(0.075)
    assert conn.srtt == pytest.approx(0.11875)
    assert conn.rto == pytest.approx(0.11875 + 4 * 0.075)


def test_rto_min_is_configurable(make_peer):
    peer = make_peer(rto_min=0.2)
    conn = peer.established()
    conn.send(b"x" * 100)
    peer.recv()
    peer.advance(0.01)
    ack(peer, ISS + 101)
    assert conn.rto == pytest.approx(0.2)           # 0.01 + 4 * 0.005 is below the floor


def test_rto_bounds_must_be_ordered(vclock):
    with pytest.raises(ValueError, match="rto_min <= rto_initial <= rto_max"):
        netchan.Stack(f"pair:{unique('rto')}", clock=vclock, rto_min=2.0, rto_initial=1.0)


def test_karn_no_sample_from_a_retransmitted_segment(make_peer):
    peer = make_peer(rto_min=0.01)
    conn = peer.established()
    conn.send(b"x" * 100)
    peer.recv()
    peer.advance(1.0)
    peer.expect("PA", seq=ISS + 1)                  # retransmitted
    peer.advance(0.05)
    ack(peer, ISS + 101)                            # ambiguous: first copy or second?
    assert conn.srtt == 0 and conn.rttvar == 0
    # the next new segment is timed again
    conn.send(b"y" * 100)
    peer.recv()
    peer.advance(0.02)
    ack(peer, ISS + 201)
    assert conn.srtt == pytest.approx(0.02)


def test_one_segment_is_timed_at_a_time(make_peer):
    """The sample comes from the timed (first) segment's send time, not
    from a later segment the same ACK covers."""
    peer = make_peer(rto_min=0.01)
    conn = peer.established()
    send_segments(peer, conn, 1)
    peer.advance(0.1)
    assert len(send_segments(peer, conn, 1)) == 1
    peer.advance(0.1)
    ack(peer, ISS + 1 + 2 * MSS)
    assert conn.srtt == pytest.approx(0.2)


def test_backoff_doubles_per_timeout(peer):
    conn = peer.established()
    conn.send(b"x" * 100)
    peer.recv()
    start = peer.clock.now_ns
    for fire_at in (1, 3, 7, 15, 31):              # intervals 1, 2, 4, 8, 16 s
        advance_to(peer, start + int((fire_at - 0.001) * 1e9))
        peer.expect_nothing()
        advance_to(peer, start + int(fire_at * 1e9))
        peer.expect("PA", seq=ISS + 1)
    assert peer.tcb(conn)["backoff"] == 5


def test_backoff_is_capped_at_rto_max(make_peer):
    peer = make_peer(rto_max=4.0)
    conn = peer.established()
    conn.send(b"x" * 100)
    peer.recv()
    start = peer.clock.now_ns
    for fire_at in (1, 3, 7, 11, 15):              # 1, 2, 4, then 4, 4
        advance_to(peer, start + int((fire_at - 0.001) * 1e9))
        peer.expect_nothing()
        advance_to(peer, start + int(fire_at * 1e9))
        peer.expect("PA", seq=ISS + 1)


def test_rto_from_samples_is_capped_at_rto_max(make_peer):
    peer = make_peer(rto_max=2.0, rto_initial=1.0)
    conn = peer.established()
    conn.send(b"x" * 100)
    peer.recv()
    peer.advance(0.9)                               # 0.9 + 4 * 0.45 = 2.7 > rto_max
    ack(peer, ISS + 101)
    assert conn.rto == pytest.approx(2.0)


def test_new_ack_restarts_the_timer_for_the_rest(make_peer):
    peer = make_peer(rto_min=0.01)
    conn = peer.established()
    send_segments(peer, conn, 2)
    peer.advance(0.5)
    ack(peer, ISS + 1 + MSS)                        # first segment acked at 0.5 s
    rto = conn.rto
    restarted = peer.clock.now_ns
    assert peer.tcb(conn)["t_rexmt"] == restarted + int(rto * 1e9)
    advance_to(peer, restarted + int(rto * 1e9) - 1_000_000)
    peer.expect_nothing()
    advance_to(peer, restarted + int(rto * 1e9))
    peer.expect("PA", seq=ISS + 1 + MSS)            # only the second segment


def test_rto_resends_only_data_already_sent(peer):
    """The first unacked segment was short (the peer's window was 100
    bytes): the timeout resends those 100 bytes, not a full segment of
    never-sent data beyond SND.MAX and the window."""
    conn = peer.established(snd_wnd=100)
    conn.send(b"x" * 3000)
    peer.expect("A", seq=ISS + 1, data=b"x" * 100)
    peer.advance(1)
    peer.expect("A", seq=ISS + 1, data=b"x" * 100)
    ack(peer, ISS + 101, win=65535)                 # the ACK of it is acceptable
    assert conn.info()["snd_una"] == ISS + 101
    assert [len(payload(s)) for s in peer.recv()] == [MSS]     # sending resumes (cwnd 1 MSS + 100)


def test_timer_stops_when_everything_is_acked(peer):
    conn = peer.established()
    conn.send(b"x" * 100)
    peer.recv()
    assert peer.tcb(conn)["t_rexmt"] != 0
    ack(peer, ISS + 101)
    assert peer.tcb(conn)["t_rexmt"] == 0
    peer.advance(10)
    peer.expect_nothing()


def test_new_ack_resets_the_backoff(peer):
    conn = peer.established()
    send_segments(peer, conn, 2)
    peer.advance(1)
    peer.advance(2)
    assert len(peer.recv()) == 2                    # two timeouts: backoff 2
    ack(peer, ISS + 1 + MSS)
    assert peer.tcb(conn)["backoff"] == 0 and peer.tcb(conn)["retries"] == 0


def test_max_retries_then_rst_and_timeout_error(make_peer):
    peer = make_peer(max_retries=3)
    conn = peer.established()
    conn.send(b"x" * 100)
    peer.recv()
    for dt in (1, 2, 4):
        peer.advance(dt)
        peer.expect("PA", seq=ISS + 1)
    peer.advance(8)                                 # the 4th timeout: give up
    peer.expect("RA", seq=ISS + 101)
    assert conn.state == "CLOSED"
    assert counter(peer.stack, "tcp_timeouts") == 1
    with pytest.raises(TimeoutError):
        conn.recv(10)


def test_syn_retransmitted_with_backoff_then_connection_fails(make_peer):
    peer = make_peer(syn_retries=2)
    conn = peer.connection("SYN_SENT")
    start = peer.clock.now_ns
    for fire_at in (1, 3):
        advance_to(peer, start + int((fire_at - 0.001) * 1e9))
        peer.expect_nothing()
        advance_to(peer, start + int(fire_at * 1e9))
        peer.expect("S", seq=ISS)
    advance_to(peer, start + int(7 * 1e9))
    peer.expect_nothing()                           # no RST for a connection never opened
    assert conn.state == "CLOSED"
    with pytest.raises(TimeoutError):
        conn.send(b"x")


def test_connect_gives_up_after_syn_retries(make_peer):
    peer = make_peer(syn_retries=3)
    with pytest.raises(TimeoutError):
        peer.stack.connect((PEER_IP, PEER_PORT))
    syns = peer.recv()
    assert [str(s.flags) for s in syns] == ["S"] * 4        # first SYN + 3 retries
    assert len({s.seq for s in syns}) == 1


def test_synack_of_a_retransmitted_syn_gives_no_rtt_sample(make_peer):
    peer = make_peer(rto_min=0.01)
    conn = peer.connection("SYN_SENT")
    peer.advance(1)
    peer.expect("S", seq=ISS)
    peer.advance(0.01)
    peer.send("SA", seq=IRS, ack=ISS + 1)
    peer.expect("A", ack=IRS + 1)
    assert conn.state == "ESTABLISHED" and conn.srtt == 0
