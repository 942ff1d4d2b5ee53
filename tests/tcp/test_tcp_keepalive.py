"""Keepalive (RFC 9293 3.8.4, RFC 1122 4.2.3.6): after `idle` seconds
without input, probes `interval` apart (SEG.SEQ = SND.NXT - 1, no data);
an answer keeps the connection, `count` unanswered probes end it."""
import pytest

import netchan
from conftest import unique
from tcp_harness import IRS, ISS, LOCAL_PORT, payload
from tcp_tools import ack, counter  # noqa: F401


def keepalive_conn(peer, idle=10, interval=5, count=3):
    conn = peer.established()
    conn.set_keepalive(idle, interval, count)
    return conn


def test_first_probe_after_the_idle_time(peer):
    keepalive_conn(peer)
    peer.advance(9.999)
    peer.expect_nothing()
    peer.advance(0.001)
    probe = peer.expect("A", seq=ISS, ack=IRS + 1)          # SND.NXT - 1
    assert payload(probe) == b""
    assert counter(peer.stack, "tcp_keepalive_probes") == 1


def test_probe_sequence_is_snd_nxt_minus_one_after_data(peer):
    conn = keepalive_conn(peer)
    conn.send(b"x" * 100)
    peer.recv()
    ack(peer, ISS + 101)
    peer.advance(10)
    peer.expect("A", seq=ISS + 100)


def test_answered_probes_keep_the_connection(peer):
    conn = keepalive_conn(peer)
    for _ in range(5):
        peer.advance(10)
        peer.expect("A", seq=ISS)
        ack(peer, ISS + 1)                          # the answer: an ACK of SND.NXT
    assert conn.state == "ESTABLISHED"
    assert counter(peer.stack, "tcp_keepalive_probes") == 5


def test_unanswered_probes_end_the_connection_with_timeout_error(peer):
    conn = keepalive_conn(peer)
    peer.advance(10)
    for _ in range(2):
        peer.expect("A", seq=ISS)
        peer.advance(5)
    peer.expect("A", seq=ISS)                       # the third and last probe
    peer.advance(4.999)
    peer.expect_nothing()
    peer.advance(0.001)
    peer.expect("RA", seq=ISS + 1)
    assert conn.state == "CLOSED"
    with pytest.raises(TimeoutError):
        conn.recv(1)


def test_input_restarts_the_idle_time(peer):
    keepalive_conn(peer)
    peer.advance(8)
    peer.send("PA", seq=IRS + 1, ack=ISS + 1, data=b"hi")
    peer.advance(0.04)
    peer.expect("A")                                # the delayed ACK of the data
    peer.advance(9.9)
    peer.expect_nothing()                           # 9.94 s since the data
    peer.advance(0.06)
    peer.expect("A", seq=ISS)


def test_an_answer_between_probes_resets_the_count(peer):
    conn = keepalive_conn(peer, count=2)
    peer.advance(10)
    peer.expect("A", seq=ISS)
    peer.advance(5)
    peer.expect("A", seq=ISS)
    ack(peer, ISS + 1)                              # answered at the last moment
    peer.advance(10)
    peer.expect("A", seq=ISS)                       # probing starts over after idle
    assert conn.state == "ESTABLISHED"


def test_keepalive_off(peer):
    conn = keepalive_conn(peer)
    conn.set_keepalive(None)
    peer.advance(100)
    peer.expect_nothing()
    assert conn.state == "ESTABLISHED"


def test_keepalive_is_off_by_default(peer):
    peer.established()
    peer.advance(3 * 3600)
    peer.expect_nothing()


def test_stack_default_applies_to_accepted_connections(make_peer):
    peer = make_peer(keepalive=(20, 1, 2))
    listener = peer.stack.listen(LOCAL_PORT)
    peer.send("S", seq=IRS, ack=None, options=[("MSS", 1460)])
    synack = peer.expect("SA")
    peer.send("A", seq=IRS + 1, ack=synack.seq + 1)
    conn = listener.accept(timeout=0)
    peer.advance(20)
    peer.expect("A", seq=synack.seq)
    peer.advance(1)
    peer.expect("A", seq=synack.seq)
    peer.advance(1)
    peer.expect("RA")
    assert conn.state == "CLOSED"


@pytest.mark.parametrize("bad", [(0, 1, 1), (10, 0, 1), (10, 1, 0), (10, 1, 300)])
def test_bad_keepalive_settings_are_refused(vclock, bad):
    with pytest.raises(ValueError, match="keepalive"):
        netchan.Stack(f"pair:{unique('ka')}", clock=vclock, keepalive=bad)


def test_refused_settings_leave_the_link_free(vclock):
    name = unique("ka")
    for _ in range(2):
        with pytest.raises(ValueError):
            netchan.Stack(f"pair:{name}", clock=vclock, keepalive=(10, 1, 0))
        with pytest.raises(ValueError):
            netchan.Stack(f"pair:{name}", clock=vclock, cc="vegas")
        with pytest.raises(OSError, match="window arenas"):    # refused after the port opened
            netchan.Stack(f"pair:{name}", clock=vclock, mtu=1500, max_conns=1 << 20,
                          rcvbuf=1 << 30)
    a = netchan.Stack(f"pair:{name}", ip="198.18.0.1/15", clock=vclock)
    a.close()
