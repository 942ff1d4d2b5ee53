"""The wire layer (pyx/wire/) against scapy, the independent reference.

Both directions: frames netchan's emit functions build are dissected by
scapy (every field, and scapy's own checksums must equal what netchan
wrote), and frames scapy builds are parsed by netchan's parsers (every
field). Then round trips with random content, checksum corruption, and
every malformed case the parser must refuse, each with its counter name.
The parsers are reached through the test shim pyx/wire_py.pxi, which calls
the same `noexcept nogil` functions the stack's classifier uses; the last
tests send the malformed frames to a real Stack and check its counters.
"""
import ipaddress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_NOP, IPOption_RR, fragment
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw
from scapy.utils import checksum as scapy_checksum

from netchan import _testing as wire

from conftest import PEER_IP, SERVER_IP

A_MAC = "02:00:00:00:00:0a"
B_MAC = "02:00:00:00:00:0b"
A_IP = "198.18.0.2"
B_IP = "198.18.0.1"

MAX_IP = 65535
FLAG_BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20, "E": 0x40, "C": 0x80}

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
macs = st.binary(min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02x}" for x in b))
ipv4s = u32.map(lambda v: str(ipaddress.IPv4Address(v)))
payloads = st.binary(max_size=1600)

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# scapy is slow (milliseconds a packet): fewer examples where it takes part
SCAPY_SETTINGS = settings(SETTINGS, max_examples=100)


def refused(frame, verify=True):
    """The reason (counter name) the parser gives for refusing frame."""
    with pytest.raises(wire.WireError) as info:
        wire.parse_frame(frame, verify)
    assert info.value.reason in wire.WIRE_ERROR_NAMES[1:]
    return info.value.reason


@st.composite
def tcp_options(draw):
    """Options as the builder takes them: any subset, up to 4 SACK blocks."""
    o = {}
    if draw(st.booleans()):
        o["mss"] = draw(u16)
    if draw(st.booleans()):
        o["wscale"] = draw(u8)
    if draw(st.booleans()):
        o["sack_perm"] = True
    if draw(st.booleans()):
        o["ts_val"] = draw(u32)
        o["ts_ecr"] = draw(u32)
    n = draw(st.integers(0, 4))
    if n:
        o["sack"] = draw(st.lists(st.tuples(u32, u32), min_size=n, max_size=n))
    return o


def expected_sent_options(o):
    """What the 40-byte option area can carry of `o` in Linux's layout,
    derived here independently of pyx/wire/: MSS 4; timestamps 12 (SACK_PERM
    rides in their NOP NOP), else SACK_PERM alone 4; window scale 4; then
    NOP NOP + SACK header 4 and 8 per block in what is left."""
    fixed = (4 if "mss" in o else 0) + (12 if "ts_val" in o else 4 if o.get("sack_perm") else 0) \
        + (4 if "wscale" in o else 0)
    want = dict(o)
    length = fixed
    if o.get("sack"):
        fit = (40 - fixed - 4) // 8
        want["sack"] = list(o["sack"][:fit])
        length += 4 + 8 * len(want["sack"])
    return want, length


def scapy_options(pkt):
    """scapy's TCP option list as the shim's dict."""
    d = {}
    for name, value in pkt[TCP].options:
        if name == "MSS":
            d["mss"] = value
        elif name == "WScale":
            d["wscale"] = value
        elif name == "SAckOK":
            d["sack_perm"] = True
        elif name == "Timestamp":
            d["ts_val"], d["ts_ecr"] = value
        elif name == "SAck":
            d["sack"] = list(zip(value[0::2], value[1::2]))
        else:
            assert name in ("NOP", "EOL"), f"scapy saw an option netchan did not write: {name}"
    return d


def scapy_rebuilt(frame, l4_cls):
    """Let scapy dissect frame, forget both checksums and build it again with
    its own checksum code. The L4 payload is put back as raw bytes so that
    scapy's guess of an application protocol cannot change them."""
    p = Ether(frame)
    ip = p[IP]
    l4 = p[l4_cls]
    hdr = l4.dataofs * 4 if l4_cls is TCP else 8
    start = 14 + ip.ihl * 4 + hdr
    data = frame[start:14 + ip.len]
    l4.remove_payload()
    if data:
        l4.add_payload(Raw(data))
    del ip.chksum
    del l4.chksum
    return bytes(p)


def with_ip_checksum(frame):
    """frame with its IPv4 header checksum recomputed (scapy's code)."""
    b = bytearray(frame)
    hl = (b[14] & 0x0F) * 4
    b[24:26] = b"\0\0"
    b[24:26] = scapy_checksum(bytes(b[14:14 + hl])).to_bytes(2, "big")
    return bytes(b)


# ---- netchan builds, scapy dissects ---------------------------------------------------

@SCAPY_SETTINGS
@given(smac=macs, dmac=macs, src=ipv4s, dst=ipv4s, sport=u16, dport=u16, seq=u32, ack=u32,
       flags=u8, window=u16, options=tcp_options(), ttl=u8, ident=u16, df=st.booleans(),
       payload=payloads)
