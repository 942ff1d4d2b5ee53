"""IPv6, ICMPv6 and neighbour discovery on the wire (RFC 8200, 4443, 4861),
checked against scapy both ways: frames scapy builds are parsed as scapy
reads them, frames netchan builds are read back by scapy with correct
checksums, and every malformed shape is refused with its own reason."""
import pytest
from scapy.layers.inet import TCP, UDP
from scapy.layers.inet6 import (ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6EchoRequest,
                                ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr,
                                ICMPv6NDOptSrcLLAddr, IPv6, IPv6ExtHdrDestOpt,
                                IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, IPv6ExtHdrRouting,
                                HBHOptUnknown, PadN)
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from netchan import _testing as wire

A_MAC = "02:00:00:00:00:0a"
B_MAC = "02:00:00:00:00:0b"
A6 = "2001:2::2"
B6 = "2001:2::1"


def frame6(*layers, src=A6, dst=B6, **ip):
    pkt = Ether(src=A_MAC, dst=B_MAC) / IPv6(src=src, dst=dst, **ip)
    for layer in layers:
        pkt = pkt / layer
    return bytes(pkt)


def refused(frame):
    with pytest.raises(wire.WireError) as info:
        wire.parse_frame(frame)
    return info.value


# ---- scapy builds, netchan parses ----------------------------------------------------

def test_udp_over_ipv6_parses_with_header_fields():
    f = frame6(UDP(sport=1234, dport=53) / Raw(b"hello six"), tc=0x28, fl=0xABCDE, hlim=17)
    d = wire.parse_frame(f)
    ip = d["ip6"]
    assert (ip["tclass"], ip["flow"], ip["hop_limit"], ip["proto"]) == (0x28, 0xABCDE, 17, 17)
    assert (ip["src"], ip["dst"], ip["n_ext"]) == (A6, B6, 0)
    assert ip["udp"]["payload"] == b"hello six" and ip["udp"]["dport"] == 53
    assert ip["udp"]["checksum"] == IPv6(f[14:])[UDP].chksum


def test_tcp_over_ipv6_checksum_and_options():
    f = frame6(TCP(sport=4000, dport=80, flags="S", seq=7,
                   options=[("MSS", 1440), ("SAckOK", b""), ("WScale", 7)]))
    t = wire.parse_frame(f)["ip6"]["tcp"]
    assert t["options"] == {"mss": 1440, "sack_perm": True, "wscale": 7}
    assert (t["sport"], t["dport"], t["seq"], t["flags"]) == (4000, 80, 7, 0x02)


def test_icmpv6_echo_checksum_covers_the_pseudo_header():
    f = frame6(ICMPv6EchoRequest(id=5, seq=9, data=b"ping6"))
    ic = wire.parse_frame(f)["ip6"]["icmp6"]
    assert (ic["type"], ic["ident"], ic["seq"], ic["payload"]) == (128, 5, 9, b"ping6")
    # the same message to another destination fails: the pseudo header counts
    moved = bytearray(f)
    moved[14 + 39] ^= 1
    assert refused(bytes(moved)).reason == "rx_icmp6_csum"


def test_neighbour_solicitation_and_advertisement_parse():
    ns = frame6(ICMPv6ND_NS(tgt=B6) / ICMPv6NDOptSrcLLAddr(lladdr=A_MAC),
                dst="ff02::1:ff00:1", hlim=255)
    nd = wire.parse_frame(ns)["ip6"]["ndp"]
    assert nd == {"type": 135, "flags": 0, "target": B6, "lladdr": A_MAC}
    na = frame6(ICMPv6ND_NA(tgt=A6, R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=A_MAC),
                hlim=255)
    nd = wire.parse_frame(na)["ip6"]["ndp"]
    assert nd == {"type": 136, "flags": 0x60, "target": A6, "lladdr": A_MAC}


def test_extension_headers_are_walked_to_the_upper_layer():
    f = frame6(IPv6ExtHdrHopByHop(options=[PadN(optdata=b"\0\0\0\0")]),
               IPv6ExtHdrDestOpt(), IPv6ExtHdrRouting(segleft=0, addresses=[]),
               UDP(sport=1, dport=2) / Raw(b"after three"))
    ip = wire.parse_frame(f)["ip6"]
    assert ip["n_ext"] == 3 and ip["proto"] == 17 and ip["udp"]["payload"] == b"after three"


