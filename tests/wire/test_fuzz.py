"""Malformed-frame fuzzing of a real Stack through the raw end of a pair link.

Valid seed frames (ARP, ping, UDP to a bound and an unbound port, SYNs to a
listening and a closed port, data on a connection made through the raw port)
are mutated: bit flips, byte stores, truncation, extension and edits aimed at
the fields the parser checks (lengths, IHL, doff, option bytes...). Half of
the mutants get their checksums fixed afterwards so that they reach the code
behind the checksum checks. Everything is seeded: a failure reproduces.

The stack must not crash, must account for every frame under exactly one
counter (the identity stack_rx_frame in pyx/stack.pxi implies, checked name
by name against an oracle), must only ever send well-formed frames, must
return every buffer, and must still work afterwards.

Fragments addressed to the stack go to reassembly (counted in ip_frags_in);
a datagram that reassembly completes is classified once more, under the
same counters as a frame. So the identity is

    rx_frames + ip_reassembled ==
        sum(wire errors) + sum(BUCKETS) + ip_frags_in
"""
import os
import random
import sys
from array import array
from collections import Counter

import pytest

from netchan import _testing as wire

from conftest import PEER_IP, SERVER_IP

SEED = 0x6E63_F022
N_FRAMES = int(os.environ.get("NETCHAN_FUZZ_FRAMES", 100_000))
BATCH = 32                  # frames sent before each poll
TICK_NS = 20_000_000        # virtual time per batch: timers (SYN-ACK retries, TIME_WAIT) run

LISTEN_PORT = 80            # the fuzzed listener
CLOSED_PORT = 81
DATA_PORT = 8080            # a second listener for the connection the test makes
UDP_BOUND = 7000
UDP_UNBOUND = 7001
MAX_FRAME = 1500 + 14       # MTU 1500 + Ethernet header

BROADCAST = b"\xff" * 6
SERVER_IP_BYTES = bytes(int(x) for x in SERVER_IP.split("."))

# Counters that together classify every received frame: stack_rx_frame ends
# each frame in exactly one wire error or exactly one of these.
BUCKETS = ("rx_not_for_us", "rx_arp_request", "rx_arp_reply", "rx_ip_not_for_us",
           "rx_ip_l2_broadcast", "rx_ip_bad_source", "rx_tcp",
           "rx_udp", "rx_icmp_echo", "rx_icmp_other", "rx_unknown_proto", "ip_frags_in",
           "rx_ip6_not_for_us")
# rx_ip_fragment is the parser's verdict, but the stack hands fragments to
# reassembly and counts them in ip_frags_in instead
WIRE_ERRORS = tuple(n for n in wire.WIRE_ERROR_NAMES[1:] if n != "rx_ip_fragment")
IPV6_NAMES = {n for n in WIRE_ERRORS if n.startswith(("rx_ip6", "rx_icmp6", "rx_ndp"))} | {
    "rx_ip6_not_for_us"}
# The fuzzed stack has no IPv6 address: an IPv6 packet whose fixed header
# parses is for someone else whatever follows it (the classifier looks at
# the destination before the payload).


@pytest.fixture
def link_name():
    """A fixed name for raw_peer's link (pair links are private to a process,
    so this cannot clash): both MACs derive from it, and the mutants, hence
    the whole run, must not differ from one run to the next."""
    return "fuzz"


def mac_bytes(mac):
    return bytes.fromhex(mac.replace(":", ""))


# ---- an independent Internet checksum, to fix up mutants --------------------------

