"""IPv6 on the link (RFC 4861, 4862, 4443): duplicate address detection and
the unsolicited advertisement at start, answers to neighbour solicitations,
the neighbour cache with its bounded queue while resolving, echo, and the
answers to UDP and TCP nobody takes. scapy plays the peer on the bare end of
a pair link on the virtual clock."""
import errno

import pytest
from scapy.layers.inet import TCP, UDP
from scapy.layers.inet6 import (ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6EchoRequest,
                                ICMPv6MLReport2, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6ND_RS, ICMPv6NDOptDstLLAddr,
                                ICMPv6NDOptSrcLLAddr, ICMPv6ParamProblem, IPv6,
                                IPv6ExtHdrDestOpt)
from scapy.layers.l2 import Ether
from scapy.packet import Raw

import netchan
from conftest import unique
from helpers import to_stack

V4 = "198.18.0.1/15"
OURS = "2001:2::1"
PEER = "2001:2::2"
SOLICITED = "ff02::1:ff00:1"          # OURS's solicited-node group
SOLICITED_MAC = "33:33:ff:00:00:01"


@pytest.fixture
def v6peer(vclock):
    """A dual-stack stack and the bare other end of its link, opened first
    so that it sees what the stack sends at start: (stack, port, start frames)."""
    name = unique("ndp")
    port = netchan.open_port(netchan.parse_port_uri(f"pair:{name}"))
    stack = netchan.Stack(f"pair:{name}", ip=[V4, f"{OURS}/64"], clock=vclock, seed=1)
    start = [Ether(f) for f in port.recv()]
    yield stack, port, start
    stack.close()
    port.close()


def learn_peer(stack, port):
    """The peer solicits our address (so that we learn it) and takes the answer."""
    ns = (Ether(src=port.mac, dst=SOLICITED_MAC) / IPv6(src=PEER, dst=SOLICITED, hlim=255) /
          ICMPv6ND_NS(tgt=OURS) / ICMPv6NDOptSrcLLAddr(lladdr=port.mac))
    return to_stack(stack, port, ns)


def checks(pkt, layer):
    """The checksum scapy computes for this layer equals the one sent."""
    got = pkt[layer].cksum if hasattr(pkt[layer], "cksum") else pkt[layer].chksum
    copy = Ether(bytes(pkt))
    if hasattr(copy[layer], "cksum"):
        del copy[layer].cksum
    else:
        del copy[layer].chksum
    again = Ether(bytes(copy))[layer]
    return got == (again.cksum if hasattr(again, "cksum") else again.chksum)


def test_addresses_include_a_link_local_one(v6peer):
    stack, port, _ = v6peer
    mac = bytes.fromhex(stack.mac.replace(":", ""))
    ll = "fe80::%x:%x:%x:%x" % (((mac[0] ^ 2) << 8) | mac[1], (mac[2] << 8) | 0xff,
                                (0xfe << 8) | mac[3], (mac[4] << 8) | mac[5])
    assert stack.addresses == [V4, f"{OURS}/64", f"{ll}/64"]
    assert stack.ip == "198.18.0.1"


def test_mld_then_dad_at_start_and_the_advertisement_when_dad_ends(v6peer, vclock):
    """Optimistic DAD (the default, RFC 4429): the stack joins its
    solicited-node groups (MLDv2), probes each address from ::, solicits
    routers, and announces each address (override set) only when DAD has
    heard nobody for RetransTimer (1 s)."""
    stack, port, start = v6peer
    six = [f for f in start if IPv6 in f]
    dad = [f for f in six if ICMPv6ND_NS in f]
    assert [f for f in six if ICMPv6ND_NA in f] == []
    assert [f[ICMPv6ND_NS].tgt for f in dad] == [a.split("/")[0] for a in stack.addresses[1:]]
    for f in dad:
        assert f[IPv6].src == "::" and f[IPv6].hlim == 255 and ICMPv6NDOptSrcLLAddr not in f
        assert f[IPv6].dst.startswith("ff02::1:ff") and f.dst.startswith("33:33:ff")
        assert checks(f, ICMPv6ND_NS)
    mld = [f for f in six if ICMPv6MLReport2 in f]
    rs = [f for f in six if ICMPv6ND_RS in f]
    assert len(mld) == 1 and len(rs) == 1
    # joined before probing (RFC 4862 5.4.2); routers solicited after
    assert start.index(mld[0]) < min(start.index(f) for f in dad) < start.index(rs[0])
    for addr in (OURS, stack.addresses[2].split("/")[0]):
        assert stack.address_state(addr) == "optimistic"
    vclock.advance(999_000_000)
    stack.poll()
    assert [f for f in map(Ether, port.recv()) if ICMPv6ND_NA in f] == []
    vclock.advance(1_000_000)
    stack.poll()
    ann = [f for f in map(Ether, port.recv()) if ICMPv6ND_NA in f]
    assert [f[ICMPv6ND_NA].tgt for f in ann] == [f[ICMPv6ND_NS].tgt for f in dad]
    for f in ann:
        assert f[IPv6].dst == "ff02::1" and f.dst == "33:33:00:00:00:01"
        assert (f[ICMPv6ND_NA].O, f[ICMPv6ND_NA].S, f[ICMPv6ND_NA].R) == (1, 0, 0)
        assert f[ICMPv6NDOptDstLLAddr].lladdr == stack.mac
    assert stack.address_state(OURS) == "preferred"
    s = stack.stats()
    assert s["tx_ndp_ns"] == len(dad) and s["tx_ndp_na"] == len(ann) == 2
    assert s["ndp_dad_done"] == 2


