"""One TCP control block tested alone, as smoltcp tests its socket: no port,
no classifier, no channel, no poll loop (netchan._testing.TcbHarness).
Each test builds the connection in a state, feeds it segments with
feed(bytes, now), and asserts on the exact segments dispatch(now) returns;
timers fire only when tick(now) is called. Time is always passed in.

Conventions as in tests/tcp_harness.py: we are 198.18.0.1:80 with ISS, the
peer is 198.18.0.2:49152 with IRS; segments are built and dissected with
scapy's TCP() (TCP header + payload, no IP: the harness checks no checksum
on input and strips IPv4/Ethernet on output)."""
import errno

import pytest
from scapy.all import IP, TCP, Ether, Raw

from netchan._testing import TcbHarness

ISS = 1000
IRS = 5000
LOCAL_PORT = 80
PEER_PORT = 49152
T0 = 1_000_000_000          # the harness's creation time (ns)
MS = 1_000_000
S = 1_000_000_000
MSS = 1460


def seg(flags="A", seq=IRS + 1, ack=ISS + 1, data=b"", win=65535, options=None):
    """The bytes of one segment from the peer."""
    pkt = TCP(sport=PEER_PORT, dport=LOCAL_PORT, flags=flags, seq=seq & 0xFFFFFFFF,
              ack=ack & 0xFFFFFFFF, window=win, options=options or [])
    return bytes(pkt / Raw(data)) if data else bytes(pkt)


def sent(h, now):
    """The segments the control block sends at `now`, dissected."""
    return [TCP(b) for b in h.dispatch(now)]


def payload(s):
    return bytes(s.payload) if s.payload else b""


def check(s, flags, seq, ack, data=b"", win=None):
    assert str(s.flags) == str(TCP(flags=flags).flags), s.summary()
    assert (s.sport, s.dport) == (LOCAL_PORT, PEER_PORT)
    assert s.seq == seq and s.ack == ack, f"seq={s.seq} ack={s.ack}"
    assert payload(s) == data
    if win is not None:
        assert s.window == win


def test_syn_sent_synack_establishes_and_acks_once():
    h = TcbHarness("SYN_SENT", iss=ISS)
    assert h.timers == {"rexmt": T0 + S}        # the SYN is out, timed
    h.feed(seg("SA", seq=IRS, ack=ISS + 1, options=[("MSS", 1000)]), T0 + 10 * MS)
    [ack] = sent(h, T0 + 10 * MS)
    check(ack, "A", ISS + 1, IRS + 1)
    assert h.state == "ESTABLISHED"
    assert (h.snd_una, h.snd_nxt, h.rcv_nxt, h.mss) == (ISS + 1, ISS + 1, IRS + 1, 1000)
    assert h.timers == {}
    assert sent(h, T0 + 20 * MS) == []


def test_syn_retransmitted_at_rto_with_backoff():
    h = TcbHarness("SYN_SENT")
    assert h.tick(T0 + S - 1) == [] and sent(h, T0 + S - 1) == []
    assert h.tick(T0 + S) == ["rexmt"]
    [syn] = sent(h, T0 + S)
    check(syn, "S", ISS, 0)
    assert dict(syn.options)["MSS"] == MSS
    assert h.backoff == 1
    assert h.timers == {"rexmt": T0 + S + 2 * S}    # doubled (RFC 6298 5.5)


def test_in_order_data_is_acked_by_the_delayed_ack_timer():
    h = TcbHarness()
    h.feed(seg("PA", data=b"a" * 100), T0 + 1 * MS)
    assert h.rcv_nxt == IRS + 101 and h.readable == 100
    assert sent(h, T0 + 1 * MS) == []                  # the ACK waits
    assert h.timers == {"delack": T0 + 41 * MS}         # delayed_ack=0.04
    assert h.tick(T0 + 40 * MS) == [] and sent(h, T0 + 40 * MS) == []
    assert h.tick(T0 + 41 * MS) == ["delack"]
    [ack] = sent(h, T0 + 41 * MS)
    check(ack, "A", ISS + 1, IRS + 101)
    assert h.timers == {}
    assert h.recv() == b"a" * 100