def inet_checksum(data):
    if len(data) % 2:
        data = bytes(data) + b"\0"
    words = array("H", bytes(data))
    if sys.byteorder == "little":
        words.byteswap()
    s = sum(words)
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def fix_checksums(b):
    """Recompute the IPv4 and L4 checksums of frame b in place, as far as its
    (possibly broken) lengths allow."""
    if len(b) < 34 or b[12:14] != b"\x08\x00":
        return
    hl = (b[14] & 0x0F) * 4
    if hl < 20 or 14 + hl > len(b):
        return
    b[24:26] = b"\0\0"
    b[24:26] = inet_checksum(b[14:14 + hl]).to_bytes(2, "big")
    tl = int.from_bytes(b[16:18], "big")
    if tl < hl or 14 + tl > len(b):
        return
    l4 = 14 + hl
    n = tl - hl
    proto = b[23]
    pseudo = bytes(b[26:34]) + bytes([0, proto])
    if proto == 6 and n >= 20:
        b[l4 + 16:l4 + 18] = b"\0\0"
        c = inet_checksum(pseudo + n.to_bytes(2, "big") + bytes(b[l4:l4 + n]))
        b[l4 + 16:l4 + 18] = c.to_bytes(2, "big")
    elif proto == 17 and n >= 8:
        ulen = int.from_bytes(b[l4 + 4:l4 + 6], "big")
        if 8 <= ulen <= n:
            b[l4 + 6:l4 + 8] = b"\0\0"
            c = inet_checksum(pseudo + ulen.to_bytes(2, "big") + bytes(b[l4:l4 + ulen])) or 0xFFFF
            b[l4 + 6:l4 + 8] = c.to_bytes(2, "big")
    elif proto == 1 and n >= 8:
        b[l4 + 2:l4 + 4] = b"\0\0"
        b[l4 + 2:l4 + 4] = inet_checksum(b[l4:l4 + n]).to_bytes(2, "big")


# ---- mutations ----------------------------------------------------------------------

INTERESTING_16 = (0, 1, 7, 8, 19, 20, 21, 39, 40, 59, 60, 61, 0x7FFF, 0x8000, 0xFFFF)
OPTION_KINDS = (0, 1, 2, 3, 4, 5, 8, 30, 254, 255)
OPTION_LENGTHS = (0, 1, 2, 3, 4, 8, 9, 10, 18, 26, 34, 40, 255)