def test_a_solicitation_is_answered_and_the_sender_learned(v6peer):
    stack, port, _ = v6peer
    (na,) = learn_peer(stack, port)
    assert na.dst == port.mac and na[IPv6].src == OURS and na[IPv6].dst == PEER
    assert na[IPv6].hlim == 255
    # optimistic (DAD still listening): no override (RFC 4429 3.3)
    assert (na[ICMPv6ND_NA].tgt, na[ICMPv6ND_NA].S, na[ICMPv6ND_NA].O) == (OURS, 1, 0)
    assert na[ICMPv6NDOptDstLLAddr].lladdr == stack.mac and checks(na, ICMPv6ND_NA)
    assert stack.arp_table()[PEER] == port.mac
    s = stack.stats()
    assert (s["rx_ndp_ns"], s["tx_ndp_na"], s["rx_ipv6"]) == (1, 1, 1)


def test_frames_for_other_groups_and_addresses_are_not_ours(v6peer):
    stack, port, _ = v6peer
    other = (Ether(src=port.mac, dst="33:33:ff:00:00:09") /
             IPv6(src=PEER, dst="ff02::1:ff00:9", hlim=255) / ICMPv6ND_NS(tgt="2001:2::9"))
    assert to_stack(stack, port, other) == []
    assert stack.stats()["rx_not_for_us"] == 1
    # our MAC, another host's address
    assert to_stack(stack, port, Ether(src=port.mac, dst=stack.mac) /
                    IPv6(src=PEER, dst="2001:2::9") / ICMPv6EchoRequest()) == []
    assert stack.stats()["rx_ip6_not_for_us"] == 1
    # a solicitation for another target in our group (same last 24 bits)
    same_group = (Ether(src=port.mac, dst=SOLICITED_MAC) /
                  IPv6(src=PEER, dst=SOLICITED, hlim=255) / ICMPv6ND_NS(tgt="2001:3::1"))
    assert to_stack(stack, port, same_group) == []
    assert stack.stats()["rx_ndp_ns"] == 1


def test_echo_is_answered_in_place(v6peer):
    stack, port, _ = v6peer
    req = (Ether(src=port.mac, dst=stack.mac) / IPv6(src=PEER, dst=OURS, fl=5) /
           ICMPv6EchoRequest(id=0x1234, seq=7, data=b"netchan six"))
    (rep,) = to_stack(stack, port, req)
    assert rep.dst == port.mac and rep[IPv6].src == OURS and rep[IPv6].dst == PEER
    e = rep[ICMPv6EchoReply]
    assert (e.id, e.seq, e.data) == (0x1234, 7, b"netchan six") and checks(rep, ICMPv6EchoReply)
    s = stack.stats()
    assert s["rx_icmp6_echo"] == s["tx_icmp6_echo_reply"] == 1


def test_echo_with_an_extension_header_is_answered_without_it(v6peer):
    stack, port, _ = v6peer
    req = (Ether(src=port.mac, dst=stack.mac) / IPv6(src=PEER, dst=OURS) /
           IPv6ExtHdrDestOpt() / ICMPv6EchoRequest(id=1, seq=2, data=b"x" * 100))
    (rep,) = to_stack(stack, port, req)
    assert rep[IPv6].nh == 58 and rep[IPv6].plen == 108 and rep[ICMPv6EchoReply].data == b"x" * 100
    assert checks(rep, ICMPv6EchoReply)