def test_tcp_built_is_what_scapy_reads(smac, dmac, src, dst, sport, dport, seq, ack, flags, window,
                                       options, ttl, ident, df, payload):
    frame = wire.build_ipv4_tcp(smac, dmac, src, dst, sport, dport, seq, ack, flags, window,
                                options, payload, ttl=ttl, ident=ident, dont_frag=df)
    want_opts, opt_len = expected_sent_options(options)
    p = Ether(frame)
    assert (p.src, p.dst, p.type) == (smac, dmac, 0x0800)
    ip = p[IP]
    assert (ip.version, ip.ihl, ip.tos, ip.len, ip.id, int(ip.flags), ip.frag, ip.ttl, ip.proto,
            ip.src, ip.dst) == (4, 5, 0, 20 + 20 + opt_len + len(payload), ident, 2 if df else 0,
                                0, ttl, 6, src, dst)
    tcp = p[TCP]
    assert (tcp.sport, tcp.dport, tcp.seq, tcp.ack, tcp.dataofs, tcp.reserved, int(tcp.flags),
            tcp.window, tcp.urgptr) == (sport, dport, seq, ack, (20 + opt_len) // 4, 0, flags,
                                        window, 0)
    assert scapy_options(p) == want_opts
    assert frame[14 + 20 + 20 + opt_len:] == payload
    # scapy's checksums over the same bytes: the rebuilt frame is identical
    assert scapy_rebuilt(frame, TCP) == frame


@SCAPY_SETTINGS
@given(smac=macs, dmac=macs, src=ipv4s, dst=ipv4s, sport=u16, dport=u16, ttl=u8, ident=u16,
       payload=payloads)
def test_udp_built_is_what_scapy_reads(smac, dmac, src, dst, sport, dport, ttl, ident, payload):
    frame = wire.build_ipv4_udp(smac, dmac, src, dst, sport, dport, payload, ttl=ttl, ident=ident)
    p = Ether(frame)
    assert (p.src, p.dst) == (smac, dmac)
    ip = p[IP]
    assert (ip.ihl, ip.len, ip.id, int(ip.flags), ip.ttl, ip.proto, ip.src, ip.dst) == \
        (5, 28 + len(payload), ident, 2, ttl, 17, src, dst)
    udp = p[UDP]
    assert (udp.sport, udp.dport, udp.len) == (sport, dport, 8 + len(payload))
    assert udp.chksum != 0, "netchan always sends a UDP checksum"
    assert frame[42:] == payload
    assert scapy_rebuilt(frame, UDP) == frame


@SCAPY_SETTINGS
@given(smac=macs, dmac=macs, src=ipv4s, dst=ipv4s, ident=u16, seq=u16, reply=st.booleans(),
       payload=payloads)
def test_icmp_echo_built_is_what_scapy_reads(smac, dmac, src, dst, ident, seq, reply, payload):
    frame = wire.build_icmp_echo(smac, dmac, src, dst, ident, seq, payload, reply=reply)
    p = Ether(frame)
    ip = p[IP]
    assert (ip.len, ip.proto, ip.src, ip.dst) == (28 + len(payload), 1, src, dst)
    icmp = p[ICMP]
    assert (icmp.type, icmp.code, icmp.id, icmp.seq) == (0 if reply else 8, 0, ident, seq)
    assert frame[42:] == payload
    assert scapy_rebuilt(frame, ICMP) == frame


@SCAPY_SETTINGS
@given(op=st.sampled_from([1, 2]), sha=macs, spa=ipv4s, tha=macs, tpa=ipv4s)
def test_arp_built_is_what_scapy_reads(op, sha, spa, tha, tpa):
    frame = wire.build_arp(op, sha, spa, tha, tpa)
    assert len(frame) == 60         # padded to the Ethernet minimum
    p = Ether(frame)
    assert (p.src, p.dst, p.type) == (sha, "ff:ff:ff:ff:ff:ff" if op == 1 else tha, 0x0806)
    a = p[ARP]
    assert (a.hwtype, a.ptype, a.hwlen, a.plen, a.op, a.hwsrc, a.psrc, a.hwdst, a.pdst) == \
        (1, 0x0800, 6, 4, op, sha, spa, tha, tpa)


def test_syn_options_use_linux_layout():
    """Byte for byte what Linux sends in a SYN: MSS, SACK_PERM+TS, NOP+WS."""
    frame = wire.build_ipv4_tcp(A_MAC, B_MAC, A_IP, B_IP, 40000, 80, 1, 0, "S", 64240,
                                {"mss": 1460, "sack_perm": True, "ts_val": 0x01020304,
                                 "ts_ecr": 0, "wscale": 7})
    assert frame[54:74].hex() == "020405b4" "0402080a" "01020304" "00000000" "01030307"
    frame = wire.build_ipv4_tcp(A_MAC, B_MAC, A_IP, B_IP, 40000, 80, 1, 5, "A", 501,
                                {"ts_val": 7, "ts_ecr": 9, "sack": [(100, 200)]})
    assert frame[54:78].hex() == "0101080a" "00000007" "00000009" "0101050a" "00000064" "000000c8"


def test_sack_blocks_that_fit():
    """40 option bytes: 4 SACK blocks alone, 3 beside timestamps, 2 when MSS
    and window scale are there too."""
    blocks = [(i * 1000, i * 1000 + 500) for i in range(1, 5)]
    cases = [({"sack": blocks}, 4, 36),
             ({"sack": blocks, "sack_perm": True}, 4, 40),
             ({"sack": blocks, "ts_val": 1, "ts_ecr": 2}, 3, 40),
             ({"sack": blocks, "ts_val": 1, "ts_ecr": 2, "mss": 1, "wscale": 2}, 2, 40)]
    for options, n_sent, opt_len in cases:
        assert wire.tcp_options_length(options) == opt_len
        frame = wire.build_ipv4_tcp(A_MAC, B_MAC, A_IP, B_IP, 1, 2, 0, 0, "A", 0, options)
        assert Ether(frame)[TCP].dataofs * 4 == 20 + opt_len
        got = wire.parse_frame(frame)["tcp"]["options"]
        assert got["sack"] == blocks[:n_sent]
        assert scapy_options(Ether(frame))["sack"] == blocks[:n_sent]


# ---- scapy builds, netchan parses -----------------------------------------------------

