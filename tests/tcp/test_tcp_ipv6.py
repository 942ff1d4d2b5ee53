"""TCP over IPv6 (RFC 8200 8.1 checksums, RFC 6437 flow labels, RFC 9293
MSS for the 40-byte header): a scripted peer on the bare end of a pair
link, and two dual-stack stacks back to back on the virtual clock."""
import errno

import pytest
from scapy.layers.inet import TCP
from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, IPv6
from scapy.layers.l2 import Ether

import netchan
from conftest import unique
from helpers import to_stack as send

OURS, PEER = "2001:2::1", "2001:2::2"


@pytest.fixture
def six(vclock):
    name = unique("tcp6")
    port = netchan.open_port(netchan.parse_port_uri(f"pair:{name}"))
    stack = netchan.Stack(f"pair:{name}", ip=["198.18.0.1/15", f"{OURS}/64"], clock=vclock,
                          seed=1)
    port.recv()
    yield stack, port
    stack.close()
    port.close()


@pytest.fixture
def dual(vclock):
    name = unique("dual")
    a = netchan.Stack(f"pair:{name}", ip=["198.18.0.1/15", f"{OURS}/64"], clock=vclock, seed=1)
    b = netchan.Stack(f"pair:{name}", ip=["198.18.0.2/15", f"{PEER}/64"], clock=vclock, seed=2)
    yield a, b
    b.close()
    a.close()


def csum_ok(pkt):
    got = pkt[TCP].chksum
    copy = Ether(bytes(pkt))
    del copy[TCP].chksum
    return Ether(bytes(copy))[TCP].chksum == got


def pump(vclock, *stacks, rounds=50):
    for _ in range(rounds):
        for s in stacks:
            s.poll()
        vclock.advance(10**6)


def test_passive_open_over_ipv6_on_the_wire(six):
    """SYN -> SYN-ACK from our address with the MSS of an IPv6 segment, a
    flow label, a right checksum; the accepted connection names the peer
    with the socket module's IPv6 tuple."""
    stack, port = six
    lst = stack.listen(80)
    e = Ether(src=port.mac, dst=stack.mac)
    (synack,) = send(stack, port, e / IPv6(src=PEER, dst=OURS) /
                     TCP(sport=40000, dport=80, flags="S", seq=1000, options=[("MSS", 1440)]))
    ip, t = synack[IPv6], synack[TCP]
    assert (ip.src, ip.dst, ip.nh, t.flags, t.ack) == (OURS, PEER, 6, "SA", 1001)
    assert dict(t.options)["MSS"] == stack.mtu - 60 and ip.fl != 0 and csum_ok(synack)
    assert send(stack, port, e / IPv6(src=PEER, dst=OURS) /
                TCP(sport=40000, dport=80, flags="A", seq=1001, ack=t.seq + 1)) == []
    conn = lst.accept(timeout=0)
    assert conn.getpeername() == (PEER, 40000, 0, 0)
    assert conn.getsockname() == (OURS, 80, 0, 0)
    conn.send(b"over six")
    stack.poll()
    (data,) = [Ether(f) for f in port.recv()]
    assert bytes(data[TCP].payload) == b"over six" and csum_ok(data)
    assert data[IPv6].fl == ip.fl              # one label for the whole flow
    s = stack.stats()
    assert s["rx_ipv6"] == 2 and s["tx_ipv6"] >= 2 and s["tcp_passive_opens"] == 1


def test_active_open_resolves_the_peer_first(six, vclock):
    stack, port = six
    conn = stack.connect((PEER, 8080), timeout=0)
    stack.poll()
    (ns,) = [Ether(f) for f in port.recv()]
    assert ns[IPv6].dst == "ff02::1:ff00:2"
    (syn,) = send(stack, port, Ether(src=port.mac, dst=stack.mac) /
                  IPv6(src=PEER, dst=OURS, hlim=255) / ICMPv6ND_NA(tgt=PEER, S=1, O=1) /
                  ICMPv6NDOptDstLLAddr(lladdr=port.mac))
    assert syn.dst == port.mac and syn[TCP].flags == "S" and syn[IPv6].src == OURS
    assert dict(syn[TCP].options)["MSS"] == stack.mtu - 60 and csum_ok(syn)
    assert send(stack, port, Ether(src=port.mac, dst=stack.mac) / IPv6(src=PEER, dst=OURS) /
                TCP(sport=8080, dport=syn[TCP].sport, flags="RA", ack=syn[TCP].seq + 1)) == []
    with pytest.raises(ConnectionRefusedError):
        conn.recv(1, timeout=0)


