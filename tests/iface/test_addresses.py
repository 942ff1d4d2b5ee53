"""Several addresses per family and IPv6-only stacks (issue 12): ARP
answers and claims every IPv4 address, listen answers on every address,
connect picks the source on the destination's prefix (RFC 6724's rules
that matter: same family, longest matching prefix, never a tentative
address), the IPv4 default gateway. scapy plays the peer on the bare end of
a pair link on the virtual clock."""
import errno

import pytest
from scapy.layers.inet import ICMP, IP, TCP
from scapy.layers.inet6 import (ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS,
                                ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr, IPv6)
from scapy.layers.l2 import ARP, Ether

import netchan
from conftest import unique
from helpers import to_stack

def start(vclock, ip, **kw):
    """A stack on a pair link whose other end is a bare port opened first
    (it sees what the stack sends at start): (stack, port, start frames)."""
    name = unique("addr")
    port = netchan.open_port(netchan.parse_port_uri(f"pair:{name}"))
    stack = netchan.Stack(f"pair:{name}", ip=ip, clock=vclock, seed=1, **kw)
    return stack, port, [Ether(f) for f in port.recv()]


@pytest.fixture
def opened():
    made = []
    yield made
    for stack, port in made:
        stack.close()
        port.close()


def arp_learn(stack, port, peer_ip, target):
    """The peer asks for target (one of the stack's addresses): the reply."""
    return to_stack(stack, port, Ether(src=port.mac, dst="ff:ff:ff:ff:ff:ff") /
                    ARP(op=1, hwsrc=port.mac, psrc=peer_ip, pdst=target))


def ndp_learn(stack, port, peer_ip, target):
    """The peer solicits target (unicast) and so is learned: the answer."""
    return to_stack(stack, port, Ether(src=port.mac, dst=stack.mac) /
                    IPv6(src=peer_ip, dst=target, hlim=255) / ICMPv6ND_NS(tgt=target) /
                    ICMPv6NDOptSrcLLAddr(lladdr=port.mac))


def test_every_ipv4_address_is_probed_announced_and_answered(vclock, opened):
    stack, port, frames = start(vclock, ["198.18.0.1/15", "198.18.0.3/15"])
    opened.append((stack, port))
    arps = [f[ARP] for f in frames if ARP in f]
    probes = [(a.psrc, a.pdst) for a in arps if a.psrc == "0.0.0.0"]
    announces = [(a.psrc, a.pdst) for a in arps if a.psrc != "0.0.0.0"]
    assert probes == [("0.0.0.0", "198.18.0.1"), ("0.0.0.0", "198.18.0.3")]
    assert announces == [("198.18.0.1", "198.18.0.1"), ("198.18.0.3", "198.18.0.3")]
    for ours in ("198.18.0.1", "198.18.0.3"):
        (reply,) = arp_learn(stack, port, "198.18.0.9", ours)
        assert reply[ARP].op == 2 and reply[ARP].psrc == ours and reply[ARP].hwsrc == stack.mac
        assert reply[ARP].pdst == "198.18.0.9" and reply.dst == port.mac
    assert arp_learn(stack, port, "198.18.0.9", "198.18.0.2") == []     # not ours
    assert stack.addresses == ["198.18.0.1/15", "198.18.0.3/15"]
    assert stack.ip == "198.18.0.1"


def test_a_probe_for_our_second_address_is_defended_and_a_claim_counted(vclock, opened):
    stack, port, _ = start(vclock, ["198.18.0.1/15", "198.18.0.3/15"])
    opened.append((stack, port))
    (defence,) = to_stack(stack, port, Ether(src=port.mac, dst="ff:ff:ff:ff:ff:ff") /
                          ARP(op=1, hwsrc=port.mac, psrc="0.0.0.0", pdst="198.18.0.3"))
    assert defence[ARP].op == 2 and defence[ARP].psrc == "198.18.0.3"
    assert to_stack(stack, port, Ether(src=port.mac, dst="ff:ff:ff:ff:ff:ff") /
                    ARP(op=2, hwsrc=port.mac, psrc="198.18.0.3", pdst="198.18.0.3")) == []
    assert stack.stats()["arp_address_conflict"] == 1


