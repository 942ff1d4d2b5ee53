"""UDP over IPv6: one socket takes datagrams of both families, recvfrom
names an IPv6 sender with the socket module's 4-tuple, sendto reaches an
IPv6 peer on one of our prefixes (no fragmentation: EMSGSIZE beyond the
MTU), checked on the wire with scapy."""
import errno

import pytest
from scapy.layers.inet import UDP
from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw

import netchan
from conftest import unique

A6, B6 = "2001:2::1", "2001:2::2"


@pytest.fixture
def dual(vclock):
    name = unique("udp6")
    a = netchan.Stack(f"pair:{name}", ip=["198.18.0.1/15", f"{A6}/64"], clock=vclock, seed=1)
    b = netchan.Stack(f"pair:{name}", ip=["198.18.0.2/15", f"{B6}/64"], clock=vclock, seed=2)
    yield a, b
    b.close()
    a.close()


def pump(vclock, *stacks, rounds=5):
    for _ in range(rounds):
        for s in stacks:
            s.poll()
        vclock.advance(10**6)


def test_one_socket_both_families(dual, vclock):
    a, b = dual
    server = a.udp(("::", 5000))
    client = b.udp()
    client.sendto(b"over six", (A6, 5000))
    client.sendto(b"over four", ("198.18.0.1", 5000))
    pump(vclock, a, b)
    data, src = server.recvfrom(timeout=0)
    assert data == b"over six" and src == (B6, client.getsockname()[1], 0, 0)
    data, src4 = server.recvfrom(timeout=0)
    assert data == b"over four" and src4 == ("198.18.0.2", client.getsockname()[1])
    server.sendto(b"back", src[:2])
    pump(vclock, a, b)
    assert client.recvfrom(timeout=0) == (b"back", (A6, 5000, 0, 0))
    assert a.stats()["rx_udp"] == 2 and b.stats()["tx_udp"] == 2


def test_bind_to_our_ipv6_address_only(dual):
    a, _ = dual
    a.udp((A6, 5001)).close()
    with pytest.raises(OSError) as info:
        a.udp(("2001:2::9", 5002))
    assert info.value.errno == errno.EADDRNOTAVAIL


def test_sendto_limits(dual):
    a, _ = dual
    s = a.udp()
    with pytest.raises(OSError) as info:
        s.sendto(b"x" * (a.mtu - 40 - 8 + 1), (B6, 9))
    assert info.value.errno == errno.EMSGSIZE
    with pytest.raises(OSError) as info:
        s.sendto(b"x", ("2001:3::1", 9))
    assert info.value.errno == errno.EHOSTUNREACH


def test_a_datagram_on_the_wire(vclock):
    name = unique("udp6w")
    port = netchan.open_port(netchan.parse_port_uri(f"pair:{name}"))
    stack = netchan.Stack(f"pair:{name}", ip=["198.18.0.1/15", f"{A6}/64"], clock=vclock)
    try:
        port.recv()
        s = stack.udp()
        port.send(bytes(Ether(src=port.mac, dst=stack.mac) / IPv6(src=B6, dst=A6, hlim=255) /
                        ICMPv6ND_NA(tgt=B6, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr=port.mac)))
        stack.poll()            # not learned: an unsolicited NA for an unknown neighbour
        s.sendto(b"payload!", (B6, 7777))
        stack.poll()
        (ns,) = [Ether(f) for f in port.recv()]
        port.send(bytes(Ether(src=port.mac, dst=stack.mac) / IPv6(src=B6, dst=A6, hlim=255) /
                        ICMPv6ND_NA(tgt=B6, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=port.mac)))
        stack.poll()
        (d,) = [Ether(f) for f in port.recv()]
        assert d.dst == port.mac and d[IPv6].src == A6 and d[IPv6].dst == B6
        assert (d[UDP].sport, d[UDP].dport, bytes(d[UDP].payload)) == (s.getsockname()[1], 7777,
                                                                         b"payload!")
        got = d[UDP].chksum
        copy = Ether(bytes(d))
        del copy[UDP].chksum
        assert Ether(bytes(copy))[UDP].chksum == got
        # and one in: a zero checksum is refused (mandatory over IPv6)
        port.send(bytes(Ether(src=port.mac, dst=stack.mac) / IPv6(src=B6, dst=A6) /
                        UDP(sport=7777, dport=s.getsockname()[1], chksum=0) / Raw(b"bad")))
        stack.poll()
        assert stack.stats()["rx_udp_csum"] == 1
        with pytest.raises(BlockingIOError):
            s.recvfrom(timeout=0)
    finally:
        stack.close()
        port.close()