def test_a_fragment_reports_its_fields():
    f = frame6(IPv6ExtHdrFragment(offset=185, m=1, id=0xDEADBEEF, nh=17), Raw(b"x" * 24))
    e = refused(f)
    assert e.reason == "rx_ip6_fragment"
    ip = e.layers["ip6"]
    assert (ip["frag_off"], ip["mf"], ip["ident"], ip["proto"]) == (185 * 8, True, 0xDEADBEEF, 17)
    assert ip["unfrag_len"] == 40 and ip["payload_len"] == 24


def test_an_atomic_fragment_is_a_whole_packet():
    """RFC 6946: offset 0 and no more fragments is read through."""
    f = frame6(IPv6ExtHdrFragment(offset=0, m=0, id=1), UDP(sport=1, dport=2) / Raw(b"whole"))
    assert wire.parse_frame(f)["ip6"]["udp"]["payload"] == b"whole"


def test_ethernet_padding_after_the_payload_is_ignored():
    f = frame6(ICMPv6EchoRequest(id=1, seq=1))
    assert wire.parse_frame(f + b"\0" * 10)["ip6"]["total_len"] == len(f) - 14


# ---- netchan builds, scapy reads -------------------------------------------------------

def test_built_udp_has_the_checksum_scapy_computes():
    f = wire.build_ipv6_udp(A_MAC, B_MAC, A6, B6, 5000, 6000, b"payload", flow=0x12345)
    pkt = Ether(f)
    got = pkt[UDP].chksum
    del pkt[UDP].chksum
    assert Ether(bytes(pkt))[UDP].chksum == got != 0
    assert pkt[IPv6].fl == 0x12345 and pkt[IPv6].nh == 17 and pkt[IPv6].plen == 15


def test_built_udp_never_sends_a_zero_checksum():
    """RFC 8200 8.1: zero means none, which IPv6 does not allow; a computed
    zero goes out as 0xffff. Find a payload whose sum is zero."""
    for k in range(70000):
        f = wire.build_ipv6_udp(A_MAC, B_MAC, A6, B6, 1, 2, k.to_bytes(3, "big"))
        if Ether(f)[UDP].chksum == 0xFFFF:
            break
    else:
        pytest.fail("no payload with a zero sum found")
    assert wire.parse_frame(f)["ip6"]["udp"]["checksum"] == 0xFFFF


def test_built_tcp_and_echo_check_in_scapy():
    f = wire.build_ipv6_tcp(A_MAC, B_MAC, A6, B6, 1, 80, seq=100, flags="SA",
                            options={"mss": 1440}, payload=b"x")
    pkt = Ether(f)
    got = pkt[TCP].chksum
    del pkt[TCP].chksum
    assert Ether(bytes(pkt))[TCP].chksum == got
    f = wire.build_icmp6_echo(A_MAC, B_MAC, A6, B6, 3, 4, b"data", reply=True)
    pkt = Ether(f)
    assert isinstance(pkt[IPv6].payload, ICMPv6EchoReply)
    got = pkt[ICMPv6EchoReply].cksum
    del pkt[ICMPv6EchoReply].cksum
    assert Ether(bytes(pkt))[ICMPv6EchoReply].cksum == got


def test_built_ndp_messages_check_in_scapy():
    f = wire.build_ndp(A_MAC, "33:33:ff:00:00:01", A6, "ff02::1:ff00:1", 135, B6, lladdr=A_MAC)
    pkt = Ether(f)
    assert pkt[IPv6].hlim == 255 and pkt[ICMPv6ND_NS].tgt == B6
    assert pkt[ICMPv6NDOptSrcLLAddr].lladdr == A_MAC
    got = pkt[ICMPv6ND_NS].cksum
    del pkt[ICMPv6ND_NS].cksum
    assert Ether(bytes(pkt))[ICMPv6ND_NS].cksum == got
    f = wire.build_ndp(B_MAC, A_MAC, B6, A6, 136, B6, lladdr=B_MAC, flags=0x60)
    pkt = Ether(f)
    assert (pkt[ICMPv6ND_NA].S, pkt[ICMPv6ND_NA].O, pkt[ICMPv6ND_NA].R) == (1, 1, 0)
    assert pkt[ICMPv6NDOptDstLLAddr].lladdr == B_MAC