def test_a_second_stack_claiming_our_second_address_is_refused(vclock):
    name = unique("addr")
    first = netchan.Stack(f"pair:{name}", ip=["198.18.0.1/15", "198.18.0.3/15"], clock=vclock)
    try:
        with pytest.raises(OSError) as info:
            netchan.Stack(f"pair:{name}", ip="198.18.0.3/15", clock=vclock)
        assert info.value.errno == errno.EADDRINUSE
        assert "198.18.0.3 is already in use" in str(info.value)
    finally:
        first.close()


@pytest.mark.parametrize("ours", ["198.18.0.1", "198.18.0.3"])
def test_listen_answers_on_every_ipv4_address_from_that_address(vclock, opened, ours):
    stack, port, _ = start(vclock, ["198.18.0.1/15", "198.18.0.3/15"])
    opened.append((stack, port))
    listener = stack.listen(80)  # noqa: F841 (kept: a collected listener closes)
    arp_learn(stack, port, "198.18.0.9", ours)
    (synack,) = to_stack(stack, port, Ether(src=port.mac, dst=stack.mac) /
                         IP(src="198.18.0.9", dst=ours) / TCP(sport=4000, dport=80, flags="S",
                                                              seq=100))
    assert synack[IP].src == ours and synack[TCP].flags == "SA" and synack[TCP].ack == 101
    again = Ether(bytes(synack))
    del again[IP].chksum, again[TCP].chksum
    assert Ether(bytes(again))[TCP].chksum == synack[TCP].chksum


@pytest.mark.parametrize("ours", ["2001:2::1", "2001:2::3"])
def test_listen_answers_on_every_ipv6_address_from_that_address(vclock, opened, ours):
    stack, port, _ = start(vclock, ["2001:2::1/64", "2001:2::3/64"])
    opened.append((stack, port))
    listener = stack.listen(80)  # noqa: F841 (kept: a collected listener closes)
    (na,) = ndp_learn(stack, port, "2001:2::9", ours)
    assert na[ICMPv6ND_NA].tgt == ours and na[ICMPv6NDOptDstLLAddr].lladdr == stack.mac
    (synack,) = to_stack(stack, port, Ether(src=port.mac, dst=stack.mac) /
                         IPv6(src="2001:2::9", dst=ours) / TCP(sport=4000, dport=80, flags="S"))
    assert synack[IPv6].src == ours and synack[TCP].flags == "SA"


def test_echo_is_answered_from_the_address_pinged(vclock, opened):
    stack, port, _ = start(vclock, ["198.18.0.1/15", "198.18.0.3/15"])
    opened.append((stack, port))
    arp_learn(stack, port, "198.18.0.9", "198.18.0.3")
    (reply,) = to_stack(stack, port, Ether(src=port.mac, dst=stack.mac) /
                        IP(src="198.18.0.9", dst="198.18.0.3") / ICMP(id=7, seq=1))
    assert reply[IP].src == "198.18.0.3" and reply[ICMP].type == 0


@pytest.mark.parametrize("ip, dst, src", [
    (["198.18.0.1/24", "198.19.0.1/24"], "198.19.0.7", "198.19.0.1"),
    (["198.18.0.1/24", "198.19.0.1/24"], "198.18.0.7", "198.18.0.1"),
    (["198.18.0.1/15", "198.18.1.1/24"], "198.18.1.7", "198.18.1.1"),    # longest prefix
    (["198.18.0.1/15", "198.18.1.1/24"], "198.19.0.7", "198.18.0.1"),
    (["2001:2::1/64", "2001:2:0:1::1/64"], "2001:2:0:1::7", "2001:2:0:1::1"),
    (["2001:2::1/64", "2001:2:0:1::1/64"], "2001:2::7", "2001:2::1"),
    (["2001:2::1/48", "2001:2:0:1::1/64"], "2001:2:0:1::7", "2001:2:0:1::1"),  # longest
])
def test_connect_picks_the_source_on_the_destinations_prefix(vclock, opened, ip, dst, src):
    stack, port, _ = start(vclock, ip)
    opened.append((stack, port))
    stack.connect((dst, 80), timeout=0)
    stack.poll()
    (ask,) = [Ether(f) for f in port.recv()]
    if ":" in dst:
        assert ask[IPv6].src == src and ask[ICMPv6ND_NS].tgt == dst
        reply = (Ether(src=port.mac, dst=stack.mac) / IPv6(src=dst, dst=src, hlim=255) /
                 ICMPv6ND_NA(tgt=dst, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=port.mac))
        (syn,) = to_stack(stack, port, reply)
        assert (syn[IPv6].src, syn[IPv6].dst) == (src, dst)
    else:
        assert ask[ARP].psrc == src and ask[ARP].pdst == dst
        (syn,) = to_stack(stack, port, Ether(src=port.mac, dst=stack.mac) /
                          ARP(op=2, hwsrc=port.mac, psrc=dst, hwdst=stack.mac, pdst=src))
        assert (syn[IP].src, syn[IP].dst) == (src, dst)
    assert syn[TCP].flags == "S" and syn.dst == port.mac