@st.composite
def scapy_tcp_options(draw):
    """A scapy option list in any order with NOPs, at most 40 bytes, and the
    dict netchan should read from it."""
    items, want = [], {}
    size = {"MSS": 4, "WScale": 3, "SAckOK": 2, "Timestamp": 10, "NOP": 1}
    kinds = draw(st.permutations(["MSS", "WScale", "SAckOK", "Timestamp", "SAck", "NOP", "NOP"]))
    used = 0
    for kind in kinds:
        if not draw(st.booleans()):
            continue
        if kind == "SAck":
            n = draw(st.integers(1, 4))
            length = 2 + 8 * n
        else:
            length = size[kind]
        if used + length > 40:
            continue
        used += length
        if kind == "MSS":
            want["mss"] = draw(u16)
            items.append(("MSS", want["mss"]))
        elif kind == "WScale":
            want["wscale"] = draw(u8)
            items.append(("WScale", want["wscale"]))
        elif kind == "SAckOK":
            want["sack_perm"] = True
            items.append(("SAckOK", b""))
        elif kind == "Timestamp":
            want["ts_val"], want["ts_ecr"] = draw(u32), draw(u32)
            items.append(("Timestamp", (want["ts_val"], want["ts_ecr"])))
        elif kind == "SAck":
            edges = draw(st.lists(u32, min_size=2 * n, max_size=2 * n))
            want["sack"] = list(zip(edges[0::2], edges[1::2]))
            items.append(("SAck", tuple(edges)))
        else:
            items.append(("NOP", None))
    return items, want


@SCAPY_SETTINGS
@given(smac=macs, dmac=macs, src=ipv4s, dst=ipv4s, tos=u8, ttl=u8, ident=u16,
       df=st.booleans(), sport=u16, dport=u16, seq=u32, ack=u32, flags=u8, window=u16,
       urgent=u16, opts=scapy_tcp_options(), payload=payloads)
def test_scapy_tcp_parsed_field_by_field(smac, dmac, src, dst, tos, ttl, ident, df, sport, dport,
                                         seq, ack, flags, window, urgent, opts, payload):
    items, want_opts = opts
    pkt = (Ether(src=smac, dst=dmac) /
           IP(src=src, dst=dst, tos=tos, ttl=ttl, id=ident, flags="DF" if df else 0) /
           TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, window=window,
               urgptr=urgent, options=items) / Raw(payload))
    frame = bytes(pkt)
    s = Ether(frame)
    d = wire.parse_frame(frame)
    assert d["eth"] == {"dst": dmac, "src": smac, "type": 0x0800}
    ip = d["ip"]
    assert ip == {"hdr_len": 20, "total_len": s[IP].len, "tos": tos, "ttl": ttl, "proto": 6,
                  "ident": ident, "df": df, "mf": False, "frag_off": 0, "src": src, "dst": dst,
                  "options": b"", "checksum": s[IP].chksum, "payload_len": s[IP].len - 20}
    tcp = d["tcp"]
    assert tcp == {"sport": sport, "dport": dport, "seq": seq, "ack": ack, "flags": flags,
                   "window": window, "urgent": urgent, "hdr_len": s[TCP].dataofs * 4,
                   "options": want_opts, "checksum": s[TCP].chksum, "payload": payload}


@SCAPY_SETTINGS
@given(smac=macs, dmac=macs, src=ipv4s, dst=ipv4s, sport=u16, dport=u16, ttl=u8, ident=u16,
       payload=payloads)
def test_scapy_udp_parsed_field_by_field(smac, dmac, src, dst, sport, dport, ttl, ident, payload):
    frame = bytes(Ether(src=smac, dst=dmac) / IP(src=src, dst=dst, ttl=ttl, id=ident) /
                  UDP(sport=sport, dport=dport) / Raw(payload))
    s = Ether(frame)
    d = wire.parse_frame(frame)
    assert d["eth"]["src"] == smac and d["eth"]["dst"] == dmac
    assert (d["ip"]["src"], d["ip"]["dst"], d["ip"]["ttl"], d["ip"]["ident"], d["ip"]["proto"],
            d["ip"]["df"], d["ip"]["total_len"]) == (src, dst, ttl, ident, 17, False,
                                                     28 + len(payload))
    assert d["udp"] == {"sport": sport, "dport": dport, "len": 8 + len(payload),
                        "checksum": s[UDP].chksum, "payload": payload}


@SCAPY_SETTINGS
@given(src=ipv4s, dst=ipv4s, icmp_type=u8, code=u8, ident=u16, seq=u16, payload=payloads)
def test_scapy_icmp_parsed_field_by_field(src, dst, icmp_type, code, ident, seq, payload):
    # any type: id and seq are simply bytes 4..7 (scapy's ICMP fields for
    # them depend on the type, so the message is raw bytes here)
    body = bytes([icmp_type, code, 0, 0]) + ident.to_bytes(2, "big") + seq.to_bytes(2, "big") \
        + payload
    csum = scapy_checksum(body)
    body = body[:2] + csum.to_bytes(2, "big") + body[4:]
    frame = bytes(Ether(src=A_MAC, dst=B_MAC) / IP(src=src, dst=dst, proto=1) / Raw(body))
    p = Ether(frame)
    if ICMP in p:           # scapy gives up on types whose layout it knows and this is too short for
        assert p[ICMP].chksum == csum
    d = wire.parse_frame(frame)
    assert d["icmp"] == {"type": icmp_type, "code": code, "ident": ident, "seq": seq,
                         "rest": (ident << 16) | seq, "checksum": csum,
                         "payload": payload}


@SCAPY_SETTINGS
@given(ident=u16, seq=u16, payload=payloads)
def test_scapy_icmp_echo_parsed(ident, seq, payload):
    frame = bytes(Ether(src=A_MAC, dst=B_MAC) / IP(src=A_IP, dst=B_IP) /
                  ICMP(type=8, id=ident, seq=seq) / Raw(payload))
    d = wire.parse_frame(frame)
    assert (d["icmp"]["type"], d["icmp"]["code"], d["icmp"]["ident"], d["icmp"]["seq"],
            d["icmp"]["payload"]) == (8, 0, ident, seq, payload)


