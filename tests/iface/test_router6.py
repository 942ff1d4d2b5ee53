"""Router discovery (RFC 4861 6.3) and SLAAC (RFC 4862 5.5): solicitations
at start, advertisements read into default routers, on-link prefixes and
the link MTU, an address for an advertised /64 when ip= asks for "slaac",
and off-link destinations sent to the router. scapy plays the router."""
import ipaddress

import pytest
from scapy.layers.inet import TCP
from scapy.layers.inet6 import (ICMPv6MLReport2, ICMPv6ND_NS, ICMPv6ND_RA,
                                ICMPv6ND_RS, ICMPv6NDOptMTU, ICMPv6NDOptPrefixInfo,
                                ICMPv6NDOptSrcLLAddr, IPv6)
from scapy.layers.l2 import Ether
from scapy.packet import Raw

import netchan
from conftest import unique
from helpers import to_stack

ROUTER = "fe80::1"
PREFIX = "2001:2:0:5::"


@pytest.fixture
def make(vclock):
    made = []

    def make(ip, **kw):
        name = unique("ra")
        port = netchan.open_port(netchan.parse_port_uri(f"pair:{name}"))
        stack = netchan.Stack(f"pair:{name}", ip=ip, clock=vclock, seed=1, **kw)
        made.append((stack, port))
        return stack, port, [Ether(f) for f in port.recv()]
    yield make
    for stack, port in made:
        stack.close()
        port.close()


def ra(port, lifetime=1800, prefix=PREFIX, plen=64, flags=dict(L=1, A=1), mtu=None, src=ROUTER,
       valid=86400, preferred=14400):
    pkt = (Ether(src=port.mac, dst="33:33:00:00:00:01") / IPv6(src=src, dst="ff02::1", hlim=255)
           / ICMPv6ND_RA(routerlifetime=lifetime) / ICMPv6NDOptSrcLLAddr(lladdr=port.mac))
    if prefix:
        pkt = pkt / ICMPv6NDOptPrefixInfo(prefix=prefix, prefixlen=plen, validlifetime=valid,
                                          preferredlifetime=preferred, **flags)
    if mtu:
        pkt = pkt / ICMPv6NDOptMTU(mtu=mtu)
    return pkt


def eui64(mac, prefix=PREFIX):
    m = bytes.fromhex(mac.replace(":", ""))
    iid = bytes([m[0] ^ 2, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]])
    return str(ipaddress.IPv6Address(ipaddress.IPv6Address(prefix).packed[:8] + iid))


def test_solicitations_at_start_then_every_4_s_three_in_all(make, vclock):
    stack, port, start = make(["198.18.0.1/15", "2001:2::1/64"])
    (rs,) = [f for f in start if ICMPv6ND_RS in f]
    assert rs[IPv6].dst == "ff02::2" and rs.dst == "33:33:00:00:00:02"
    assert rs[IPv6].src.startswith("fe80::") and rs[IPv6].hlim == 255
    assert ICMPv6NDOptSrcLLAddr not in rs        # optimistic source: no MAC (RFC 4429 3.2)
    again = Ether(bytes(rs))
    del again[ICMPv6ND_RS].cksum
    assert Ether(bytes(again))[ICMPv6ND_RS].cksum == rs[ICMPv6ND_RS].cksum
    seen = 0
    for _ in range(13):
        vclock.advance(1_000_000_000)
        stack.poll()
        seen += len([f for f in map(Ether, port.recv()) if ICMPv6ND_RS in f])
    assert seen == 2 and stack.stats()["tx_ndp_rs"] == 3


def test_an_ipv4_only_stack_solicits_no_router(make):
    _, _, start = make("198.18.0.1/15")
    assert [f for f in start if IPv6 in f] == []


def test_an_advertisement_gives_a_router_a_prefix_and_stops_solicitations(make, vclock):
    stack, port, _ = make(["198.18.0.1/15", "2001:2::1/64"])
    assert to_stack(stack, port, ra(port, mtu=1400)) == []
    r = stack.routes()
    assert r["routers"] == [ROUTER] and r["prefixes"] == [f"{PREFIX}/64"]
    assert stack.mtu == 1400 and stack.arp_table()[ROUTER] == port.mac
    assert stack.stats()["rx_ndp_ra"] == 1
    vclock.advance(10_000_000_000)
    stack.poll()
    assert [f for f in map(Ether, port.recv()) if ICMPv6ND_RS in f] == []
    assert len([a for a in stack.addresses if a.startswith("2001:2:0:5")]) == 0   # no slaac
    # a lifetime of 0 removes the router (RFC 4861 6.3.4)
    to_stack(stack, port, ra(port, lifetime=0, prefix=None))
    assert stack.routes()["routers"] == []