def test_an_ipv6_only_stack(vclock, opened):
    stack, port, frames = start(vclock, ["2001:2::1/64"])
    opened.append((stack, port))
    assert stack.ip is None and stack.network is None
    assert stack.addresses[0] == "2001:2::1/64" and stack.addresses[1].startswith("fe80::")
    assert [f for f in frames if ARP in f] == []
    assert arp_learn(stack, port, "198.18.0.9", "198.18.0.1") == []
    assert to_stack(stack, port, Ether(src=port.mac, dst=stack.mac) /
                    IP(src="198.18.0.9", dst="198.18.0.1") / ICMP()) == []
    assert stack.stats()["rx_ip_not_for_us"] == 1
    with pytest.raises(OSError) as info:
        stack.connect(("198.18.0.9", 80), timeout=0)
    assert info.value.errno == errno.EHOSTUNREACH and "no IPv4 address" in str(info.value)
    ndp_learn(stack, port, "2001:2::9", "2001:2::1")
    (reply,) = to_stack(stack, port, Ether(src=port.mac, dst=stack.mac) /
                        IPv6(src="2001:2::9", dst="2001:2::1") / ICMPv6EchoRequest(id=1))
    assert ICMPv6EchoReply in reply and reply[IPv6].src == "2001:2::1"
    with stack.udp(("::", 5353)) as u:
        assert u.getsockname() == ("::", 5353)


def test_two_ipv6_only_stacks_talk_tcp(vclock):
    name = unique("six")
    a = netchan.Stack(f"pair:{name}", ip=["2001:2::1/64"], clock=vclock)
    b = netchan.Stack(f"pair:{name}", ip=["2001:2::2/64", "2001:2::4/64"], clock=vclock)
    try:
        listener = b.listen(7)
        c = a.connect(("2001:2::4", 7), timeout=0)
        for _ in range(10):
            a.poll(); b.poll(); vclock.advance(1_000_000)
        s = listener.accept()
        assert s.getsockname()[0] == "2001:2::4" and c.getpeername()[0] == "2001:2::4"
        c.sendall(b"hello six")
        for _ in range(5):
            a.poll(); b.poll(); vclock.advance(1_000_000)
        assert s.recv(100) == b"hello six"
    finally:
        a.close()
        b.close()


def test_off_link_ipv4_goes_to_the_gateway(vclock, opened):
    stack, port, _ = start(vclock, "198.18.0.1/24", gateway="198.18.0.254")
    opened.append((stack, port))
    assert stack.routes()["gateway"] == "198.18.0.254"
    stack.connect(("198.19.5.5", 80), timeout=0)
    stack.poll()
    (ask,) = [Ether(f) for f in port.recv()]
    assert ask[ARP].pdst == "198.18.0.254" and ask[ARP].psrc == "198.18.0.1"
    (syn,) = to_stack(stack, port, Ether(src=port.mac, dst=stack.mac) /
                      ARP(op=2, hwsrc=port.mac, psrc="198.18.0.254", hwdst=stack.mac,
                          pdst="198.18.0.1"))
    assert syn.dst == port.mac and (syn[IP].src, syn[IP].dst) == ("198.18.0.1", "198.19.5.5")
    assert stack.arp_table() == {"198.18.0.254": port.mac}