@SCAPY_SETTINGS
@given(op=st.sampled_from([1, 2]), sha=macs, spa=ipv4s, tha=macs, tpa=ipv4s, dmac=macs)
def test_scapy_arp_parsed(op, sha, spa, tha, tpa, dmac):
    frame = bytes(Ether(src=sha, dst=dmac) / ARP(op=op, hwsrc=sha, psrc=spa, hwdst=tha, pdst=tpa))
    assert wire.parse_frame(frame) == {
        "eth": {"dst": dmac, "src": sha, "type": 0x0806},
        "arp": {"op": op, "sha": sha, "spa": spa, "tha": tha, "tpa": tpa}}


# ---- round trips ----------------------------------------------------------------------

@SETTINGS
@given(sport=u16, dport=u16, seq=u32, ack=u32, flags=u8, window=u16, options=tcp_options(),
       payload=payloads)
def test_tcp_round_trip(sport, dport, seq, ack, flags, window, options, payload):
    frame = wire.build_ipv4_tcp(A_MAC, B_MAC, A_IP, B_IP, sport, dport, seq, ack, flags, window,
                                options, payload)
    want_opts, opt_len = expected_sent_options(options)
    assert opt_len <= 40 and opt_len % 4 == 0
    assert wire.tcp_options_length(options) == opt_len
    d = wire.parse_frame(frame)
    t = d["tcp"]
    assert (t["sport"], t["dport"], t["seq"], t["ack"], t["flags"], t["window"], t["urgent"],
            t["hdr_len"], t["options"], t["payload"]) == (sport, dport, seq, ack, flags, window,
                                                          0, 20 + opt_len, want_opts, payload)
    assert d["ip"]["total_len"] == 40 + opt_len + len(payload) == len(frame) - 14


@SETTINGS
@given(sport=u16, dport=u16, payload=payloads)
def test_udp_round_trip(sport, dport, payload):
    d = wire.parse_frame(wire.build_ipv4_udp(A_MAC, B_MAC, A_IP, B_IP, sport, dport, payload))
    assert (d["udp"]["sport"], d["udp"]["dport"], d["udp"]["len"], d["udp"]["payload"]) == \
        (sport, dport, 8 + len(payload), payload)


@SETTINGS
@given(flags=st.text(alphabet="FSRPAUEC", max_size=8))
def test_flag_letters(flags):
    frame = wire.build_ipv4_tcp(A_MAC, B_MAC, A_IP, B_IP, 1, 2, flags=flags)
    want = 0
    for ch in flags:
        want |= FLAG_BITS[ch]
    assert wire.parse_frame(frame)["tcp"]["flags"] == want == int(Ether(frame)[TCP].flags)


@pytest.mark.parametrize("size", [0, 1, 2, 3, 7, 8, 9, 31, 32, 33, 1471, 1472, 1473, 9000])
def test_payload_sizes_round_trip_and_match_scapy(size):
    payload = bytes((i * 7 + 3) & 0xFF for i in range(size))
    for frame, cls in ((wire.build_ipv4_udp(A_MAC, B_MAC, A_IP, B_IP, 5, 6, payload), UDP),
                       (wire.build_ipv4_tcp(A_MAC, B_MAC, A_IP, B_IP, 5, 6, 1, 2, "PA", 3,
                                            {"ts_val": 1, "ts_ecr": 2}, payload), TCP),
                       (wire.build_icmp_echo(A_MAC, B_MAC, A_IP, B_IP, 5, 6, payload), ICMP)):
        d = wire.parse_frame(frame)
        assert d[cls.__name__.lower()]["payload"] == payload
        assert scapy_rebuilt(frame, cls) == frame


def test_largest_packets():
    """An IPv4 packet of 65535 bytes is the most the length fields hold; one
    byte more is refused by the builder."""
    for build, hdr in ((lambda n: wire.build_ipv4_udp(A_MAC, B_MAC, A_IP, B_IP, 1, 2, b"\xab" * n), 28),
                       (lambda n: wire.build_ipv4_tcp(A_MAC, B_MAC, A_IP, B_IP, 1, 2, 0, 0, "A", 0,
                                                      None, b"\xcd" * n), 40),
                       (lambda n: wire.build_icmp_echo(A_MAC, B_MAC, A_IP, B_IP, 1, 2, b"\xef" * n), 28)):
        frame = build(MAX_IP - hdr)
        assert len(frame) == 14 + MAX_IP
        d = wire.parse_frame(frame)
        assert d["ip"]["total_len"] == MAX_IP
        assert Ether(frame)[IP].len == MAX_IP
        with pytest.raises(ValueError, match="65536 bytes"):
            build(MAX_IP - hdr + 1)
    # with a full option area the payload room shrinks by 40
    opts = {"sack": [(1, 2)] * 4, "sack_perm": True}
    frame = wire.build_ipv4_tcp(A_MAC, B_MAC, A_IP, B_IP, 1, 2, 0, 0, "A", 0, opts,
                                b"\0" * (MAX_IP - 80))
    d = wire.parse_frame(frame)
    assert d["tcp"]["hdr_len"] == 60 and len(d["tcp"]["payload"]) == MAX_IP - 80
    assert scapy_rebuilt(frame, TCP) == frame


