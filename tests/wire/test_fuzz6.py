"""IPv6 frames mutated at random (seeded) against a dual-stack stack: every
frame ends in exactly one counter, every reply parses with right checksums
and goes back to the sender, no buffer is kept. Seeds cover UDP, TCP to a
listener, echo, NS/NA, extension headers and fragments; mutations hit the
header fields, lengths, next headers, option bytes and checksums, with the
checksums often fixed up afterwards so the mutants reach deep."""
import random

import pytest
from scapy.layers.inet import TCP, UDP
from scapy.layers.inet6 import (ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS,
                                ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr, IPv6,
                                IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop,
                                in6_chksum)
from scapy.layers.l2 import Ether
from scapy.packet import Raw

import netchan
from conftest import unique
from netchan import _testing as wire

OURS, PEER = "2001:2::1", "2001:2::2"
N = 20000
BUCKETS = ("rx_not_for_us", "rx_ip6_not_for_us", "rx_ip_bad_source", "rx_ndp_ns", "rx_ndp_na",
           "rx_icmp6_echo", "rx_icmp6_other", "rx_udp", "rx_tcp", "rx_unknown_proto",
           "ip6_frags_in")
WIRE = tuple(n for n in wire.WIRE_ERROR_NAMES[1:] if n != "rx_ip6_fragment")


def seeds(smac, dmac):
    e = Ether(src=smac, dst=dmac)
    ip = IPv6(src=PEER, dst=OURS)
    return [bytes(p) for p in (
        e / ip / UDP(sport=1, dport=5353) / Raw(b"fuzz me"),
        e / ip / UDP(sport=1, dport=9) / Raw(b"closed"),
        e / ip / TCP(sport=40000, dport=80, flags="S", options=[("MSS", 1440)]),
        e / ip / TCP(sport=40001, dport=81, flags="A") / Raw(b"stray"),
        e / ip / ICMPv6EchoRequest(id=1, seq=2, data=b"ping"),
        Ether(src=smac, dst="33:33:ff:00:00:01") / IPv6(src=PEER, dst="ff02::1:ff00:1", hlim=255)
        / ICMPv6ND_NS(tgt=OURS) / ICMPv6NDOptSrcLLAddr(lladdr=smac),
        e / IPv6(src=PEER, dst=OURS, hlim=255) / ICMPv6ND_NA(tgt=PEER, S=1, O=1)
        / ICMPv6NDOptDstLLAddr(lladdr=smac),
        e / ip / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / UDP(sport=2, dport=5353) / Raw(b"x"),
        e / ip / IPv6ExtHdrFragment(id=7, m=1, nh=17) / Raw(b"f" * 24),
    )]


def fix_l4(b):
    """Recompute the upper-layer checksum of a frame with no extension
    header, as far as its lengths allow."""
    if len(b) < 54 or b[12:14] != b"\x86\xdd":
        return
    nh, plen = b[20], int.from_bytes(b[18:20], "big")
    if 54 + 0 > len(b) or 54 + plen > len(b) + 40:
        return
    off = {6: 16, 17: 6, 58: 2}.get(nh)
    seg = bytes(b[54:54 + plen])
    if off is None or len(seg) < off + 2:
        return
    seg = seg[:off] + b"\0\0" + seg[off + 2:]
    c = in6_chksum(nh, IPv6(bytes(b[14:54])), seg)
    b[54 + off:54 + off + 2] = c.to_bytes(2, "big")


def mutate(rng, frame):
    b = bytearray(frame)
    for _ in range(rng.randint(1, 3)):
        what = rng.randrange(8)
        if what == 0:        # a byte of the IPv6 header
            b[14 + rng.randrange(40)] = rng.randrange(256)
        elif what == 1:      # the payload length
            b[18:20] = rng.choice((0, 1, 7, 8, len(b) - 54, len(b) - 53, 65535,
                                   rng.randrange(65536))).to_bytes(2, "big")
        elif what == 2:      # the next header
            b[20] = rng.choice((0, 6, 17, 43, 44, 58, 59, 60, 253, rng.randrange(256)))
        elif what == 3:      # the hop limit
            b[21] = rng.choice((0, 1, 254, 255))
        elif what == 4 and len(b) > 54:     # any byte after the fixed header
            i = 54 + rng.randrange(len(b) - 54)
            b[i] = rng.randrange(256)
        elif what == 5:      # grown (cut short below, last)
            b = b + bytes(rng.randrange(1, 24))
        elif what == 6:      # destination and source addresses
            i = 14 + rng.choice((8, 24)) + rng.randrange(16)
            if i < len(b):
                b[i] = rng.randrange(256)
        else:                # the destination MAC
            b[0:6] = rng.choice((b[0:6], b"\x33\x33\x00\x00\x00\x01", b"\x33\x33\xff\x00\x00\x02",
                                 rng.randbytes(6)))
    if rng.random() < 0.6:
        fix_l4(b)
    if rng.random() < 0.08:
        b = b[:rng.randrange(14, len(b) + 1)]
    return bytes(b)


def test_fuzz_ipv6(vclock):
    name = unique("fuzz6")
    port = netchan.open_port(netchan.parse_port_uri(f"pair:{name}"))
    stack = netchan.Stack(f"pair:{name}", ip=["198.18.0.1/15", f"{OURS}/64"], clock=vclock,
                          seed=3)
    try:
        port.recv()
        sock = stack.udp(("::", 5353))
        stack.listen(80)
        rng = random.Random(1206)
        base = seeds(port.mac, stack.mac)
        free0 = port.stats()["port_bufs_free"]
        before = stack.stats()
        replies = 0
        for i in range(N):
            assert port.send(mutate(rng, rng.choice(base)))
            if i % 16 == 15:
                stack.poll()
                for r in port.recv():
                    replies += 1
                    d = wire.parse_frame(r)          # our output always parses, checksums right
                    assert d["eth"]["src"] == stack.mac
                    if "ip6" in d:
                        assert d["ip6"]["src"] in stack.addresses[1] + stack.addresses[2]
                vclock.advance(10**6)
        stack.poll()
        port.recv()
        after = stack.stats()
        delta = {k: after[k] - before[k] for k in BUCKETS + WIRE}
        accounted = sum(delta.values())
        assert N <= accounted <= N + after["ip6_reassembled"], delta
        assert after["rx_frames"] - before["rx_frames"] == N
        # the fuzz reached deep: each of these outcomes happened
        for k in ("rx_ip6_not_for_us", "rx_ndp_ns", "rx_icmp6_echo", "rx_udp", "rx_tcp",
                  "ip6_frags_in", "rx_ip6_ext", "rx_ip6_len", "rx_icmp6_csum", "rx_udp_csum"):
            assert delta[k] > 0, f"the fuzz never produced {k}"
        assert replies > 0
        # let every timer run out and read what the socket holds: then every
        # buffer is back
        for _ in range(200):
            vclock.advance(10**9)
            stack.poll()
            port.recv()
        while True:
            try:
                data, src = sock.recvfrom(timeout=0)
            except BlockingIOError:
                break
            assert len(src) == 4
        assert port.stats()["port_bufs_free"] == free0
    finally:
        stack.close()
        port.close()
