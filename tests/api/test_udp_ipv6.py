"""UDP over IPv6: one socket takes datagrams of both families, recvfrom
names an IPv6 sender with the socket module's 4-tuple, sendto reaches an
IPv6 peer on one of our prefixes (a datagram larger than the MTU leaves in
fragments, RFC 8200 4.5), checked on the wire with scapy."""
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
        s.sendto(b"x" * (65535 - 8 + 1), (B6, 9))      # more than an IPv6 payload holds
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


def test_a_datagram_larger_than_the_mtu_is_fragmented_and_reassembled(dual, vclock):
    a, b = dual
    server = a.udp(("::", 5000))
    client = b.udp()
    big = bytes(range(256)) * 160                         # 40,960 bytes: 28 fragments
    client.sendto(big, (A6, 5000))
    pump(vclock, a, b, rounds=10)
    data, src = server.recvfrom(timeout=0)
    assert data == big and src == (B6, client.getsockname()[1], 0, 0)
    frags = b.stats()["ip6_frags_out"]
    assert frags == -(-(len(big) + 8) // ((b.mtu - 40 - 8) & ~7))
    assert a.stats()["ip6_reassembled"] == 1


def test_fragments_on_the_wire_reassemble_in_scapy(vclock):
    """Each fragment within the MTU, offsets in 8-byte units, M on all but the
    last, one identification; scapy's defragment6 rebuilds the datagram and
    its UDP checksum holds."""
    from scapy.layers.inet6 import IPv6ExtHdrFragment, defragment6
    name = unique("udp6f")
    port = netchan.open_port(netchan.parse_port_uri(f"pair:{name}"))
    stack = netchan.Stack(f"pair:{name}", ip=["198.18.0.1/15", f"{A6}/64"], clock=vclock)
    try:
        port.recv()
        s = stack.udp()
        port.send(bytes(Ether(src=port.mac, dst=stack.mac) / IPv6(src=B6, dst=A6, hlim=255) /
                        ICMPv6ND_NA(tgt=B6, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=port.mac)))
        stack.poll()
        payload = bytes((i * 7) & 0xFF for i in range(5000))
        s.sendto(payload, (B6, 7777))
        stack.poll()
        frames = [Ether(f) for f in port.recv()]
        frags = [f for f in frames if IPv6ExtHdrFragment in f]
        if not frags:                       # the neighbour was not known yet: answer the NS
            port.send(bytes(Ether(src=port.mac, dst=stack.mac) / IPv6(src=B6, dst=A6, hlim=255) /
                            ICMPv6ND_NA(tgt=B6, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=port.mac)))
            stack.poll()
            frags = [Ether(f) for f in port.recv()]
        assert len(frags) == 4
        assert all(len(f) - 14 <= stack.mtu for f in frags)
        hdrs = [f[IPv6ExtHdrFragment] for f in frags]
        assert len({h.id for h in hdrs}) == 1
        assert [h.m for h in hdrs] == [1, 1, 1, 0]
        assert all(h.offset * 8 == i * ((stack.mtu - 48) & ~7) for i, h in enumerate(hdrs))
        whole = IPv6(bytes(defragment6([f[IPv6] for f in frags])))    # re-dissected
        udp = whole[UDP]
        assert bytes(udp.payload) == payload and udp.dport == 7777
        got = udp.chksum
        del udp.chksum
        assert IPv6(bytes(whole))[UDP].chksum == got
    finally:
        stack.close()
        port.close()
