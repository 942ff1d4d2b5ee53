"""TIME_WAIT records (docs/tcp.md): a connection in TIME_WAIT that nobody
holds lives on as a compact record in a bounded table, not as a control
block. The wire behaviour of TIME_WAIT itself (on a control block and on a
record alike) is in test_tcp_state_closing.py; here: RFC 6191 reuse with
timestamps, the bound and its recycling, the counters, and connect-request-
close at scale with a connection table far smaller than the TIME_WAITs."""
import pytest

import netchan
from netchan._testing import debug_time_wait
from conftest import CLIENT_IP, SERVER_IP, unique
from tcp_harness import IRS, ISS, LOCAL_PORT, PEER_IP, PEER_PORT

FIN = ISS + 1
RCV_NXT = IRS + 2          # after the peer's FIN
MSL = 30
TS_RECENT = 500

TW_COUNTERS = ("tcp_time_wait_created", "tcp_time_wait_expired", "tcp_time_wait_recycled",
               "tcp_time_wait_reused", "tcp_time_wait_reset")


def tw_counts(stack):
    s = stack.stats()
    return {k[len("tcp_time_wait_"):]: s[k] for k in TW_COUNTERS} | {"live": s["time_wait"]}


def balanced(c):
    return c["created"] == c["expired"] + c["recycled"] + c["reused"] + c["reset"] + c["live"]


def record(peer, **kw):
    """A TIME_WAIT record: a control block built in TIME_WAIT, let go of."""
    kw.setdefault("quickack", 16)
    conn = peer.connection("TIME_WAIT", **kw)
    conn.close()
    assert peer.stack.n_connections == 0
    return debug_time_wait(peer.stack)[0]


def ts(val, ecr=0):
    return [("Timestamp", (val, ecr))]


class TestRecord:

    def test_holds_what_time_wait_needs(self, peer):
        r = record(peer, ts_recent=TS_RECENT)
        assert r["local_port"] == LOCAL_PORT and r["remote"] == (PEER_IP, PEER_PORT)
        assert r["snd_nxt"] == FIN + 1 and r["rcv_nxt"] == RCV_NXT
        assert r["timestamps"] and r["ts_recent"] == TS_RECENT
        assert tw_counts(peer.stack) == dict(created=1, expired=0, recycled=0, reused=0,
                                             reset=0, live=1)

    def test_a_connection_closing_first_leaves_a_record_not_a_control_block(self, peer):
        conn = peer.established(quickack=16)
        conn.close()
        peer.expect("FA", seq=ISS + 1)
        peer.send("A", seq=IRS + 1, ack=ISS + 2)
        assert peer.stack.n_connections == 1            # FIN_WAIT_2
        peer.send("FA", seq=IRS + 1, ack=ISS + 2)
        peer.expect("A", seq=ISS + 2, ack=IRS + 2)      # the last ACK, from the control block
        assert peer.stack.n_connections == 0
        assert [r["rcv_nxt"] for r in debug_time_wait(peer.stack)] == [IRS + 2]
        peer.send("FA", seq=IRS + 1, ack=ISS + 2)       # retransmitted: the record answers
        peer.expect("A", seq=ISS + 2, ack=IRS + 2)

    @pytest.mark.parametrize("keep_handle", [False, True])
    def test_ack_carries_timestamps(self, peer, keep_handle):
        if keep_handle:         # the control block behaves the same
            peer.connection("TIME_WAIT", ts_recent=TS_RECENT)
        else:
            record(peer, ts_recent=TS_RECENT)
        peer.send("FA", seq=RCV_NXT - 1, ack=FIN + 1, options=ts(TS_RECENT + 7))
        seg = peer.expect("A", seq=FIN + 1, ack=RCV_NXT)
        val, ecr = dict(seg.options)["Timestamp"]
        assert ecr == TS_RECENT + 7
        peer.send("FA", seq=RCV_NXT - 1, ack=FIN + 1, options=ts(TS_RECENT + 6))
        peer.expect("A", seq=FIN + 1, ack=RCV_NXT)      # PAWS: older than TS.Recent
        assert peer.stack.stats()["tcp_paws_dropped"] == 1

    def test_paws_drops_an_old_segment_with_an_ack(self, peer):
        record(peer, ts_recent=TS_RECENT)
        peer.send("A", seq=RCV_NXT, ack=FIN + 1, options=ts(TS_RECENT - 1))
        peer.expect("A", seq=FIN + 1, ack=RCV_NXT)
        assert peer.stack.stats()["tcp_paws_dropped"] == 1

    def test_handle_closed_late_keeps_the_original_deadline(self, peer):
        conn = peer.connection("TIME_WAIT")
        peer.advance(MSL)
        conn.close()
        peer.advance(MSL - 0.001)
        assert len(debug_time_wait(peer.stack)) == 1
        peer.advance(0.001)
        assert debug_time_wait(peer.stack) == []
        assert tw_counts(peer.stack)["expired"] == 1

    def test_trace_shows_time_wait_until_the_record_ends(self, peer):
        netchan.trace_transitions()
        try:
            conn = peer.connection("FIN_WAIT_2")
            conn.close()
            peer.send("FA", seq=IRS + 1, ack=FIN + 1)
            peer.expect("A")
            peer.advance(2 * MSL)
            assert [(o, n) for _, _, o, n in netchan.trace_read()][-2:] == [
                ("FIN_WAIT_2", "TIME_WAIT"), ("TIME_WAIT", "CLOSED")]
        finally:
            netchan.trace_transitions(False)


