"""IPv6 reassembly (RFC 8200 4.5, RFC 5722): fragments scapy cuts
(fragment6) are put back together for UDP and echo, in any order; an
overlap, a bad length or a missing piece drops the datagram, counted;
the pool and its bounds are IPv4's."""
import pytest
from scapy.layers.inet import UDP
from scapy.layers.inet6 import (ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6ND_NA,
                                ICMPv6NDOptDstLLAddr, IPv6, IPv6ExtHdrFragment, fragment6)
from scapy.layers.l2 import Ether
from scapy.packet import Raw

import netchan
from conftest import unique

OURS, PEER = "2001:2::1", "2001:2::2"


@pytest.fixture
def six(vclock):
    name = unique("frag6")
    port = netchan.open_port(netchan.parse_port_uri(f"pair:{name}"))
    stack = netchan.Stack(f"pair:{name}", ip=["198.18.0.1/15", f"{OURS}/64"], clock=vclock,
                          frag_timeout=5.0)
    port.recv()
    # the stack knows the peer (answers go straight out)
    port.send(bytes(Ether(src=port.mac, dst=stack.mac) / IPv6(src=PEER, dst=OURS, hlim=255) /
                    ICMPv6ND_NA(tgt=PEER, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=port.mac)))
    stack.poll()
    yield stack, port
    stack.close()
    port.close()


def frags(stack, port, pkt, size, ident=0x1234):
    whole = IPv6(src=PEER, dst=OURS) / IPv6ExtHdrFragment(id=ident) / pkt
    return [Ether(src=port.mac, dst=stack.mac) / f for f in fragment6(whole, size)]


def send_all(stack, port, frames):
    for f in frames:
        assert port.send(bytes(f))
    stack.poll()
    return [Ether(f) for f in port.recv()]


def test_a_udp_datagram_is_reassembled_in_any_order(six):
    stack, port = six
    sock = stack.udp(("::", 6000))
    body = bytes(range(256)) * 16                      # 4 KiB: three fragments
    fs = frags(stack, port, UDP(sport=9, dport=6000) / Raw(body), 1500)
    assert len(fs) == 3
    assert send_all(stack, port, [fs[2], fs[0], fs[1]]) == []
    assert sock.recvfrom(timeout=0) == (body, (PEER, 9, 0, 0))
    s = stack.stats()
    assert (s["ip6_frags_in"], s["ip6_reassembled"], s["ip6_reasm_dropped"]) == (3, 1, 0)


def test_a_fragmented_echo_is_answered_when_the_reply_fits(six):
    stack, port = six
    fs = frags(stack, port, ICMPv6EchoRequest(id=7, seq=1, data=b"e" * 1200), 700)
    (rep,) = send_all(stack, port, fs)
    assert rep[ICMPv6EchoReply].data == b"e" * 1200 and rep[IPv6].src == OURS
    got = rep[ICMPv6EchoReply].cksum
    copy = Ether(bytes(rep))
    del copy[ICMPv6EchoReply].cksum
    assert Ether(bytes(copy))[ICMPv6EchoReply].cksum == got


def test_an_overlap_drops_the_datagram(six):
    stack, port = six
    sock = stack.udp(("::", 6000))
    fs = frags(stack, port, UDP(sport=9, dport=6000) / Raw(b"x" * 3000), 1500)
    again = fs[0].copy()
    send_all(stack, port, [fs[0], again] + fs[1:])
    with pytest.raises(BlockingIOError):
        sock.recvfrom(timeout=0)
    assert stack.stats()["ip6_reasm_dropped"] >= 1


def test_a_missing_fragment_times_out(six, vclock):
    stack, port = six
    fs = frags(stack, port, UDP(sport=9, dport=6000) / Raw(b"x" * 3000), 1500)
    send_all(stack, port, fs[:-1])
    vclock.advance(6 * 10**9)
    stack.poll()
    assert stack.stats()["ip_reasm_timeout"] == 1


def test_a_non_final_fragment_not_a_multiple_of_8_is_dropped(six):
    stack, port = six
    bad = (Ether(src=port.mac, dst=stack.mac) / IPv6(src=PEER, dst=OURS) /
           IPv6ExtHdrFragment(id=5, m=1, offset=0, nh=17) / Raw(b"x" * 13))
    send_all(stack, port, [bad])
    assert stack.stats()["ip6_reasm_dropped"] == 1