def test_slaac_forms_an_eui64_address_with_dad_and_a_report(make, vclock):
    stack, port, _ = make(["198.18.0.1/15", "slaac"])
    assert len(stack.addresses) == 2 and stack.addresses[1].startswith("fe80::")
    out = to_stack(stack, port, ra(port))
    mine = eui64(stack.mac)
    assert f"{mine}/64" in stack.addresses
    assert stack.address_state(mine) == "optimistic"
    (dad,) = [f for f in out if ICMPv6ND_NS in f]
    assert dad[ICMPv6ND_NS].tgt == mine and dad[IPv6].src == "::"
    (report,) = [f for f in out if ICMPv6MLReport2 in f]
    group = ipaddress.IPv6Address(bytes.fromhex("ff0200000000000000000001ff") +
                                  ipaddress.IPv6Address(mine).packed[13:])
    assert report[ICMPv6MLReport2].records_number == 1
    assert report[ICMPv6MLReport2].records[0].dst == str(group)
    # the same advertisement again forms nothing new
    to_stack(stack, port, ra(port))
    assert len(stack.addresses) == 3
    vclock.advance(1_000_000_000)
    stack.poll()
    assert stack.address_state(mine) == "preferred"


@pytest.mark.parametrize("kw", [dict(plen=48), dict(flags=dict(L=1, A=0)),
                                dict(valid=100, preferred=200)])
def test_slaac_takes_only_autonomous_64s_with_sane_lifetimes(make, kw):
    stack, port, _ = make(["198.18.0.1/15", "slaac"])
    to_stack(stack, port, ra(port, **kw))
    assert len(stack.addresses) == 2


def test_off_link_destinations_go_to_the_router(make, vclock):
    stack, port, _ = make(["198.18.0.1/15", "slaac"])
    with pytest.raises(OSError, match="no router"):
        stack.connect(("2001:2:99::5", 80), timeout=0)
    to_stack(stack, port, ra(port))
    mine = eui64(stack.mac)
    stack.connect(("2001:2:99::5", 80), timeout=0)
    stack.poll()
    (syn,) = [Ether(f) for f in port.recv()]       # the router's MAC came with its RA
    assert syn.dst == port.mac and (syn[IPv6].src, syn[IPv6].dst) == (mine, "2001:2:99::5")
    assert syn[TCP].flags == "S"
    # an on-link destination of the advertised prefix is resolved directly
    stack.connect((f"{PREFIX}9", 80), timeout=0)
    stack.poll()
    (ns,) = [Ether(f) for f in port.recv()]
    assert ns[ICMPv6ND_NS].tgt == f"{PREFIX}9"


def test_advertisements_not_from_a_link_local_router_are_ignored(make):
    stack, port, _ = make(["198.18.0.1/15", "slaac"])
    to_stack(stack, port, ra(port, src="2001:2::99"))
    assert stack.routes()["routers"] == [] and len(stack.addresses) == 2
    assert stack.stats()["ndp_ra_ignored"] == 1
    bad = ra(port, prefix=None)
    bad = bad / Raw(b"\x03\x00" + bytes(6))        # an option of length 0
    to_stack(stack, port, bad)
    assert stack.routes()["routers"] == [] and stack.stats()["rx_ndp_format"] == 1
    hop = ra(port)
    hop[IPv6].hlim = 64                            # not from this link
    to_stack(stack, port, hop)
    assert stack.routes()["routers"] == [] and stack.stats()["rx_ndp_format"] == 2


def test_without_a_link_layer_option_the_routers_mac_is_the_frames_source(make):
    stack, port, _ = make(["198.18.0.1/15", "2001:2::1/64"])
    to_stack(stack, port, Ether(src=port.mac, dst="33:33:00:00:00:01") /
             IPv6(src=ROUTER, dst="ff02::1", hlim=255) / ICMPv6ND_RA(routerlifetime=1800))
    assert stack.arp_table()[ROUTER] == port.mac
    assert stack.routes()["routers"] == [ROUTER]