# ---- reuse of the 4-tuple (RFC 6191; RFC 1122 4.2.2.13 without timestamps) -----------------

class TestReuse:

    @pytest.mark.parametrize("tsval, seq, taken", [
        (TS_RECENT + 1, IRS - 1000, True),     # newer timestamp: whatever the sequence number
        (TS_RECENT, IRS + 100000, True),       # equal timestamp, sequence number above
        (TS_RECENT, IRS - 1000, False),        # equal timestamp, sequence number below
        (TS_RECENT - 1, IRS + 100000, False),  # older timestamp (PAWS answers it)
    ])
    def test_with_timestamps_on_both(self, peer, tsval, seq, taken):
        record(peer, ts_recent=TS_RECENT)
        listener = peer.stack.listen(LOCAL_PORT)
        peer.send("S", seq=seq, ack=None, options=[("MSS", 1460)] + ts(tsval))
        if taken:
            sa = peer.expect("SA", ack=seq + 1)
            assert 65535 < (sa.seq - (FIN + 1)) % 2**32 < 2**31
            assert debug_time_wait(peer.stack) == [] and tw_counts(peer.stack)["reused"] == 1
        else:
            peer.expect("A", seq=FIN + 1, ack=RCV_NXT)
            assert len(debug_time_wait(peer.stack)) == 1

    def test_old_connection_without_timestamps_new_one_with_them(self, peer):
        record(peer)
        listener = peer.stack.listen(LOCAL_PORT)
        peer.send("S", seq=IRS - 1000, ack=None, options=ts(1))
        peer.expect("SA", ack=IRS - 999)

    def test_new_syn_without_timestamps_needs_a_higher_sequence_number(self, peer):
        record(peer, ts_recent=TS_RECENT)
        listener = peer.stack.listen(LOCAL_PORT)
        peer.send("S", seq=IRS - 1000, ack=None)
        peer.expect("A", seq=FIN + 1, ack=RCV_NXT)
        peer.send("S", seq=IRS + 100000, ack=None)
        peer.expect("SA", ack=IRS + 100001)

    def test_our_own_connect_takes_the_4_tuple(self, peer):
        record(peer)
        conn = peer.stack.connect((PEER_IP, PEER_PORT), timeout=0, source_port=LOCAL_PORT)
        syn = peer.expect("S")
        assert debug_time_wait(peer.stack) == [] and tw_counts(peer.stack)["reused"] == 1
        assert conn.state == "SYN_SENT" and syn.dport == PEER_PORT


# ---- the bound ---------------------------------------------------------------------------