def test_builders_reject_bad_arguments():
    with pytest.raises(ValueError, match="src_mac"):
        wire.build_ipv4_udp("02:00", B_MAC, A_IP, B_IP, 1, 2)
    with pytest.raises(ValueError, match="dst_ip"):
        wire.build_ipv4_udp(A_MAC, B_MAC, A_IP, "198.18.0.256", 1, 2)
    with pytest.raises(ValueError, match="flags"):
        wire.build_ipv4_tcp(A_MAC, B_MAC, A_IP, B_IP, 1, 2, flags="SX")
    with pytest.raises(ValueError, match="unknown TCP options"):
        wire.build_ipv4_tcp(A_MAC, B_MAC, A_IP, B_IP, 1, 2, options={"md5": 1})
    with pytest.raises(ValueError, match="ts_val and ts_ecr"):
        wire.build_ipv4_tcp(A_MAC, B_MAC, A_IP, B_IP, 1, 2, options={"ts_val": 1})
    with pytest.raises(ValueError, match="at most 4 SACK"):
        wire.build_ipv4_tcp(A_MAC, B_MAC, A_IP, B_IP, 1, 2, options={"sack": [(1, 2)] * 5})


# ---- checksums -------------------------------------------------------------------------

def flip(frame, byte, bit):
    b = bytearray(frame)
    b[byte] ^= 1 << bit
    return bytes(b)


@SETTINGS
@given(payload=payloads, data=st.data())
def test_corrupted_ip_header_is_refused(payload, data):
    frame = wire.build_ipv4_udp(A_MAC, B_MAC, A_IP, B_IP, 1, 2, payload)
    # any bit of the header but version/IHL (byte 0) and total length (2, 3),
    # which are checked before the checksum
    byte = data.draw(st.sampled_from([1] + list(range(4, 20)))) + 14
    assert refused(flip(frame, byte, data.draw(st.integers(0, 7)))) == "rx_ip_csum"


@SETTINGS
@given(payload=payloads, options=tcp_options(), data=st.data())
def test_corrupted_tcp_segment_is_refused(payload, options, data):
    frame = wire.build_ipv4_tcp(A_MAC, B_MAC, A_IP, B_IP, 1, 2, 3, 4, "PA", 5, options, payload)
    byte = 34 + data.draw(st.integers(0, len(frame) - 35).filter(lambda i: i != 12))
    bad = flip(frame, byte, data.draw(st.integers(0, 7)))
    assert refused(bad) == "rx_tcp_csum"
    hdr_len = 20 + wire.tcp_options_length(options)
    if not 34 + 20 <= byte < 34 + hdr_len:              # options are checked after the sum
        wire.parse_frame(bad, verify_checksums=False)   # only the checksum was wrong


@SETTINGS
@given(payload=payloads, data=st.data())
def test_corrupted_udp_datagram_is_refused(payload, data):
    frame = wire.build_ipv4_udp(A_MAC, B_MAC, A_IP, B_IP, 1, 2, payload)
    byte = 34 + data.draw(st.integers(0, len(frame) - 35).filter(lambda i: i not in (4, 5)))
    bad = flip(frame, byte, data.draw(st.integers(0, 7)))
    if bad[40:42] == b"\0\0":
        return          # the flip produced "no checksum": nothing to verify
    assert refused(bad) == "rx_udp_csum"


@SETTINGS
@given(payload=payloads, data=st.data())
def test_corrupted_icmp_message_is_refused(payload, data):
    frame = wire.build_icmp_echo(A_MAC, B_MAC, A_IP, B_IP, 1, 2, payload)
    byte = 34 + data.draw(st.integers(0, len(frame) - 35))
    assert refused(flip(frame, byte, data.draw(st.integers(0, 7)))) == "rx_icmp_csum"


def test_pseudo_header_is_covered():
    """Changing an IP address (with a fixed-up IP checksum) breaks the L4
    checksum: the pseudo header is part of it."""
    tcp = wire.build_ipv4_tcp(A_MAC, B_MAC, A_IP, B_IP, 1, 2, payload=b"hi")
    udp = wire.build_ipv4_udp(A_MAC, B_MAC, A_IP, B_IP, 1, 2, b"hi")
    for frame, reason in ((tcp, "rx_tcp_csum"), (udp, "rx_udp_csum")):
        moved = with_ip_checksum(frame[:33] + b"\x07" + frame[34:])     # dst 198.18.0.7
        assert wire.parse_frame(moved, False)["ip"]["dst"] == "198.18.0.7"
        assert refused(moved) == reason


def test_udp_checksum_zero_means_none():
    frame = bytearray(wire.build_ipv4_udp(A_MAC, B_MAC, A_IP, B_IP, 1, 2, b"payload"))
    frame[40:42] = b"\0\0"
    frame[-1] = ord("!")       # would fail any checksum
    d = wire.parse_frame(bytes(frame))
    assert d["udp"]["checksum"] == 0 and d["udp"]["payload"] == b"payloa!"


def test_udp_computed_zero_is_sent_as_ffff():
    base = wire.build_ipv4_udp(A_MAC, B_MAC, A_IP, B_IP, 1, 2, b"\0\0")
    # adding the stored checksum word to the data makes the sum all ones,
    # so the checksum computes to 0
    payload = base[40:42]
    frame = wire.build_ipv4_udp(A_MAC, B_MAC, A_IP, B_IP, 1, 2, payload)
    assert frame[40:42] == b"\xff\xff"
    assert wire.parse_frame(frame)["udp"]["checksum"] == 0xFFFF
    p = Ether(frame)
    del p[UDP].chksum
    assert bytes(p) == frame            # scapy does the same (RFC 768)


def test_tcp_checksum_not_checked_when_not_asked():
    frame = flip(wire.build_ipv4_tcp(A_MAC, B_MAC, A_IP, B_IP, 1, 2, payload=b"x"), 54, 0)
    assert refused(frame) == "rx_tcp_csum"
    assert wire.parse_frame(frame, verify_checksums=False)["tcp"]["payload"] == b"y"


# ---- malformed frames -------------------------------------------------------------------