def test_one_listener_answers_both_families_byte_exact(dual, vclock):
    a, b = dual
    lst = a.listen(80)
    c4 = b.connect(("198.18.0.1", 80), timeout=0)
    c6 = b.connect((OURS, 80), timeout=0)
    pump(vclock, a, b)
    got = {}
    for _ in range(2):
        s = lst.accept(timeout=0)
        got[len(s.getpeername())] = s
    assert got[2].getpeername()[0] == "198.18.0.2" and got[4].getpeername()[0] == PEER
    payload = bytes(range(256)) * 4096                     # 1 MiB each way on each family
    for c, s in ((c4, got[2]), (c6, got[4])):
        c.setblocking(False)
        s.setblocking(False)
    sent = {id(c4): 0, id(c6): 0}
    recvd = {2: bytearray(), 4: bytearray()}
    for _ in range(20000):
        for c in (c4, c6):
            if sent[id(c)] < len(payload):
                try:
                    sent[id(c)] += c.send(payload[sent[id(c)]:sent[id(c)] + 65536])
                except BlockingIOError:
                    pass
        for k, s in got.items():
            try:
                recvd[k] += s.recv(1 << 20)
            except BlockingIOError:
                pass
        if all(len(v) == len(payload) for v in recvd.values()):
            break
        a.poll()
        b.poll()
        vclock.advance(10**5)
    assert recvd[2] == payload and recvd[4] == payload
    assert a.stats()["rx_ipv6"] > 100 and a.stats()["tcp_passive_opens"] == 2


def test_connect_off_every_prefix_is_unreachable(dual):
    a, b = dual
    with pytest.raises(OSError) as info:
        b.connect(("2001:3::1", 80), timeout=0)
    assert info.value.errno == errno.EHOSTUNREACH
    assert "is on none of this stack's IPv6 prefixes (2001:2::2/64" in str(info.value)


def test_a_v6_connection_passes_through_time_wait(dual, vclock):
    """Close from the active side: its TIME_WAIT record (with the peer's
    interned slot) answers a retransmitted FIN as the control block would."""
    a, b = dual
    lst = a.listen(80)
    c = b.connect((OURS, 80), timeout=0)
    pump(vclock, a, b)
    s = lst.accept(timeout=0)
    c.close()
    pump(vclock, a, b)
    s.close()
    pump(vclock, a, b)
    assert b.stats()["tcp_time_wait_created"] == 1
    # the same 4-tuple again after TIME_WAIT ends
    vclock.advance(120 * 10**9)
    pump(vclock, a, b, rounds=5)
    assert b.stats()["time_wait"] == 0