class TestBound:

    def test_full_table_recycles_the_oldest(self, make_peer):
        peer = make_peer(max_time_wait=2)
        for port in (1001, 1002, 1003):
            conn = netchan._testing.debug_connection(
                peer.stack, "TIME_WAIT", port, (PEER_IP, PEER_PORT), iss=ISS, irs=IRS)
            conn.close()
            peer.advance(1)
        assert [r["local_port"] for r in debug_time_wait(peer.stack)] == [1002, 1003]
        assert tw_counts(peer.stack) == dict(created=3, expired=0, recycled=1, reused=0,
                                             reset=0, live=2)
        # the recycled 4-tuple is unknown now: a segment for it is answered by a RST
        peer.send("FA", seq=IRS + 1, ack=FIN + 1, dport=1001)
        peer.expect("R", seq=FIN + 1)
        peer.send("FA", seq=IRS + 1, ack=FIN + 1, dport=1002)
        peer.expect("A", seq=FIN + 1, ack=RCV_NXT)

    def test_max_time_wait_is_checked(self):
        from netchan.config import stack_config
        assert stack_config().max_time_wait == 65536
        with pytest.raises(ValueError, match="max_time_wait=0"):
            stack_config(max_time_wait=0)
        with pytest.raises(TypeError, match="max_time_wait"):
            stack_config(max_time_wait=1.5)


# ---- at scale ----------------------------------------------------------------------------

def test_connect_request_close_at_scale(vclock):
    """Well over 100,000 connections, one after another, from one client:
    the server closes first on even ones, the client on odd ones. With 64
    connection slots on each side, every TIME_WAIT is a record: the tables
    fill and recycle (client, 4096 records), records are taken over by the
    client's next SYN on a port it used before (server: 16,384 ephemeral
    ports, 2 MSL = 60 s, 1 ms of virtual time per connection), and expire
    when the clock jumps. Nothing fails and every record is accounted for."""
    name = unique("tw")
    common = dict(clock=vclock, max_conns=64, delayed_ack=0, export_stats=False)
    server = netchan.Stack(f"pair:{name}", ip=f"{SERVER_IP}/15", seed=1, **common)
    client = netchan.Stack(f"pair:{name}", ip=f"{CLIENT_IP}/15", seed=2, max_time_wait=4096,
                           **common)
    try:
        listener = server.listen(80, backlog=64)
        n = 120_000
        for i in range(n):
            c = client.connect((SERVER_IP, 80), timeout=5)
            s = listener.accept(timeout=5)
            c.sendall(b"GET /")
            assert s.recv(64, timeout=5) == b"GET /"
            s.sendall(b"200 OK")
            assert c.recv(64, timeout=5) == b"200 OK"
            first, second = (s, c) if i % 2 == 0 else (c, s)
            first.close()
            assert second.recv(64, timeout=5) == b""
            second.close()
            vclock.advance(1_000_000)
            if i % 40_000 == 39_999:
                server.run_until(lambda: server.n_connections == client.n_connections == 0,
                                 timeout=5)
                vclock.advance(2 * MSL * 10**9)             # every record expires
                server.poll()
                client.poll()
                assert server.stats()["time_wait"] == client.stats()["time_wait"] == 0
            assert server.n_connections <= 2 and client.n_connections <= 2
        server.run_until(lambda: server.n_connections == 0 and client.n_connections == 0,
                         timeout=5)
        for stack in (server, client):
            st = stack.stats()
            assert st["tcp_conn_table_full"] == 0 and st["tcp_timeouts"] == 0
            assert st["tcp_established"] == n
            c = tw_counts(stack)
            assert balanced(c), c
            assert c["created"] == n // 2 and c["expired"] > 0, c
        s, c = tw_counts(server), tw_counts(client)
        assert s["reused"] > 10_000 and s["recycled"] == 0, s       # RFC 6191 takeovers
        assert c["recycled"] > 40_000, c                            # the bound at work
        assert client.stats()["time_wait"] <= 4096
    finally:
        client.close()
        server.close()