def test_without_a_gateway_off_link_ipv4_is_unreachable(vclock, opened):
    stack, port, _ = start(vclock, "198.18.0.1/24")
    opened.append((stack, port))
    with pytest.raises(OSError) as info:
        stack.connect(("198.19.5.5", 80), timeout=0)
    assert info.value.errno == errno.EHOSTUNREACH and "gateway=" in str(info.value)


def test_an_unanswered_gateway_fails_connections_through_it(vclock, opened):
    stack, port, _ = start(vclock, "198.18.0.1/24", gateway="198.18.0.254")
    opened.append((stack, port))
    c = stack.connect(("198.19.5.5", 80), timeout=0)
    for _ in range(12):
        stack.poll()
        vclock.advance(1_000_000_000)
    port.recv()
    with pytest.raises(OSError) as info:
        c.send(b"x")
    assert info.value.errno == errno.EHOSTUNREACH


def test_time_wait_answers_from_the_address_the_connection_had(vclock, opened):
    """A TIME_WAIT record keeps which of our addresses its connection used."""
    stack, port, _ = start(vclock, ["198.18.0.1/15", "198.18.0.3/15"], msl=10.0)
    opened.append((stack, port))
    listener = stack.listen(80)
    arp_learn(stack, port, "198.18.0.9", "198.18.0.3")
    peer = Ether(src=port.mac, dst=stack.mac) / IP(src="198.18.0.9", dst="198.18.0.3")
    (synack,) = to_stack(stack, port, peer / TCP(sport=4000, dport=80, flags="S", seq=100))
    ours = synack[TCP].seq + 1
    to_stack(stack, port, peer / TCP(sport=4000, dport=80, flags="A", seq=101, ack=ours))
    conn = listener.accept(timeout=0)
    conn.close()                                    # we close first: we hold TIME_WAIT
    stack.poll()
    (fin,) = [Ether(f) for f in port.recv()]
    assert fin[TCP].flags == "FA" and fin[IP].src == "198.18.0.3"
    out = to_stack(stack, port, peer / TCP(sport=4000, dport=80, flags="FA", seq=101,
                                            ack=ours + 1))
    assert [f[TCP].flags for f in out] == ["A"]
    assert stack.stats()["tcp_time_wait_created"] == 1
    (again,) = to_stack(stack, port, peer / TCP(sport=4000, dport=80, flags="FA", seq=101,
                                                ack=ours + 1))
    assert again[IP].src == "198.18.0.3" and again[TCP].flags == "A"
    assert again[TCP].ack == 102


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_one_remote_port_to_two_of_our_addresses_makes_two_connections(vclock, opened, family):
    """A connection is found by all four of its parts, our address among
    them: one remote end (address and port) opening to two of our addresses
    on the same port gets two connections, each answering from its own."""
    if family == "ipv4":
        ips, ours, peer_ip, ip_layer = (["198.18.0.1/15", "198.18.0.3/15"],
                                        ["198.18.0.1", "198.18.0.3"], "198.18.0.9", IP)
    else:
        ips, ours, peer_ip, ip_layer = (["2001:2::1/64", "2001:2::3/64"],
                                        ["2001:2::1", "2001:2::3"], "2001:2::9", IPv6)
    stack, port, _ = start(vclock, ips)
    opened.append((stack, port))
    listener = stack.listen(80)
    learn = arp_learn if family == "ipv4" else ndp_learn
    for a in ours:
        learn(stack, port, peer_ip, a)
    conns = []
    for i, a in enumerate(ours):
        peer = Ether(src=port.mac, dst=stack.mac) / ip_layer(src=peer_ip, dst=a)
        (synack,) = to_stack(stack, port, peer / TCP(sport=4000, dport=80, flags="S", seq=100))
        assert synack[ip_layer].src == a and synack[TCP].flags == "SA"
        iss = synack[TCP].seq
        to_stack(stack, port, peer / TCP(sport=4000, dport=80, flags="A", seq=101, ack=iss + 1))
        out = to_stack(stack, port, peer / TCP(sport=4000, dport=80, flags="PA", seq=101,
                                                ack=iss + 1) / f"to {a}".encode())
        assert [(f[ip_layer].src, f[TCP].ack) for f in out] == [(a, 101 + len(f"to {a}"))]
        conns.append(listener.accept(timeout=0))
    assert [c.recv(100, timeout=0) for c in conns] == [f"to {a}".encode() for a in ours]
