"""RFC 6528 initial sequence numbers, RFC 4987 SYN cookies and the RFC 5961
challenge-ACK rate limit."""
import pytest

from netchan._testing import debug_connection
from tcp_harness import IRS, ISS, LOCAL_PORT, MASK, PEER_IP, PEER_PORT, options
from tcp_tools import counter, ts  # noqa: F401

BASIC = [("MSS", 1460)]


def syn(peer, sport=PEER_PORT, irs=IRS, opts=BASIC, **kw):
    peer.send("S", seq=irs, ack=None, sport=sport, options=opts, **kw)


def isn_for(peer, sport):
    syn(peer, sport=sport)
    return peer.expect("SA", ack=IRS + 1).seq


# ---- RFC 6528 ISNs ----------------------------------------------------------------

def test_isn_differs_per_four_tuple(peer):
    listener = peer.stack.listen(LOCAL_PORT)
    a, b = isn_for(peer, 40001), isn_for(peer, 40002)
    assert (a - b) & MASK not in (0, 1, 2)


def test_isn_grows_with_a_4_microsecond_clock(peer):
    listener = peer.stack.listen(LOCAL_PORT)
    a = isn_for(peer, 40001)
    peer.send("R", seq=IRS + 1, ack=None, sport=40001)      # forget the half-open one
    peer.advance(1)
    b = isn_for(peer, 40001)
    assert (b - a) & MASK == 1_000_000 // 4


def test_isn_is_reproducible_with_a_seed(make_peer):
    isns = []
    for seed in (5, 5, 6):
        peer = make_peer(seed=seed)
        listener = peer.stack.listen(LOCAL_PORT)
        isns.append(isn_for(peer, 40001))
    assert isns[0] == isns[1] != isns[2]


# ---- RFC 4987 SYN cookies -----------------------------------------------------------

def full_listener(peer, backlog=2):
    """A listener whose SYN queue is full of half-open connections (kept by
    the peer: a listener nobody holds is closed)."""
    listener = peer.listener = peer.stack.listen(LOCAL_PORT, backlog=backlog)
    for i in range(backlog):
        syn(peer, sport=41000 + i, irs=9000)
        peer.expect("SA")
    return listener


def cookie_handshake(peer, syn_opts=BASIC, ack_opts=None, ack_win=65535, data=b""):
    listener = full_listener(peer)
    syn(peer, opts=syn_opts)
    synack = peer.expect("SA", ack=IRS + 1)
    if callable(ack_opts):
        ack_opts = ack_opts(synack)
    peer.send("PA" if data else "A", seq=IRS + 1, ack=synack.seq + 1, win=ack_win,
              options=ack_opts, data=data)
    return synack, listener.accept(timeout=0)


def test_full_syn_queue_answers_with_a_stateless_cookie(peer):
    full_listener(peer)
    conns = peer.stack.n_connections
    syn(peer)
    synack = peer.expect("SA", ack=IRS + 1)
    assert options(synack)["MSS"] == 1460
    assert counter(peer.stack, "tcp_syncookies_sent") == 1
    assert peer.stack.n_connections == conns         # no state kept


def test_cookie_ack_creates_an_established_connection(peer):
    synack, conn = cookie_handshake(peer)
    assert conn.state == "ESTABLISHED"
    assert conn.info()["snd_una"] == synack.seq + 1
    assert counter(peer.stack, "tcp_syncookies_ok") == 1


def test_cookie_ack_carrying_data_delivers_it(peer):
    synack, conn = cookie_handshake(peer, data=b"hello")
    assert conn.recv(10, timeout=0) == b"hello"


def test_cookie_carries_the_mss_from_its_table(peer):
    synack, conn = cookie_handshake(peer, syn_opts=[("MSS", 1400)])
    assert conn.mss == 1360                         # the largest table entry <= 1400


def test_cookie_carries_window_scale(peer):
    synack, conn = cookie_handshake(peer, syn_opts=BASIC + [("WScale", 9)], ack_win=100)
    assert "WScale" in options(synack)
    assert conn.info()["snd_wscale"] == 9 and conn.info()["snd_wnd"] == 100 << 9


def test_cookie_without_window_scale(peer):
    synack, conn = cookie_handshake(peer, ack_win=100)
    assert "WScale" not in options(synack)
    assert conn.info()["snd_wscale"] is None and conn.info()["snd_wnd"] == 100


@pytest.mark.parametrize("offered", [True, False])
def test_cookie_carries_sack_permitted(peer, offered):
    opts = BASIC + ([("SAckOK", b"")] if offered else [])
    synack, conn = cookie_handshake(peer, syn_opts=opts)
    assert ("SAckOK" in options(synack)) == offered
    assert conn.info()["sack"] == offered