def mutate(rng, seed, stack_mac, peer_mac):
    b = bytearray(seed)
    ip_hl = (seed[14] & 0x0F) * 4 if len(seed) > 14 else 20
    l4 = 14 + ip_hl
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        op = rng.randrange(10)
        if op == 0 and b:                                    # bit flips
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(len(b))
                b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and b:                                  # random byte stores
            for _ in range(rng.randint(1, 4)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == 2:                                        # truncation
            del b[rng.randrange(len(b) + 1):]
        elif op == 3:                                        # extension
            n = rng.randint(1, 64)
            b += bytes(n) if rng.random() < 0.5 else rng.randbytes(n)
        else:                                                # a targeted field
            field_edit(rng, b, l4, stack_mac, peer_mac)
    if rng.random() < 0.5:
        fix_checksums(b)
    return bytes(b[:MAX_FRAME])


def put16(b, off, v):
    if off + 2 <= len(b):
        b[off:off + 2] = (v & 0xFFFF).to_bytes(2, "big")


def put8(b, off, v):
    if off < len(b):
        b[off] = v & 0xFF


def field_edit(rng, b, l4, stack_mac, peer_mac):
    what = rng.randrange(16)
    real_tl = len(b) - 14
    if what == 0:      # IP total length
        put16(b, 16, rng.choice(INTERESTING_16 + (real_tl - 1, real_tl + 1, rng.randrange(65536))))
    elif what == 1:    # IHL
        put8(b, 14, (b[14] & 0xF0 if len(b) > 14 else 0x40) | rng.randrange(16))
    elif what == 2:    # IP version
        put8(b, 14, (rng.randrange(16) << 4) | (b[14] & 0x0F if len(b) > 14 else 5))
    elif what == 3:    # fragment flags and offset
        put16(b, 20, rng.choice((0x2000, 0x0001, 0x4000, 0x6000, 0x1FFF, rng.randrange(65536))))
    elif what == 4:    # IP protocol
        put8(b, 23, rng.choice((1, 6, 17, 0, 2, 47, 255)))
    elif what == 5:    # IP destination
        dst = rng.choice((SERVER_IP_BYTES, b"\xff\xff\xff\xff", b"\xc6\x12\x00\x07",
                          rng.randbytes(4)))
        if len(b) >= 34:
            b[30:34] = dst
    elif what == 6:    # EtherType
        put16(b, 12, rng.choice((0x0800, 0x0806, 0x86DD, 0x8100, rng.randrange(65536))))
    elif what == 7:    # Ethernet destination
        dst = rng.choice((stack_mac, BROADCAST, b"\x01\x00\x5e\x00\x00\x01", peer_mac,
                          rng.randbytes(6)))
        b[0:6] = dst[:len(b)] if len(b) < 6 else dst
    elif what == 8:    # TCP data offset
        put8(b, l4 + 12, (rng.randrange(16) << 4) | (b[l4 + 12] & 0x0F if len(b) > l4 + 12 else 0))
    elif what == 9:    # TCP flags
        put8(b, l4 + 13, rng.randrange(256))
    elif what == 10:   # TCP option bytes: plausible kinds and lengths anywhere in the area
        for _ in range(rng.randint(1, 4)):
            i = l4 + 20 + rng.randrange(40)
            put8(b, i, rng.choice(OPTION_KINDS))
            put8(b, i + 1, rng.choice(OPTION_LENGTHS))
    elif what == 11:   # UDP length
        real = len(b) - l4
        put16(b, l4 + 4, rng.choice((0, 7, 8, 9, real - 1, real, real + 1, rng.randrange(65536))))
    elif what == 12:   # ICMP type and code
        put8(b, l4, rng.choice((0, 3, 8, 11, 13, rng.randrange(256))))
        put8(b, l4 + 1, rng.choice((0, 0, 1, rng.randrange(256))))
    elif what == 13:   # ARP fixed fields and operation
        off = rng.choice((14, 16, 18, 19, 20))
        if off in (18, 19):
            put8(b, off, rng.choice((0, 4, 6, 16, 255)))
        else:
            put16(b, off, rng.choice((0, 1, 2, 3, 0x0800, 0x86DD, rng.randrange(65536))))
    elif what == 14:   # ports
        port = rng.choice((LISTEN_PORT, CLOSED_PORT, DATA_PORT, UDP_BOUND, UDP_UNBOUND, 0,
                           rng.randrange(65536)))
        put16(b, l4 + rng.choice((0, 2)), port)
    else:              # sequence / acknowledgment numbers
        off = l4 + rng.choice((4, 8))
        if off + 4 <= len(b):
            b[off:off + 4] = rng.randbytes(4)


# ---- the oracle -----------------------------------------------------------------------

def expected_bucket(frame, stack_mac):
    """The one counter stack_rx_frame bumps for this frame, following its
    order of checks: Ethernet, destination MAC, ARP / IPv4 header, IP
    destination, then the L4 header."""
    if len(frame) < 14:
        return "rx_eth_short"
    if frame[:6] != stack_mac and frame[:6] != BROADCAST:
        return "rx_not_for_us"
    try:
        d = wire.parse_frame(frame)
    except wire.WireError as e:
        if "ip6" in e.layers:
            return "rx_ip6_not_for_us"
        ip = e.layers.get("ip")
        if ip is not None:
            # the IP header was fine: the classifier's IP checks come first
            bucket = _ip_checks(frame, ip)
            if bucket:
                return bucket
        return "ip_frags_in" if e.reason == "rx_ip_fragment" else e.reason
    if "arp" in d:
        return "rx_arp_request" if d["arp"]["op"] == 1 else "rx_arp_reply"
    if "ip6" in d:
        return "rx_ip6_not_for_us"
    bucket = _ip_checks(frame, d["ip"])
    if bucket:
        return bucket
    if "tcp" in d:
        return "rx_tcp"
    if "udp" in d:
        return "rx_udp"
    if "icmp" in d:
        return "rx_icmp_echo" if (d["icmp"]["type"], d["icmp"]["code"]) == (8, 0) else "rx_icmp_other"
    return "rx_unknown_proto"


def _ip_checks(frame, ip):
    """The classifier's checks on a parsed IPv4 header, in its order."""
    if ip["dst"] != SERVER_IP:
        return "rx_ip_not_for_us"
    if frame[:6] == BROADCAST:
        return "rx_ip_l2_broadcast"        # RFC 1122 3.3.6
    first = int(ip["src"].split(".")[0])
    if first in (0, 127) or first >= 224:
        return "rx_ip_bad_source"          # RFC 1122 3.2.1.3
    return None


def wants_arp_reply(frame):
    """An ARP request for our address from a sender we may learn (arp_input)."""
    d = wire.parse_frame(frame)
    a = d["arp"]
    return (a["op"] == 1 and a["tpa"] == SERVER_IP and a["spa"] != "0.0.0.0"
            and not int(a["sha"][:2], 16) & 1)


class Harness:
    """Sends frames to the stack, predicts their fate, drains and checks
    everything the stack sends back."""

    def __init__(self, stack, port, vclock, udp_sock):
        self.stack, self.port, self.vclock, self.udp = stack, port, vclock, udp_sock
        self.stack_mac = mac_bytes(stack.mac)
        self.peer_mac = mac_bytes(port.mac)
        self.sent = 0
        self.buckets = Counter()
        self.udp_expected = 0          # datagrams the bound socket should hold
        self.udp_read = 0
        self.echo_requests = 0
        self.arp_replies_expected = 0
        self.replies = 0
        self.echo_replies = 0
        self.unreachables = 0
        self.arp_replies = 0

    def send(self, frames):
        for f in frames:
            bucket = expected_bucket(f, self.stack_mac)
            self.buckets[bucket] += 1
            if bucket == "rx_udp":
                if wire.parse_frame(f)["udp"]["dport"] == UDP_BOUND:
                    self.udp_expected += 1
            elif bucket == "rx_icmp_echo":
                self.echo_requests += 1
            elif bucket == "rx_arp_request" and wants_arp_reply(f):
                self.arp_replies_expected += 1
            assert self.port.send(f), "the link refused a frame"
            self.sent += 1
        return self.pump()

    def pump(self):
        """Poll once, drain every reply (checking each is well formed) and
        every queued datagram."""
        self.stack.poll()
        out = []
        while True:
            got = self.port.recv(64)
            if not got:
                break
            for r in got:
                try:
                    d = wire.parse_frame(r)
                except wire.WireError as e:
                    raise AssertionError(f"the stack sent a malformed frame ({e.reason}): {r.hex()}")
                assert d["eth"]["src"] == self.stack.mac, r.hex()
                if "arp" in d:
                    assert d["arp"]["spa"] == SERVER_IP and d["arp"]["sha"] == self.stack.mac
                    self.arp_replies += d["arp"]["op"] == 2
                else:
                    assert d["ip"]["src"] == SERVER_IP, r.hex()
                    if "icmp" in d:
                        assert d["icmp"]["type"] in (0, 3), d["icmp"]
                        self.echo_replies += d["icmp"]["type"] == 0
                        self.unreachables += d["icmp"]["type"] == 3
                out.append(d)
            self.replies += len(got)
        while self.udp is not None:
            try:
                self.udp.recvfrom(65536, timeout=0)
            except BlockingIOError:
                break
            self.udp_read += 1
        return out

    def tick(self):
        self.vclock.advance(TICK_NS)

    def handshake(self, listener, sport):
        """Open a connection to DATA_PORT from the raw port."""
        isn = (sport * 2654435761) & 0xFFFFFFFF
        args = (self.port.mac, self.stack.mac, PEER_IP, SERVER_IP, sport, DATA_PORT)
        syn = wire.build_ipv4_tcp(*args, isn, 0, "S", 65535,
                                  {"mss": 1460, "sack_perm": True, "ts_val": 1, "ts_ecr": 0,
                                   "wscale": 7})
        synacks = [d for d in self.send([syn])
                   if "tcp" in d and d["tcp"]["dport"] == sport and d["tcp"]["flags"] == 0x12]
        assert len(synacks) == 1, "no SYN-ACK to the handshake's SYN"
        sa = synacks[0]["tcp"]
        assert sa["ack"] == (isn + 1) & 0xFFFFFFFF
        pc = PeerConnection(args, (isn + 1) & 0xFFFFFFFF, (sa["seq"] + 1) & 0xFFFFFFFF,
                            sa["options"]["ts_val"])
        self.send([pc.seeds(2)[1]])
        pc.conn = listener.accept(timeout=0)
        assert pc.conn.state == "ESTABLISHED"
        return pc


class PeerConnection:
    """The raw port's side of a connection: where its next data goes."""

    def __init__(self, args, seq, ack, ts_ecr):
        self.args, self.seq, self.ack, self.ts_ecr = args, seq, ack, ts_ecr
        self.received = 0           # bytes the application read: rcv_nxt = seq + received
        self.conn = None

    def seeds(self, ts_val):
        """The next in-order data segment and a bare ACK."""
        seq = (self.seq + self.received) & 0xFFFFFFFF
        ts = {"ts_val": ts_val, "ts_ecr": self.ts_ecr}
        return [wire.build_ipv4_tcp(*self.args, seq, self.ack, "PA", 512, ts, b"fuzz data " * 10),
                wire.build_ipv4_tcp(*self.args, seq, self.ack, "A", 512, ts)]

    def read(self):
        if self.conn.state in ("ESTABLISHED", "CLOSE_WAIT") and self.conn.readable:
            self.received += len(self.conn.recv(65536))


def icmp_error_about(stack_mac, peer_mac, code, mtu, sport, dport):
    """Destination unreachable from the peer about a TCP segment the stack
    sent (sport -> dport): its IP header and first 8 bytes quoted."""
    quoted = wire.build_ipv4_tcp(stack_mac, peer_mac, SERVER_IP, PEER_IP, sport, dport,
                                 0x12345678, 0, "A", 1000)[14:14 + 28]
    b = bytearray(wire.build_icmp_echo(peer_mac, stack_mac, PEER_IP, SERVER_IP, 0, mtu,
                                       quoted))
    b[34] = 3                   # destination unreachable
    b[35] = code
    fix_checksums(b)
    return bytes(b)


def seed_frames(stack, port):
    s, p = stack.mac, port.mac
    opts = {"mss": 1460, "sack_perm": True, "ts_val": 12345, "ts_ecr": 0, "wscale": 7}
    icmp_opts = bytearray(wire.build_icmp_echo(p, s, PEER_IP, SERVER_IP, 9, 1, b"ip options"))
    # the same echo request with 8 bytes of IP options (NOPs): IHL 7
    with_opts = icmp_opts[:14] + bytes([0x47]) + icmp_opts[15:34] + b"\x01" * 8 + icmp_opts[34:]
    put16(with_opts, 16, len(with_opts) - 14)
    fix_checksums(with_opts)
    return {
        "icmp_frag_needed": icmp_error_about(s, p, 4, 1000, DATA_PORT, 40000),
        "icmp_port_unreach": icmp_error_about(s, p, 3, 0, DATA_PORT, 40000),
        "arp_request": wire.build_arp(1, p, PEER_IP, "00:00:00:00:00:00", SERVER_IP),
        "arp_reply": wire.build_arp(2, p, PEER_IP, s, SERVER_IP),
        "icmp_echo": wire.build_icmp_echo(p, s, PEER_IP, SERVER_IP, 7, 1, b"ping" * 8),
        "icmp_echo_ip_options": bytes(with_opts),
        "udp_bound": wire.build_ipv4_udp(p, s, PEER_IP, SERVER_IP, 5000, UDP_BOUND, b"datagram"),
        "udp_bound_large": wire.build_ipv4_udp(p, s, PEER_IP, SERVER_IP, 5000, UDP_BOUND,
                                               bytes(range(256)) * 5 + b"x" * 192),
        "udp_unbound": wire.build_ipv4_udp(p, s, PEER_IP, SERVER_IP, 5000, UDP_UNBOUND, b"no one"),
        "syn_listening": wire.build_ipv4_tcp(p, s, PEER_IP, SERVER_IP, 33000, LISTEN_PORT, 1000, 0,
                                             "S", 65535, opts),
        "syn_closed": wire.build_ipv4_tcp(p, s, PEER_IP, SERVER_IP, 33001, CLOSED_PORT, 2000, 0,
                                          "S", 65535, opts),
        "ack_closed": wire.build_ipv4_tcp(p, s, PEER_IP, SERVER_IP, 33002, CLOSED_PORT, 3000, 77,
                                          "PA", 1000, None, b"stray data"),
    }


def test_fuzz_stack_with_malformed_frames(raw_peer, vclock):
    stack, port = raw_peer
    rng = random.Random(SEED)
    fuzzed_listener = stack.listen(LISTEN_PORT, backlog=64)  # noqa: F841 (kept open)
    data_listener = stack.listen(DATA_PORT, backlog=16)
    udp = stack.udp((SERVER_IP, UDP_BOUND))
    h = Harness(stack, port, vclock, udp)
    h.pump()
    bufs_total = port.stats()["port_bufs_total"]
    assert port.stats()["port_bufs_free"] == bufs_total
    assert stack.stats()["port_bufs_free"] == bufs_total

    seeds = seed_frames(stack, port)
    next_sport = 40000
    pc = h.handshake(data_listener, next_sport)
    conns_made = 1
    received_on_conns = 0
    names = list(seeds)
    batches = 0
    while h.sent < N_FRAMES:
        if pc.conn.state != "ESTABLISHED":
            # the fuzz reset or closed it: start another (a new 4-tuple)
            received_on_conns += pc.received
            pc.conn.abort()
            next_sport += 1
            pc = h.handshake(data_listener, next_sport)
            conns_made += 1
        batches += 1
        conn_seeds = pc.seeds(2 + batches)
        batch = []
        for _ in range(min(BATCH, N_FRAMES - h.sent)):
            k = rng.randrange(len(names) + 2)
            seed = seeds[names[k]] if k < len(names) else conn_seeds[k - len(names)]
            batch.append(seed if rng.random() < 0.03 else
                         mutate(rng, seed, h.stack_mac, h.peer_mac))
        h.send(batch)
        pc.read()
        h.tick()
    received_on_conns += pc.received
    conn = pc.conn
    conn.abort()
    h.pump()

    s = stack.stats()
    # every frame sent reached the stack ...
    assert s["rx_frames"] == h.sent == s["port_rx_packets"]
    # ... and ended in exactly one place (reassembled datagrams once more)
    assert s["rx_frames"] + s["ip_reassembled"] == \
        sum(s[k] for k in WIRE_ERRORS) + sum(s[k] for k in BUCKETS)
    # name by name, as the oracle predicted; what reassembly delivered comes on top
    extra = {name: s[name] - h.buckets[name] for name in WIRE_ERRORS + BUCKETS}
    assert all(v >= 0 for v in extra.values()), {k: v for k, v in extra.items() if v}
    assert sum(extra.values()) == s["ip_reassembled"], extra
    assert h.buckets["rx_ip_fragment"] == 0
    # every datagram for the bound port was delivered, the rest counted
    assert s["udp_channel_full"] == 0
    assert h.udp_read >= h.udp_expected
    assert s["rx_udp"] == s["rx_udp_no_port"] + h.udp_read
    # each echo request got exactly one reply, each ARP request for us one
    # answer; datagrams to a closed UDP port an ICMP error (rate-limited)
    assert s["rx_icmp_echo"] == s["tx_icmp_echo_reply"] >= h.echo_replies >= h.echo_requests
    assert s["tx_arp_reply"] == h.arp_replies == h.arp_replies_expected
    assert 0 < h.unreachables <= s["tx_icmp_unreach"] <= s["rx_udp_no_port"]
    # everything the stack sent arrived (and parsed, in pump)
    assert s["tx_port_refused"] == 0 and s["tx_alloc_failed"] == 0
    assert s["tx_frames"] == h.replies
    # the fuzz reached deep: some of every kind of outcome
    for name in WIRE_ERRORS + BUCKETS:
        if name in IPV6_NAMES:
            continue        # the seeds are IPv4 frames (IPv6: tests/wire/test_wire6.py)
        assert s[name] > 0, f"the fuzz never produced {name}"
    assert s["tcp_rst_sent"] > 0 and s["tcp_passive_opens"] > conns_made
    assert received_on_conns > 10 * N_FRAMES // 100, "too little data reached the connections"

    # let every timer run out (SYN-ACK retries, TIME_WAIT), then every buffer
    # must be back: none leaked on either side of the link
    for _ in range(40):
        vclock.advance(10_000_000_000)
        h.pump()
    udp.close()
    h.udp = None
    h.pump()
    assert stack.n_connections == 0
    s = stack.stats()
    assert s["port_double_free"] == 0 and port.stats()["port_double_free"] == 0
    assert port.stats()["port_bufs_free"] == bufs_total, "buffers of the raw end were not returned"
    assert s["port_bufs_free"] == bufs_total, "buffers of the stack's end were not returned"

    # and the stack still works: ARP, ping, UDP and a fresh connection with data
    fresh = Harness(stack, port, vclock, stack.udp((SERVER_IP, UDP_BOUND)))
    out = fresh.send([seeds["arp_request"]])
    assert [d["arp"] for d in out] == [{"op": 2, "sha": stack.mac, "spa": SERVER_IP,
                                         "tha": port.mac, "tpa": PEER_IP}]
    out = fresh.send([seeds["icmp_echo"]])
    assert len(out) == 1 and out[0]["icmp"]["payload"] == b"ping" * 8
    fresh.send([seeds["udp_bound"]])
    assert fresh.udp_read == 1
    pc = fresh.handshake(data_listener, next_sport + 1)
    conn, data = pc.conn, pc.seeds(3)[0]
    seg = wire.parse_frame(data)["tcp"]
    out = fresh.send([data])
    assert conn.recv(1000) == b"fuzz data " * 10
    vclock.advance(200_000_000)             # past the delayed ACK
    out += fresh.pump()
    assert (seg["seq"] + len(seg["payload"])) & 0xFFFFFFFF in [d["tcp"]["ack"] for d in out if "tcp" in d]
    conn.sendall(b"still alive")
    out = fresh.pump()
    assert [d["tcp"]["payload"] for d in out if "tcp" in d and d["tcp"]["payload"]] == [b"still alive"]
    conn.abort()
    fresh.pump()


def test_blocking_call_on_virtual_clock_with_arp_retry_pending(raw_peer, vclock):
    """Found by the fuzz: an unanswered ARP request whose retry fell due
    between two scans of the ARP table made stack_next_deadline report a time
    already past, so a blocking call on a virtual clock never moved the clock
    and spun forever (on a real clock: a busy loop until the next scan)."""
    stack, port = raw_peer
    udp = stack.udp((SERVER_IP, UDP_BOUND))
    udp.sendto(b"x", ("198.18.0.9", 9))          # nobody answers: ARP retry due in 1 s
    assert [wire.parse_frame(f)["arp"]["tpa"] for f in port.recv()] == ["198.18.0.9"]
    vclock.advance(900_000_000)
    stack.poll()                                 # the table is scanned; next scan in 250 ms
    vclock.advance(150_000_000)
    stack.poll()                                 # the retry is due, the scan is not
    calls = 0

    def never():
        nonlocal calls
        calls += 1
        assert calls < 100_000, "the virtual clock does not move: the blocking call spins"
        return False

    start = vclock.now()
    try:
        stack.run_until(never, timeout=0.5)
    except TimeoutError:
        pass
    else:
        raise AssertionError("run_until returned without its predicate")
    assert vclock.now() - start >= 500_000_000
    retries = [wire.parse_frame(f)["arp"] for f in port.recv()]
    assert retries and all(a["op"] == 1 and a["tpa"] == "198.18.0.9" for a in retries)
