"""dontfrag on a UDP socket (IPV6_DONTFRAG, RFC 3542 11.2; over IPv4 as
IP_PMTUDISC_DO): a datagram larger than the MTU raises EMSGSIZE instead of
leaving in fragments, one that fits leaves whole (IPv4 with DF set);
without it, large datagrams are still fragmented. scapy reads the wire."""
import errno

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, IPv6, IPv6ExtHdrFragment
from scapy.layers.l2 import ARP, Ether

import netchan
from conftest import unique

A4, B4, A6, B6 = "198.18.0.1", "198.18.0.2", "2001:2::1", "2001:2::2"


@pytest.fixture
def wire(vclock):
    """A stack that knows its peer's MAC on both families, and the peer's port."""
    name = unique("df")
    port = netchan.open_port(netchan.parse_port_uri(f"pair:{name}"))
    stack = netchan.Stack(f"pair:{name}", ip=[f"{A4}/15", f"{A6}/64"], clock=vclock, dad="off")
    port.recv()
    port.send(bytes(Ether(src=port.mac, dst="ff:ff:ff:ff:ff:ff") /
                    ARP(op=1, hwsrc=port.mac, psrc=B4, pdst=A4)))
    s = stack.udp()
    s.sendto(b"?", (B6, 9))                 # resolve B6
    stack.poll()
    port.send(bytes(Ether(src=port.mac, dst=stack.mac) / IPv6(src=B6, dst=A6, hlim=255) /
                    ICMPv6ND_NA(tgt=B6, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=port.mac)))
    stack.poll()
    port.recv()
    s.close()
    yield stack, port
    stack.close()
    port.close()


@pytest.mark.parametrize("dst, hlen", [(B4, 20), (B6, 40)])
def test_dontfrag_refuses_a_datagram_over_the_mtu(wire, dst, hlen):
    stack, port = wire
    s = stack.udp(dontfrag=True)
    assert s.dontfrag
    fits = stack.mtu - hlen - 8
    with pytest.raises(OSError) as info:
        s.sendto(b"x" * (fits + 1), (dst, 9))
    assert info.value.errno == errno.EMSGSIZE and f"MTU {stack.mtu}" in str(info.value)
    stack.poll()
    assert port.recv() == []
    assert stack.stats()["udp_too_big"] == 1
    assert s.sendto(b"y" * fits, (dst, 9)) == fits
    stack.poll()
    (f,) = [Ether(x) for x in port.recv()]
    assert len(bytes(f[UDP].payload)) == fits
    if IP in f:
        assert f[IP].flags == "DF"
    else:
        assert IPv6ExtHdrFragment not in f


@pytest.mark.parametrize("dst", [B4, B6])
def test_without_dontfrag_large_datagrams_are_fragmented(wire, dst):
    stack, port = wire
    s = stack.udp()
    assert not s.dontfrag
    s.sendto(b"z" * 3000, (dst, 9))
    stack.poll()
    frames = [Ether(x) for x in port.recv()]
    assert len(frames) == 3
    s.dontfrag = True
    with pytest.raises(OSError):
        s.sendto(b"z" * 3000, (dst, 9))
    with pytest.raises(TypeError):
        s.dontfrag = 1
    with pytest.raises(TypeError):
        stack.udp(dontfrag="yes")