def test_cookie_connection_has_timestamps_when_the_ack_has_them(peer):
    synack, conn = cookie_handshake(peer, syn_opts=BASIC + [ts(77)],
                                    ack_opts=lambda sa: [ts(78, options(sa)["Timestamp"][0])])
    assert options(synack)["Timestamp"][1] == 77
    assert conn.info()["timestamps"]
    assert conn.mss == 1460 - 12
    conn.send(b"x")
    assert options(peer.expect("PA"))["Timestamp"][1] == 78


def test_cookie_connection_without_timestamps_when_the_ack_has_none(peer):
    synack, conn = cookie_handshake(peer, syn_opts=BASIC + [ts(77)])
    assert "Timestamp" in options(synack)
    assert not conn.info()["timestamps"] and conn.mss == 1460


def test_forged_cookie_ack_gets_a_rst(peer):
    full_listener(peer)
    syn(peer)
    synack = peer.expect("SA")
    forged = synack.seq + 1 + (1 << 8)              # not our cookie
    peer.send("A", seq=IRS + 1, ack=forged)
    peer.expect("R", seq=forged)
    assert counter(peer.stack, "tcp_syncookies_failed") == 1
    assert counter(peer.stack, "tcp_syncookies_ok") == 0


def test_cookie_option_bits_are_authenticated(peer):
    """The low bits (MSS index, window scale, SACK-permitted) are covered by
    the MAC too: a peer cannot turn on SACK or pick another MSS by editing them."""
    full_listener(peer)
    syn(peer)
    synack = peer.expect("SA")
    forged = (synack.seq ^ 1) + 1                   # SACK-permitted bit flipped
    peer.send("A", seq=IRS + 1, ack=forged)
    peer.expect("R", seq=forged)
    assert counter(peer.stack, "tcp_syncookies_failed") == 1


def test_old_cookie_ack_gets_a_rst(peer):
    full_listener(peer)
    syn(peer)
    synack = peer.expect("SA")
    peer.advance(127.5)                             # two 64-second counts later
    peer.recv()                                     # (the half-open ones' SYN-ACK retries)
    peer.send("A", seq=IRS + 1, ack=synack.seq + 1)
    peer.expect("R", seq=synack.seq + 1)
    assert counter(peer.stack, "tcp_syncookies_failed") == 1


def test_cookie_from_the_previous_count_is_accepted(peer):
    full_listener(peer)
    syn(peer)
    synack = peer.expect("SA")
    peer.advance(64)                                # the next count: still valid
    peer.send("A", seq=IRS + 1, ack=synack.seq + 1)
    assert counter(peer.stack, "tcp_syncookies_ok") == 1


def test_cookie_is_bound_to_the_peer_isn(peer):
    full_listener(peer)
    syn(peer)
    synack = peer.expect("SA")
    peer.send("A", seq=IRS + 2, ack=synack.seq + 1)        # a different SYN's ISN
    peer.expect("R")
    assert counter(peer.stack, "tcp_syncookies_failed") == 1


def test_syn_dropped_and_counted_without_cookies(make_peer):
    peer = make_peer(syncookies=False)
    full_listener(peer)
    syn(peer)
    peer.expect_nothing()
    assert counter(peer.stack, "tcp_listen_overflow") == 1
    assert counter(peer.stack, "tcp_syncookies_sent") == 0


# ---- RFC 5961 7: challenge ACK rate limit ------------------------------------------------

def test_challenge_acks_are_rate_limited_per_second(make_peer):
    peer = make_peer(challenge_ack_limit=2)
    peer.established()
    for _ in range(3):
        peer.send("R", seq=IRS + 100, ack=None)     # in the window, not RCV.NXT
    assert len(peer.recv()) == 2
    assert counter(peer.stack, "tcp_challenge_acks") == 2
    peer.advance(1)
    peer.send("R", seq=IRS + 100, ack=None)
    peer.expect("A", seq=ISS + 1, ack=IRS + 1)      # a new second, a new budget


def test_challenge_ack_limit_is_shared_by_all_connections(make_peer):
    peer = make_peer(challenge_ack_limit=2)
    peer.established()
    other = debug_connection(peer.stack, "ESTABLISHED", LOCAL_PORT,  # noqa: F841 (held)
                             (PEER_IP, PEER_PORT + 1), iss=ISS, irs=IRS)
    peer.send("S", seq=IRS + 100, ack=None)         # SYN in ESTABLISHED: challenge
    peer.send("R", seq=IRS + 100, ack=None, sport=PEER_PORT + 1)
    peer.send("R", seq=IRS + 100, ack=None, sport=PEER_PORT + 1)
    assert len(peer.recv()) == 2
    assert counter(peer.stack, "tcp_challenge_acks") == 2