def test_packet_too_big_lowers_the_mss(six, vclock):
    """RFC 8201: a PTB quoting a segment in flight lowers the connection's
    MSS to fit (never below the 1280-byte minimum MTU) and what no longer
    fits is sent again in smaller segments; a PTB quoting nothing in flight
    is only counted."""
    from scapy.layers.inet6 import ICMPv6PacketTooBig
    stack, port = six
    lst = stack.listen(80)
    e = Ether(src=port.mac, dst=stack.mac)
    (synack,) = send(stack, port, e / IPv6(src=PEER, dst=OURS) /
                     TCP(sport=40000, dport=80, flags="S", seq=1000, window=65535,
                         options=[("MSS", 1440)]))
    iss = synack[TCP].seq
    send(stack, port, e / IPv6(src=PEER, dst=OURS) /
         TCP(sport=40000, dport=80, flags="A", seq=1001, ack=iss + 1, window=65535))
    conn = lst.accept(timeout=0)
    conn.send(b"x" * 3000)
    stack.poll()
    segs = [Ether(f) for f in port.recv()]
    assert [len(s[TCP].payload) for s in segs] == [1440, 1440]       # (Nagle holds the rest)
    big = segs[0]
    stale = big.copy()
    stale[TCP].seq = iss - 5000                       # not in flight: ignored
    assert send(stack, port, e / IPv6(src=PEER, dst=OURS) / ICMPv6PacketTooBig(mtu=1280) /
                bytes(stale[IPv6])[:1232]) == []
    assert stack.stats()["tcp_pmtu_updates"] == 0
    again = send(stack, port, e / IPv6(src=PEER, dst=OURS) / ICMPv6PacketTooBig(mtu=1000) /
                 bytes(big[IPv6])[:1232])
    assert stack.stats()["tcp_pmtu_updates"] == 1 and stack.stats()["rx_icmp6_other"] == 2
    # 1280 - 40 - 20 = 1220 bytes a segment (no timestamps negotiated)
    assert again and all(len(s[IPv6]) <= 1280 for s in again)
    assert len(again[0][TCP].payload) == 1220 and again[0][TCP].seq == iss + 1
    # RFC 8201 5.3 (as RFC 1191 6.3): ten minutes on, the next ACK of new data
    # puts the MSS back; if the path still cannot carry it, a PTB says so again
    top = max(x[TCP].seq + len(x[TCP].payload) for x in segs + again)
    vclock.advance(601 * 10**9)
    send(stack, port, e / IPv6(src=PEER, dst=OURS) /
         TCP(sport=40000, dport=80, flags="A", seq=1001, ack=top, window=65535))
    assert conn.mss == 1440 and stack.stats()["tcp_pmtu_raised"] == 1


def test_ecn_over_ipv6_uses_the_traffic_class(vclock):
    """RFC 3168 over IPv6: ECT(0) goes in the traffic class's low bits (the
    flow label and checksum intact), and CE is read from there, never from
    the flow label's bits in the same byte."""
    name = unique("ecn6")
    port = netchan.open_port(netchan.parse_port_uri(f"pair:{name}"))
    stack = netchan.Stack(f"pair:{name}", ip=["198.18.0.1/15", f"{OURS}/64"], clock=vclock,
                          seed=1, ecn=True, delayed_ack=0)
    port.recv()
    try:
        lst = stack.listen(80)
        e = Ether(src=port.mac, dst=stack.mac)
        (synack,) = send(stack, port, e / IPv6(src=PEER, dst=OURS) /
                         TCP(sport=40000, dport=80, flags="SEC", seq=1000))
        assert synack[TCP].flags == "SAE"
        ack = synack[TCP].seq + 1
        assert send(stack, port, e / IPv6(src=PEER, dst=OURS) /
                    TCP(sport=40000, dport=80, flags="A", seq=1001, ack=ack)) == []
        conn = lst.accept(timeout=0)
        conn.send(b"ect")
        stack.poll()
        (data,) = [Ether(f) for f in port.recv()]
        assert data[IPv6].tc & 3 == 2 and data[IPv6].fl == synack[IPv6].fl and csum_ok(data)

        def ce_seen():
            return stack.stats()["tcp_ecn_ce_seen"]
        # not CE: the flow label's top bits share the byte with the traffic class
        send(stack, port, e / IPv6(src=PEER, dst=OURS, tc=0, fl=0x30000) /
             TCP(sport=40000, dport=80, flags="PA", seq=1001, ack=ack + 3) / b"a")
        assert ce_seen() == 0
        (echo,) = send(stack, port, e / IPv6(src=PEER, dst=OURS, tc=3, fl=0x30000) /
                       TCP(sport=40000, dport=80, flags="PA", seq=1002, ack=ack + 3) / b"b")
        assert ce_seen() == 1 and "E" in str(echo[TCP].flags)    # CE echoed as ECE
    finally:
        stack.close(linger=0)
        port.close()