# ---- malformed: each refused under its own name ----------------------------------------

def malformed6():
    udp = UDP(sport=1, dport=2) / Raw(b"abc")
    good = frame6(udp)
    cases = [
        ("39 bytes of IPv6", good[:14 + 39], "rx_ip6_short"),
        ("version 4 in an IPv6 frame", good[:14] + b"\x40" + good[15:], "rx_ip6_version"),
        ("payload length beyond the frame", frame6(udp, plen=200), "rx_ip6_len"),
        ("nine extension headers", frame6(*([IPv6ExtHdrDestOpt()] * 9), udp), "rx_ip6_ext"),
        ("hop-by-hop after another header",
         frame6(IPv6ExtHdrDestOpt(), IPv6ExtHdrHopByHop(), udp), "rx_ip6_ext"),
        ("extension header past the payload",
         frame6(IPv6ExtHdrDestOpt(len=4), udp), "rx_ip6_ext"),
        ("routing header with segments left",
         frame6(IPv6ExtHdrRouting(segleft=1, addresses=["2001:2::9"]), udp), "rx_ip6_routing"),
        ("an option to discard if unknown",
         frame6(IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0x87, optdata=b"\0\0\0\0")]),
                udp), "rx_ip6_option"),
        ("an option running past its header",
         frame6(IPv6ExtHdrDestOpt(autopad=0, options=[PadN(optdata=b"\0" * 4)]) / Raw(b"")
                , udp)[:14 + 40] + b"\x11\x00\x01\x09\0\0\0\0" + bytes(udp), "rx_ip6_option"),
        ("ICMPv6 of 7 bytes", frame6(Raw(b"\x80" * 7), nh=58), "rx_icmp6_short"),
        ("ICMPv6 checksum", frame6(ICMPv6EchoRequest(cksum=0x1234)), "rx_icmp6_csum"),
        ("UDP with no checksum", frame6(UDP(sport=1, dport=2, chksum=0) / Raw(b"abc")),
         "rx_udp_csum"),
        ("UDP checksum", frame6(UDP(sport=1, dport=2, chksum=0x1234) / Raw(b"abc")),
         "rx_udp_csum"),
        ("TCP checksum", frame6(TCP(chksum=0x1234)), "rx_tcp_csum"),
        ("NS with hop limit 254", frame6(ICMPv6ND_NS(tgt=B6), hlim=254), "rx_ndp_format"),
        ("NS for a multicast target", frame6(ICMPv6ND_NS(tgt="ff02::1"), hlim=255),
         "rx_ndp_format"),
        ("NS code 1", frame6(ICMPv6ND_NS(tgt=B6, code=1), hlim=255), "rx_ndp_format"),
        ("DAD NS with a source address option",
         frame6(ICMPv6ND_NS(tgt=B6) / ICMPv6NDOptSrcLLAddr(lladdr=A_MAC), src="::",
                dst="ff02::1:ff00:1", hlim=255), "rx_ndp_format"),
        ("DAD NS to a unicast address", frame6(ICMPv6ND_NS(tgt=B6), src="::", hlim=255),
         "rx_ndp_format"),
        ("NS option of length 0",
         frame6(ICMPv6ND_NS(tgt=B6) / Raw(b"\x01\x00" + b"\0" * 6), hlim=255), "rx_ndp_format"),
        ("NS option past the message",
         frame6(ICMPv6ND_NS(tgt=B6) / Raw(b"\x01\x02" + b"\0" * 6), hlim=255), "rx_ndp_format"),
        ("solicited NA to a group",
         frame6(ICMPv6ND_NA(tgt=A6, S=1), dst="ff02::1", hlim=255), "rx_ndp_format"),
        ("NA cut before its target", frame6(ICMPv6ND_NA(tgt=A6), hlim=255)[:-4],
         "rx_ip6_len"),
    ]
    return cases


@pytest.mark.parametrize("what,frame,reason", malformed6(), ids=[c[0] for c in malformed6()])
def test_malformed_ipv6_is_refused_by_reason(what, frame, reason):
    assert refused(frame).reason == reason, what