def test_second_full_segment_is_acked_at_once():
    h = TcbHarness()
    h.feed(seg("A", data=b"a" * MSS), T0 + MS)
    h.feed(seg("A", seq=IRS + 1 + MSS, data=b"b" * MSS), T0 + MS)
    [ack] = sent(h, T0 + MS)
    check(ack, "A", ISS + 1, IRS + 1 + 2 * MSS)
    assert "delack" not in h.timers


def test_out_of_window_segment_gets_a_duplicate_ack():
    h = TcbHarness()
    h.feed(seg("PA", seq=IRS + 1 + 70000, data=b"zz"), T0 + MS)    # beyond 65535
    [ack] = sent(h, T0 + MS)
    check(ack, "A", ISS + 1, IRS + 1)
    assert h.rcv_nxt == IRS + 1 and h.readable == 0
    assert h.counters["tcp_bad_seq"] == 1


def test_out_of_order_data_gets_an_immediate_ack_with_sack():
    h = TcbHarness(sack=True)
    h.feed(seg("A", seq=IRS + 101, data=b"b" * 100), T0 + MS)       # [100, 200) first
    [ack] = sent(h, T0 + MS)
    check(ack, "A", ISS + 1, IRS + 1)
    assert dict(ack.options)["SAck"] == (IRS + 101, IRS + 201)
    h.feed(seg("A", seq=IRS + 1, data=b"a" * 100), T0 + 2 * MS)     # the hole filled
    [ack] = sent(h, T0 + 2 * MS)
    check(ack, "A", ISS + 1, IRS + 201)
    assert h.recv() == b"a" * 100 + b"b" * 100


def test_rst_in_window_but_not_exact_gets_a_challenge_ack():
    h = TcbHarness()
    h.feed(seg("R", seq=IRS + 10, ack=0), T0 + MS)
    [ack] = sent(h, T0 + MS)                            # RFC 5961 3.2
    check(ack, "A", ISS + 1, IRS + 1)
    assert h.state == "ESTABLISHED"
    assert h.counters["tcp_challenge_acks"] == 1


def test_rst_at_rcv_nxt_closes():
    h = TcbHarness()
    h.feed(seg("R", seq=IRS + 1, ack=0), T0 + MS)
    assert sent(h, T0 + MS) == []
    assert h.state == "CLOSED"
    assert h.soerror == errno.ECONNRESET
    assert h.timers == {}


def test_fin_moves_to_close_wait_and_is_acked_at_once():
    h = TcbHarness()
    h.feed(seg("FPA", data=b"bye"), T0 + MS)
    [ack] = sent(h, T0 + MS)
    check(ack, "A", ISS + 1, IRS + 5)                   # 3 bytes + the FIN
    assert h.state == "CLOSE_WAIT"
    assert h.recv() == b"bye"
    h.shutdown()                                        # our side closes too
    [fin] = sent(h, T0 + 2 * MS)
    check(fin, "FA", ISS + 1, IRS + 5)
    assert h.state == "LAST_ACK"
    h.feed(seg("A", seq=IRS + 5, ack=ISS + 2), T0 + 3 * MS)
    assert h.state == "CLOSED" and sent(h, T0 + 3 * MS) == []


def test_data_is_retransmitted_at_rto():
    h = TcbHarness()
    assert h.send(b"d" * 100) == 100
    [data] = sent(h, T0)
    check(data, "PA", ISS + 1, IRS + 1, b"d" * 100)
    assert h.timers == {"rexmt": T0 + S}                # rto_initial=1.0
    assert h.tick(T0 + S) == ["rexmt"]
    [again] = sent(h, T0 + S)
    check(again, "PA", ISS + 1, IRS + 1, b"d" * 100)
    assert (h.backoff, h.cwnd) == (1, MSS)              # RFC 5681 3.1: one segment
    assert h.timers == {"rexmt": T0 + 3 * S}
    h.feed(seg("A", ack=ISS + 101), T0 + 3 * S - 1)     # acked at last
    assert sent(h, T0 + 3 * S - 1) == []
    assert (h.snd_una, h.timers) == (ISS + 101, {})
    assert h.counters["tcp_retransmits"] == 1