def test_udp_to_no_socket_is_unreachable_after_resolving_the_sender(v6peer, vclock):
    """The error goes through the neighbour cache: a solicitation first
    (the sender is unknown), then the queued error once the peer answers."""
    stack, port, _ = v6peer
    dgram = (Ether(src=port.mac, dst=stack.mac) / IPv6(src=PEER, dst=OURS) /
             UDP(sport=999, dport=4242) / Raw(b"anyone?"))
    (ns,) = to_stack(stack, port, dgram)
    assert ns[ICMPv6ND_NS].tgt == PEER and ns[IPv6].dst == "ff02::1:ff00:2"
    assert ns.dst == "33:33:ff:00:00:02" and ns[ICMPv6NDOptSrcLLAddr].lladdr == stack.mac
    na = (Ether(src=port.mac, dst=stack.mac) / IPv6(src=PEER, dst=OURS, hlim=255) /
          ICMPv6ND_NA(tgt=PEER, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=port.mac))
    (err,) = to_stack(stack, port, na)
    assert err.dst == port.mac and err[ICMPv6DestUnreach].code == 4
    assert bytes(err[ICMPv6DestUnreach].payload)[:48] == bytes(dgram[IPv6])[:48]
    assert checks(err, ICMPv6DestUnreach)
    s = stack.stats()
    assert (s["rx_udp_no_port"], s["tx_icmp6_unreach"], s["rx_ndp_na"]) == (1, 1, 1)


def test_an_unanswered_solicitation_gives_up_and_counts(v6peer, vclock):
    stack, port, _ = v6peer
    dgram = (Ether(src=port.mac, dst=stack.mac) / IPv6(src=PEER, dst=OURS) /
             UDP(sport=999, dport=4242))
    assert len(to_stack(stack, port, dgram)) == 1
    asked = 1
    for _ in range(10):
        vclock.advance(10**9)
        stack.poll()
        asked += sum(1 for f in port.recv() if ICMPv6ND_NS in Ether(f))
    assert asked == 5                   # arp_max_tries, as ARP
    assert stack.stats()["ndp_unresolved"] == 1
    assert PEER not in stack.arp_table()


def test_a_tcp_segment_over_ipv6_is_reset(v6peer):
    """No IPv6 listener yet: a SYN is refused with a RST|ACK, RFC 9293 3.10.7.1."""
    stack, port, _ = v6peer
    syn = (Ether(src=port.mac, dst=stack.mac) / IPv6(src=PEER, dst=OURS) /
           TCP(sport=40000, dport=80, flags="S", seq=1000))
    (rst,) = to_stack(stack, port, syn)
    t = rst[TCP]
    assert (t.sport, t.dport, t.flags, t.seq, t.ack) == (80, 40000, "RA", 0, 1001)
    assert checks(rst, TCP)
    assert to_stack(stack, port, Ether(src=port.mac, dst=stack.mac) / IPv6(src=PEER, dst=OURS)
                    / TCP(sport=40000, dport=80, flags="R", seq=1)) == []


def test_an_unknown_next_header_is_a_parameter_problem(v6peer):
    stack, port, _ = v6peer
    learn_peer(stack, port)
    (pp,) = to_stack(stack, port, Ether(src=port.mac, dst=stack.mac) /
                     IPv6(src=PEER, dst=OURS, nh=253) / Raw(b"experimental"))
    assert pp[ICMPv6ParamProblem].code == 1 and pp[ICMPv6ParamProblem].ptr == 6
    assert stack.stats()["rx_unknown_proto"] == 1


def test_dad_refuses_a_second_stack_with_the_same_ipv6_address(vclock):
    name = unique("dad")
    first = netchan.Stack(f"pair:{name}", ip=[V4, f"{OURS}/64"], clock=vclock)
    try:
        with pytest.raises(OSError) as info:
            netchan.Stack(f"pair:{name}", ip=["198.18.0.2/15", f"{OURS}/64"], clock=vclock)
        assert info.value.errno == errno.EADDRINUSE
        assert f"{OURS} is already in use on pair:{name} by the host with MAC {first.mac}" in \
            str(info.value)
        assert first.stats()["ndp_address_conflict"] == 0      # it only defended
    finally:
        first.close()


def test_an_advertisement_for_our_address_from_another_host_is_counted(v6peer):
    stack, port, _ = v6peer
    na = (Ether(src=port.mac, dst="33:33:00:00:00:01") / IPv6(src=OURS, dst="ff02::1", hlim=255)
          / ICMPv6ND_NA(tgt=OURS, O=1) / ICMPv6NDOptDstLLAddr(lladdr=port.mac))
    assert to_stack(stack, port, na) == []
    assert stack.stats()["ndp_address_conflict"] == 1