def eth(dst=B_MAC, src=A_MAC, type=0x0800):
    return Ether(dst=dst, src=src, type=type)


def tcp_raw_options(opts, payload=b"", dst_mac=B_MAC, dst_ip=B_IP):
    """A TCP segment whose option area is the raw bytes opts (padded to a
    multiple of 4 by the caller), with correct checksums."""
    assert len(opts) % 4 == 0
    return bytes(eth(dst_mac) / IP(src=A_IP, dst=dst_ip) /
                 TCP(sport=1000, dport=80, flags="S", dataofs=5 + len(opts) // 4) /
                 Raw(opts + payload))


def malformed_cases(dst_mac=B_MAC, dst_ip=B_IP):
    """(what, frame, reason): every way the parser must refuse a frame. All
    are addressed to dst_mac/dst_ip, so that a stack there counts them."""
    e = lambda **kw: eth(dst_mac, **kw)                        # noqa: E731
    ip = lambda **kw: IP(src=A_IP, dst=dst_ip, **kw)           # noqa: E731
    good_udp = bytes(e() / ip() / UDP(sport=1, dport=2) / Raw(b"abcdef"))
    cases = []
    for n in range(14):
        cases.append((f"{n}-byte frame", good_udp[:n], "rx_eth_short"))
    arp = bytes(e(type=0x0806) / ARP(op=1, hwsrc=A_MAC, psrc=A_IP, pdst=dst_ip))
    cases += [
        ("ARP cut to 27 bytes", arp[:14 + 27], "rx_arp_short"),
        ("ARP with no body", arp[:14], "rx_arp_short"),
        ("ARP htype 6", arp[:14] + b"\x00\x06" + arp[16:], "rx_arp_format"),
        ("ARP ptype IPv6", arp[:16] + b"\x86\xdd" + arp[18:], "rx_arp_format"),
        ("ARP hlen 8", arp[:18] + b"\x08" + arp[19:], "rx_arp_format"),
        ("ARP plen 16", arp[:19] + b"\x10" + arp[20:], "rx_arp_format"),
        ("ARP op 3 (RARP)", arp[:20] + b"\x00\x03" + arp[22:], "rx_arp_format"),
        ("ARP op 0", arp[:20] + b"\x00\x00" + arp[22:], "rx_arp_format"),
        ("IPv6 cut to 39 bytes", bytes(e(type=0x86DD)) + b"\x60" + b"\0" * 38, "rx_ip6_short"),
        ("IPv6 version 4", bytes(e(type=0x86DD)) + b"\x40" + b"\0" * 39, "rx_ip6_version"),
        ("IPv6 payload length beyond the frame",
         bytes(e(type=0x86DD)) + b"\x60\0\0\0\0\x10\x3b\x40" + b"\0" * 32, "rx_ip6_len"),
        ("IPv6 hop-by-hop cut short", bytes(e(type=0x86DD)) + b"\x60" + b"\0" * 39,
         "rx_ip6_ext"),
        ("VLAN tag", bytes(e(type=0x8100)) + good_udp[12:], "rx_eth_type"),
        ("EtherType 0", bytes(e(type=0)) + good_udp[14:], "rx_eth_type"),
        ("IP cut to 19 bytes", good_udp[:14 + 19], "rx_ip_short"),
        ("IP with no header", good_udp[:14], "rx_ip_short"),
        ("IP version 6", bytes(e() / ip(version=6) / UDP()), "rx_ip_version"),
        ("IP version 0", bytes(e() / ip(version=0) / UDP()), "rx_ip_version"),
        ("IP version 15", bytes(e() / ip(version=15) / UDP()), "rx_ip_version"),
        ("IHL 4", bytes(e() / ip(ihl=4) / UDP()), "rx_ip_hlen"),
        ("IHL 0", bytes(e() / ip(ihl=0) / UDP()), "rx_ip_hlen"),
        ("IHL 15 beyond the frame", bytes(e() / ip(ihl=15) / UDP()), "rx_ip_hlen"),
        ("total length 19", bytes(e() / ip(len=19) / UDP()), "rx_ip_totlen"),
        ("total length 0", bytes(e() / ip(len=0) / UDP()), "rx_ip_totlen"),
        ("total length below IHL", bytes(e() / ip(options=[IPOption_NOP()] * 4, len=22) / UDP()),
         "rx_ip_totlen"),
        ("total length beyond the frame", bytes(e() / ip(len=1000) / UDP()), "rx_ip_totlen"),
        ("IP checksum", bytes(e() / ip(chksum=0x1234) / UDP()), "rx_ip_csum"),
        ("more fragments", bytes(e() / ip(flags="MF") / UDP() / Raw(b"x" * 16)), "rx_ip_fragment"),
        ("fragment offset", bytes(e() / ip(frag=185) / Raw(b"x" * 16)), "rx_ip_fragment"),
        ("ICMP of 7 bytes", bytes(e() / ip(proto=1) / Raw(b"\x08" * 7)), "rx_icmp_short"),
        ("ICMP of 0 bytes", bytes(e() / ip(proto=1)), "rx_icmp_short"),
        ("ICMP checksum", bytes(e() / ip() / ICMP(chksum=0x1234)), "rx_icmp_csum"),
        ("UDP of 7 bytes", bytes(e() / ip(proto=17) / Raw(b"\x01" * 7)), "rx_udp_short"),
        ("UDP length 7", bytes(e() / ip() / UDP(len=7) / Raw(b"abc")), "rx_udp_len"),
        ("UDP length 0", bytes(e() / ip() / UDP(len=0) / Raw(b"abc")), "rx_udp_len"),
        ("UDP length beyond IP", bytes(e() / ip() / UDP(len=12) / Raw(b"abc")), "rx_udp_len"),
        ("UDP checksum", bytes(e() / ip() / UDP(chksum=0x1234) / Raw(b"abc")), "rx_udp_csum"),
        ("TCP of 19 bytes", bytes(e() / ip(proto=6) / Raw(b"\x01" * 19)), "rx_tcp_short"),
        ("TCP of 0 bytes", bytes(e() / ip(proto=6)), "rx_tcp_short"),
        ("TCP doff 4", bytes(e() / ip() / TCP(dataofs=4)), "rx_tcp_doff"),
        ("TCP doff 0", bytes(e() / ip() / TCP(dataofs=0)), "rx_tcp_doff"),
        ("TCP doff beyond the segment", bytes(e() / ip() / TCP(dataofs=15) / Raw(b"x" * 20)),
         "rx_tcp_doff"),
        ("TCP checksum", bytes(e() / ip() / TCP(chksum=0x1234)), "rx_tcp_csum"),
        ("MSS length 8 in a 4-byte area", tcp_raw_options(b"\x02\x08\x05\xb4", b"data",
                                                          dst_mac, dst_ip), "rx_tcp_option"),
        ("SACK running past the header", tcp_raw_options(b"\x01\x01\x05\x0a" + b"\0" * 4, b"",
                                                         dst_mac, dst_ip), "rx_tcp_option"),
        ("option kind in the last byte", tcp_raw_options(b"\x01\x01\x01\x02", b"", dst_mac, dst_ip),
         "rx_tcp_option"),
        ("option length 1", tcp_raw_options(b"\x02\x01\x05\xb4", b"", dst_mac, dst_ip),
         "rx_tcp_option"),
        ("option length 0", tcp_raw_options(b"\x1e\x00\x01\x01", b"", dst_mac, dst_ip),
         "rx_tcp_option"),
    ]
    return cases


MALFORMED = malformed_cases()


@pytest.mark.parametrize("what,frame,reason", MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_frame_is_refused(what, frame, reason):
    assert refused(frame) == reason


def test_fragments_are_recognised():
    """Real fragments (scapy splits the datagram): every piece is refused as
    rx_ip_fragment with its flags and offset parsed."""
    pkt = IP(src=A_IP, dst=B_IP, id=4242) / UDP(sport=1, dport=2) / Raw(b"z" * 3000)
    pieces = fragment(pkt, fragsize=1480)
    assert len(pieces) == 3
    offsets = []
    for i, piece in enumerate(pieces):
        with pytest.raises(wire.WireError) as info:
            wire.parse_frame(bytes(Ether(src=A_MAC, dst=B_MAC) / piece))
        assert info.value.reason == "rx_ip_fragment"
        ip = info.value.layers["ip"]
        assert ip["ident"] == 4242 and ip["mf"] == (i < 2)
        offsets.append(ip["frag_off"])
    assert offsets == [0, 1480, 2960]


def test_ethernet_padding_is_ignored():
    """Bytes after the IP total length (Ethernet padding, trailers) are not
    part of the packet: not in the payload, not in any checksum."""
    pad = b"\xa5" * 40
    udp = wire.build_ipv4_udp(A_MAC, B_MAC, A_IP, B_IP, 1, 2, b"u")
    tcp = wire.build_ipv4_tcp(A_MAC, B_MAC, A_IP, B_IP, 1, 2, payload=b"t")
    icmp = wire.build_icmp_echo(A_MAC, B_MAC, A_IP, B_IP, 1, 2, b"i")
    assert wire.parse_frame(udp + pad)["udp"]["payload"] == b"u"
    assert wire.parse_frame(tcp + pad)["tcp"]["payload"] == b"t"
    assert wire.parse_frame(icmp + pad)["icmp"]["payload"] == b"i"
    assert wire.parse_frame(udp + pad)["ip"]["payload_len"] == 9
    # UDP's own length may be shorter than the IP payload: the rest is
    # ignored, and the checksum covers only the UDP length (RFC 768; scapy
    # would sum the trailer too, so its checksum is written here by hand)
    frame = bytes(Ether(src=A_MAC, dst=B_MAC) / IP(src=A_IP, dst=B_IP) /
                  UDP(sport=1, dport=2, len=10, chksum=0) / Raw(b"ab" + b"trailer"))
    assert wire.parse_frame(frame)["udp"]["payload"] == b"ab"
    pseudo = frame[26:34] + b"\x00\x11\x00\x0a"
    csum = scapy_checksum(pseudo + frame[34:44]) or 0xFFFF
    frame = frame[:40] + csum.to_bytes(2, "big") + frame[42:]
    assert wire.parse_frame(frame)["udp"]["payload"] == b"ab"
    assert refused(frame[:43] + b"?" + frame[44:]) == "rx_udp_csum"


@pytest.mark.parametrize("options", [
    [IPOption_NOP()] * 4,
    [IPOption_RR(routers=["198.18.9.9"] * 9)],              # 39 bytes + EOL: IHL 15
])
def test_ip_options_are_skipped(options):
    for l4, key in ((TCP(sport=5, dport=6, seq=7, options=[("MSS", 1400)]) / Raw(b"tcp"), "tcp"),
                    (UDP(sport=5, dport=6) / Raw(b"udp"), "udp"),
                    (ICMP(id=5, seq=6) / Raw(b"icmp"), "icmp")):
        frame = bytes(Ether(src=A_MAC, dst=B_MAC) / IP(src=A_IP, dst=B_IP, options=options) / l4)
        d = wire.parse_frame(frame)
        hl = Ether(frame)[IP].ihl * 4
        assert d["ip"]["hdr_len"] == hl > 20
        assert d["ip"]["options"] == frame[34:14 + hl]
        assert d[key]["payload"] == key.encode()
        if key == "tcp":
            assert (d["tcp"]["seq"], d["tcp"]["options"]) == (7, {"mss": 1400})


@pytest.mark.parametrize("opts,want", [
    (b"\x02\x03\x05\x01", {}),                                  # MSS, length 3: ignored
    (b"\x02\x06\x05\xb4\x00\x00\x01\x01", {}),                  # MSS, length 6: ignored
    (b"\x03\x04\x07\x00", {}),                                  # window scale, length 4
    (b"\x04\x03\x00\x01", {}),                                  # SACK_PERM, length 3
    (b"\x08\x08" + b"\0" * 6, {}),                              # timestamps, length 8
    (b"\x08\x0b" + b"\0" * 9 + b"\x01", {}),                    # timestamps, length 11
    (b"\x05\x09" + b"\0" * 7 + b"\x01\x01\x01", {}),            # SACK, length 9
    (b"\x05\x02\x01\x01", {}),                                  # SACK, no blocks
    (b"\x00\x02\x04\x05\xb4\x00\x00\x00", {}),                  # EOL first: nothing after counts
    (b"\x02\x04\x05\xb4\x00\xff\xff\xff", {"mss": 1460}),       # garbage after EOL
    (b"\x1e\x04\xab\xcd\x02\x04\x05\xb4", {"mss": 1460}),       # unknown kind 30 skipped
    (b"\xfe\x02\x01\x01\x03\x03\x0e\x01", {"wscale": 14}),      # unknown kind 254, length 2
    (b"\x01" * 40, {}),                                         # all NOPs, doff 15
    (b"\x02\x04\x01\x00\x02\x04\x05\xb4", {"mss": 1460}),       # a repeated option: last wins
    (b"\x01\x01\x05\x22" + b"".join(i.to_bytes(4, "big") for i in range(8)),
     {"sack": [(0, 1), (2, 3), (4, 5), (6, 7)]}),               # four blocks: 36 bytes
    (b"\x04\x02\x08\x0a" + b"\0\0\0\x05\0\0\0\x06" + b"\x01\x03\x03\x02" + b"\x02\x04\x02\x18",
     {"sack_perm": True, "ts_val": 5, "ts_ecr": 6, "wscale": 2, "mss": 536}),
])
def test_tcp_option_parsing(opts, want):
    d = wire.parse_frame(tcp_raw_options(opts, b"after"))
    assert d["tcp"]["options"] == want
    assert d["tcp"]["hdr_len"] == 20 + len(opts)
    assert d["tcp"]["payload"] == b"after"


def test_parse_reports_layers_before_the_refusal():
    frame = bytes(Ether(src=A_MAC, dst=B_MAC) / IP(src=A_IP, dst=B_IP) / TCP(chksum=1))
    with pytest.raises(wire.WireError) as info:
        wire.parse_frame(frame)
    assert isinstance(info.value, ValueError)
    assert "rx_tcp_csum" in str(info.value)
    assert info.value.layers["ip"]["proto"] == 6 and "tcp" not in info.value.layers


def test_other_ip_protocols_parse_without_l4():
    frame = bytes(Ether(src=A_MAC, dst=B_MAC) / IP(src=A_IP, dst=B_IP, proto=47) / Raw(b"gre!"))
    d = wire.parse_frame(frame)
    assert d["ip"]["proto"] == 47 and set(d) == {"eth", "ip"}


# ---- the classifier counts each refusal by name ----------------------------------------

CLASSIFIER_BUCKETS = ("rx_not_for_us", "rx_ip_not_for_us", "rx_arp_request", "rx_arp_reply",
                      "rx_tcp", "rx_udp", "rx_icmp_echo", "rx_icmp_other", "rx_unknown_proto")


def test_stack_counts_each_malformed_frame(raw_peer):
    """Each malformed frame sent to a real stack is dropped under its own
    counter and nothing else: no reply, no other bucket, no buffer kept."""
    stack, port = raw_peer
    names = list(wire.WIRE_ERROR_NAMES[1:]) + list(CLASSIFIER_BUCKETS) + ["ip_frags_in"]
    stack.poll()
    port.recv()
    free0 = port.stats()["port_bufs_free"]
    for what, frame, reason in malformed_cases(stack.mac, SERVER_IP):
        before = stack.stats()
        assert port.send(frame)
        stack.poll()
        after = stack.stats()
        delta = {k: after[k] - before[k] for k in names if after[k] != before[k]}
        # the stack hands fragments to reassembly, which counts them itself
        want = {"ip_frags_in" if reason == "rx_ip_fragment" else reason: 1}
        assert delta == want, what
        assert after["rx_frames"] - before["rx_frames"] == 1, what
        assert port.recv() == [], f"{what}: the stack answered a malformed frame"
    assert port.stats()["port_bufs_free"] == free0


def test_stack_answers_ping_with_ip_options(raw_peer):
    """An echo request with IP options is answered without them (the ICMP
    message slides down in place), with correct checksums."""
    stack, port = raw_peer
    frame = bytes(Ether(src=port.mac, dst=stack.mac) /
                  IP(src=PEER_IP, dst=SERVER_IP, options=[IPOption_NOP()] * 8) /
                  ICMP(id=77, seq=3) / Raw(b"ping with options"))
    assert port.send(frame + b"\0" * 7)     # and some Ethernet padding
    stack.poll()
    replies = port.recv()
    assert len(replies) == 1
    d = wire.parse_frame(replies[0])
    assert d["eth"] == {"dst": port.mac, "src": stack.mac, "type": 0x0800}
    assert (d["ip"]["hdr_len"], d["ip"]["src"], d["ip"]["dst"]) == (20, SERVER_IP, PEER_IP)
    assert (d["icmp"]["type"], d["icmp"]["ident"], d["icmp"]["seq"], d["icmp"]["payload"]) == \
        (0, 77, 3, b"ping with options")
    assert scapy_rebuilt(replies[0], ICMP) == replies[0]