def test_three_duplicate_acks_fast_retransmit():
    h = TcbHarness(nodelay=True)
    h.send(b"x" * 4 * MSS)
    segs = sent(h, T0)
    assert [s.seq for s in segs] == [ISS + 1 + i * MSS for i in range(4)]
    for i in range(2):
        h.feed(seg("A", ack=ISS + 1), T0 + 10 * MS)
        assert sent(h, T0 + 10 * MS) == []
    h.feed(seg("A", ack=ISS + 1), T0 + 10 * MS)
    [rx] = sent(h, T0 + 10 * MS)                        # sent by input (owed), not by output
    check(rx, "A", ISS + 1, IRS + 1, b"x" * MSS)
    assert h.counters["tcp_fast_retransmits"] == 1
    assert h.dupacks == 3


def test_zero_window_gets_a_persist_probe():
    h = TcbHarness(snd_wnd=0)
    h.send(b"hello")
    assert sent(h, T0) == []                            # nothing fits
    assert h.timers == {"persist": T0 + S}
    assert h.tick(T0 + S) == ["persist"]
    [probe] = sent(h, T0 + S)
    check(probe, "A", ISS + 1, IRS + 1, b"h")           # one byte beyond the window
    assert h.timers == {"persist": T0 + 3 * S}          # backed off
    h.feed(seg("A", ack=ISS + 2, win=1000), T0 + S + 50 * MS)   # the window opens
    [rest] = sent(h, T0 + S + 50 * MS)
    check(rest, "PA", ISS + 2, IRS + 1, b"ello")
    assert h.counters["tcp_persist_probes"] == 1


def test_our_fin_acked_moves_to_fin_wait_2():
    h = TcbHarness()
    h.shutdown()
    assert h.state == "FIN_WAIT_1"
    [fin] = sent(h, T0)
    check(fin, "FA", ISS + 1, IRS + 1)
    h.feed(seg("A", ack=ISS + 2), T0 + MS)
    assert h.state == "FIN_WAIT_2" and sent(h, T0 + MS) == []
    h.feed(seg("FA", ack=ISS + 2), T0 + 2 * MS)
    [ack] = sent(h, T0 + 2 * MS)
    check(ack, "A", ISS + 2, IRS + 2)
    assert h.state == "TIME_WAIT"
    assert h.timers == {"2msl": T0 + 2 * MS + 60 * S}   # 2 x msl=30


def test_harness_refuses_what_the_stack_would_not_do():
    h = TcbHarness()
    with pytest.raises(ValueError, match="time goes back"):
        h.dispatch(T0 - 1)
    with pytest.raises(ValueError, match="ports"):
        h.feed(bytes(TCP(sport=1, dport=LOCAL_PORT, flags="A")), T0)
    with pytest.raises(ValueError, match="rx_tcp_csum"):
        h.feed(seg("A"), T0, verify_csum=True)          # scapy left the checksum 0
    good = bytes(IP(src="198.18.0.2", dst="198.18.0.1") /
                 TCP(sport=PEER_PORT, dport=LOCAL_PORT, flags="PA", seq=IRS + 1, ack=ISS + 1,
                     window=65535) / Raw(b"ok"))[20:]
    h.feed(good, T0, verify_csum=True)                  # the pseudo header is peer -> us
    assert h.rcv_nxt == IRS + 3
    with pytest.raises(ValueError, match="state"):
        TcbHarness("LISTEN")
    with pytest.raises(TypeError):
        TcbHarness(no_such_option=1)


def test_frames_are_whole_ipv4_packets_when_asked():
    h = TcbHarness(remote_mac="02:00:00:00:00:99")
    h.send(b"hi")
    [frame] = h.dispatch(T0, frames=True)
    pkt = Ether(frame)
    assert pkt.dst == "02:00:00:00:00:99"
    assert (pkt[IP].src, pkt[IP].dst, pkt[IP].ttl) == ("198.18.0.1", "198.18.0.2", 64)
    check(pkt[TCP], "PA", ISS + 1, IRS + 1, b"hi")
