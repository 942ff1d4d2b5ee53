"""TSO on dpdk: ports (builders/dpdk/nctso.c): which runs of TCP segments
merge into one mbuf chain, what the chain tells the PMD, that a chain cut at
its segment size gives back exactly the stack's segments (scapy does the
cutting and the checksums, independently of the C), that every mbuf of a
chain goes back to the pool once, and (root) that netchan on net_tap sends
Linux byte-exact data through TSO.

As in test_dpdk.py, every scenario runs in a child process of its own (the
EAL starts once per process) and prints one JSON line.
"""
import os
import subprocess
import sys
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

MSS = 1448
MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"

# ======================================================================
# Scenarios: run in a child process; each returns a JSON-able dict.
# ======================================================================


def _segments(n, *, v6=False, first_seq=1000, pay=MSS, last_pay=None, flags=None, tweak=None):
    """n segments of one connection as the stack would build them (full
    checksums, IP ids counting up), as bytes. flags[i] / tweak(i, pkt)
    change single segments."""
    from scapy.all import IP, TCP, IPv6, Ether, Raw
    out, seq = [], first_seq
    for i in range(n):
        size = last_pay if last_pay is not None and i == n - 1 else pay
        ip = (IPv6(src="2001:2::1", dst="2001:2::2") if v6 else
              IP(src="198.18.0.1", dst="198.18.0.2", id=100 + i, flags="DF"))
        tcp = TCP(sport=40000, dport=5001, seq=seq, ack=777, window=502,
                  flags=(flags or {}).get(i, "A"), options=[("NOP", None), ("NOP", None),
                                                            ("Timestamp", (11, 22))])
        pkt = Ether(src=MAC_A, dst=MAC_B) / ip / tcp / Raw(bytes((seq + j) & 0xff
                                                                 for j in range(size)))
        if tweak:
            pkt = tweak(i, pkt) or pkt
        out.append(bytes(pkt))
        seq += size
    return out


def _cut(frame, segsz):
    """Cut a super-packet the way a device does (RFC 7414's TSO, as
    Linux's tcp_gso_segment and DPDK's librte_gso): headers copied, IP
    length, id (+1 each) and checksums rewritten, PSH and FIN on the last
    only; checksums computed by scapy."""
    from scapy.all import IP, TCP, Ether, IPv6, Raw
    pkt = Ether(frame)
    v6 = IPv6 in pkt
    tcp = pkt[TCP]
    payload = bytes(tcp.payload)
    out = []
    for i, off in enumerate(range(0, len(payload), segsz)):
        last = off + segsz >= len(payload)
        ip = pkt[IPv6].copy() if v6 else pkt[IP].copy()
        ip.remove_payload()
        if v6:
            ip.plen = None
        else:
            ip.len, ip.chksum, ip.id = None, None, pkt[IP].id + i
        t = tcp.copy()
        t.remove_payload()
        t.seq = (tcp.seq + off) & 0xffffffff
        t.chksum = None
        if not last:
            t.flags = int(t.flags) & ~0x09
        out.append(bytes(Ether(src=pkt.src, dst=pkt.dst) / ip / t /
                         Raw(payload[off:off + segsz])))
    return out


def _pseudo_sum(frame):
    """The pseudo-header sum without the length, folded, not complemented
    (what rte_ipv4_phdr_cksum / rte_ipv6_phdr_cksum give for TSO)."""
    v6 = frame[12:14] == b"\x86\xdd"
    words = frame[22:54] if v6 else frame[26:34]
    s = sum(int.from_bytes(words[i:i + 2], "big") for i in range(0, len(words), 2)) + 6
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


class Ring:
    """A net_ring device (no root, no TSO of its own) whose port is told it
    has TSO, so that the merge runs on real mbufs of netchan's pool."""

    def __init__(self):
        import netchan.dpdk as dpdk
        from netchan._dpdk import ffi, lib
        from test_dpdk import _eal
        self.ffi, self.lib = ffi, lib
        dpdk.init(_eal())
        self.dev = dpdk.open_device("net_ring0")
        self.dp = self.dev._dp
        self.p = ffi.addressof(self.dp.port)
        self.ops = self.dp.port.ops
        lib.netchan_dpdk_port_set_tx_csum(self.dp, 1)

    def tso(self, ipv6=1, frame_max=0, seg_max=0xffff, mtu_seg_max=0xffff):
        self.lib.netchan_dpdk_port_set_tso(self.dp, 1, ipv6, frame_max, seg_max, mtu_seg_max)

    def load(self, frames):
        """Buffers holding frames, as the stack hands them over (checksums
        left to the device: NC_BUF_F_CSUM_OK)."""
        bufs = self.ffi.new("uint32_t[]", len(frames))
        assert self.ops.alloc_burst(self.p, bufs, len(frames)) == len(frames)
        for i, f in enumerate(frames):
            h = self.lib.netchan_dpdk_buf(self.dp, bufs[i])
            self.ffi.memmove(self.ffi.cast("uint8_t *", h) + h.data_off, f, len(f))
            h.len = len(f)
            h.flags = 1
        return bufs

    def read(self, b):
        h = self.lib.netchan_dpdk_buf(self.dp, b)
        return bytes(self.ffi.buffer(self.ffi.cast("uint8_t *", h) + h.data_off, h.len))

    def probe(self, frames):
        """{merged, view..., frame} for a burst of frames; checks the
        buffers come back unchanged and frees them."""
        bufs = self.load(frames)
        view = self.ffi.new("struct netchan_dpdk_tso_view *")
        out = self.ffi.new("uint8_t[]", 70000)
        k = self.lib.netchan_dpdk_tso_probe(self.dp, bufs, len(frames), view, out, 70000)
        res = {f: getattr(view, f) for f in ("merged", "nb_segs", "pkt_len", "data_len", "l2_len",
                                             "l3_len", "l4_len", "tso_segsz", "tcp_seg",
                                             "tcp_cksum", "ip_cksum", "ipv4", "ipv6")}
        res["k"] = k
        frame = bytes(self.ffi.buffer(out, view.frame_len))
        # the buffers as they were (but for the TCP checksum field, where
        # the port put the pseudo-header sum for the device)
        res["unchanged"] = all(_same_but_tcp_csum(self.read(bufs[i]), f)
                               for i, f in enumerate(frames))
        self.ops.free_burst(self.p, bufs, len(frames))
        return res, frame


def _same_but_tcp_csum(a, b):
    if len(a) != len(b):
        return False
    v6 = b[12:14] == b"\x86\xdd"
    off = 14 + (40 if v6 else (b[14] & 15) * 4) + 16
    return a[:off] == b[:off] and a[off + 2:] == b[off + 2:]


def scenario_merge_rules():
    from scapy.all import IP, TCP
    r = Ring()
    r.tso()
    res = {}

    def case(name, frames, **kw):
        v, frame = r.probe(frames)
        v.update(kw)
        if v["merged"]:
            # exact when the device cuts at the MSS: the stack's segments,
            # checksums and IP ids included
            v["cut_equal"] = _cut(frame, v["tso_segsz"]) == frames[:v["merged"]]
            v["csum_field_is_pseudo"] = _csum_field(frame) == _pseudo_sum(frame)
            v["ip_csum_zero"] = frame[12:14] != b"\x08\x00" or frame[24:26] == b"\0\0"
            v["payload_equal"] = _payload(frame) == b"".join(
                _payload(f) for f in frames[:v["merged"]])
        res[name] = v

    case("run_of_5_psh_last", _segments(5, last_pay=300, flags={4: "PA"}))
    case("v6_run", _segments(4, v6=True))
    case("syn_first", _segments(3, flags={0: "S"}))
    case("psh_first", _segments(3, flags={0: "PA"}))
    case("fin_in_middle", _segments(5, flags={2: "FA"}))
    case("psh_in_middle", _segments(5, flags={1: "PA"}))
    case("cwr_second", _segments(3, flags={1: "AC"}))
    case("seq_gap", _segments(4, tweak=lambda i, p: _set_seq(p, 50) if i == 2 else None))
    case("ack_differs", _segments(4, tweak=lambda i, p: _set(p, TCP, ack=999) if i == 2 else None))
    case("window_differs",
         _segments(4, tweak=lambda i, p: _set(p, TCP, window=1) if i == 3 else None))
    case("other_port", _segments(4, tweak=lambda i, p: _set(p, TCP, sport=1) if i == 1 else None))
    case("tos_differs", _segments(4, tweak=lambda i, p: _set(p, IP, tos=4) if i == 1 else None))
    case("ts_differs", _segments(4, tweak=lambda i, p: _set(
        p, TCP, options=[("NOP", None), ("NOP", None), ("Timestamp", (12, 22))])
        if i == 2 else None))
    case("short_in_middle", _segments(4, tweak=lambda i, p: _trim(p, 100) if i == 1 else None))
    case("longer_second", _segments(1, pay=1000) + _segments(1, first_seq=2000))
    case("single", _segments(1))
    case("udp", [bytes.fromhex("020000000002020000000001080045000020000100004011") + bytes(22)] * 2)
    case("fragment", _segments(3, tweak=lambda i, p: _set(p, IP, flags="MF")))
    case("sixty_four_kib", _segments(50))
    r.tso(ipv6=0)
    case("v6_when_the_pmd_has_no_ipv6", _segments(4, v6=True))
    r.tso(seg_max=3)
    case("seg_max_3", _segments(5))
    r.tso(frame_max=1500)               # net_tap: header + segment <= its MTU
    case("frame_max_1500", _segments(5, last_pay=700))
    r.tso(frame_max=1500, mtu_seg_max=1)    # ...which needs two mbufs per cut segment
    case("frame_max_needs_two_mbufs_per_segment", _segments(5))
    r.tso()
    case("after_reset", _segments(2))
    res["counters"] = {"packets": r.dp.tx_tso_packets, "segments": r.dp.tx_tso_segments}
    info = r.dev.pool_info()
    res["all_back"] = info["free"] == info["count"]
    res["double_free"] = r.dp.port.stats.double_free
    r.dev.close()
    return res


def _set(pkt, layer, **fields):
    for k, v in fields.items():
        setattr(pkt[layer], k, v)
    return pkt.__class__(bytes(pkt))


def _set_seq(pkt, delta):
    from scapy.all import TCP
    return _set(pkt, TCP, seq=pkt[TCP].seq + delta)


def _trim(pkt, size):
    from scapy.all import Raw
    pkt[Raw].load = pkt[Raw].load[:size]
    from scapy.all import IP, TCP
    if IP in pkt:
        pkt[IP].len = None
        pkt[IP].chksum = None
    pkt[TCP].chksum = None
    return pkt.__class__(bytes(pkt))


def _csum_field(frame):
    v6 = frame[12:14] == b"\x86\xdd"
    off = 14 + (40 if v6 else (frame[14] & 15) * 4) + 16
    return int.from_bytes(frame[off:off + 2], "big")


def _payload(frame):
    v6 = frame[12:14] == b"\x86\xdd"
    ihl = 40 if v6 else (frame[14] & 15) * 4
    return frame[14 + ihl + (frame[14 + ihl + 12] >> 4) * 4:]


def scenario_chains_through_a_ring():
    """tx_burst with TSO on over net_ring: the chains go into the ring (net_ring
    cuts nothing), the rx side drops each as multi-segment and frees it,
    once the ring is full the rest comes back unchained; every mbuf ends up
    in the pool exactly once."""
    r = Ring()
    r.tso()
    sent_total, burst, rounds, refused = 0, 2, 0, 0
    unsent = []
    while rounds < 3000 and not refused:
        frames = _segments(burst, first_seq=1000 + rounds * burst * MSS)
        bufs = r.load(frames)
        got = r.ops.tx_burst(r.p, bufs, burst, 0)
        sent_total += got
        if got < burst:
            refused = burst - got
            unsent = [r.read(bufs[i]) for i in range(got, burst)]
            unsent_ok = all(_same_but_tcp_csum(u, f) for u, f in zip(unsent, frames[got:]))
            r.ops.free_burst(r.p, r.ffi.cast("uint32_t *", bufs) + got, burst - got)
        rounds += 1
    res = {"rounds": rounds, "sent": sent_total, "refused": refused,
           "unsent_unchanged": unsent_ok if refused else None,
           "tso_packets": r.dp.tx_tso_packets, "tso_segments": r.dp.tx_tso_segments,
           "tx_packets": r.dp.port.stats.tx_packets, "tx_bytes": r.dp.port.stats.tx_bytes}
    rx = r.ffi.new("uint32_t[64]")
    while r.ops.rx_burst(r.p, rx, 64, 0):
        pass
    res["rx_multiseg"] = r.dp.rx_multiseg
    info = r.dev.pool_info()
    res["free"], res["count"] = info["free"], info["count"]
    res["double_free"] = r.dp.port.stats.double_free
    r.dev.close()
    return res


def scenario_tso_insisted_without_it():
    """tso=1 on a driver without TSO is a config error saying what to do."""
    import netchan.dpdk as dpdk
    from test_dpdk import _eal
    dpdk.init(_eal())
    try:
        dpdk.open_device("net_ring0", tso=True)
    except ValueError as e:
        msg = str(e)
    dev = dpdk.open_device("net_ring0", tso=False)      # the device is not left half open
    res = {"msg": msg, "offloads": dev.offloads, "tso": dev._dp.tso}
    dev.close()
    return res


if __name__ == "__main__":
    # a scenario in its own process (tests/ports/scenario_child.py)
    from scenario_child import run_from_argv
    run_from_argv(globals())


# ======================================================================
# Tests
# ======================================================================

import netchan  # noqa: E402
from conftest import require, require_root  # noqa: E402
from scenario_child import result as _result  # noqa: E402
from scenario_child import spawn  # noqa: E402
from test_dpdk import (REVERSE_SEED, _eal, _env, _linux_reads_reverse_bytes,  # noqa: E402
                       _linux_tcp_counter, _tap_up, _wait_ready)


def _spawn(name, *args, prefix=()):
    return spawn(os.path.abspath(__file__), name, *args, env=_env(), prefix=prefix)


@pytest.fixture
def need_dpdk():
    require(netchan.HAS_DPDK, "netchan was built without DPDK (pkg-config libdpdk missing)")


def test_tso_uri_parameter():
    from netchan.uri import parse_port_uri
    assert parse_port_uri("dpdk:net_tap0?tso=0").link == {"tso": False}
    assert parse_port_uri("dpdk:net_tap0?tso=1").link == {"tso": True}
    with pytest.raises(ValueError, match="tso='yes': use 0"):
        parse_port_uri("dpdk:net_tap0?tso=yes")
    assert parse_port_uri("afpacket:eth0?tso=0").link == {"tso": False}
    with pytest.raises(ValueError, match="tso= applies to afpacket: and dpdk: ports"):
        parse_port_uri("shm:x?tso=0")


def test_driver_table_tso_quirks():
    from netchan.dpdk_drivers import tso_by_default, tso_limits
    # net_tap: software GSO, IPv4 only, header + segment <= its MTU, off by default
    assert tso_limits("net_tap", 1500, 0xffff, 0xffff) == (0, 1500, 0xffff, 0xffff)
    assert tso_by_default("net_tap") is False
    # any other driver: both families, the stack's MSS, on where it reports TSO
    assert tso_limits("net_ice", 9000, 40, 8) == (1, 0, 40, 8)
    assert tso_by_default("net_ice") is True


def test_merge_rules_at_packet_level(need_dpdk):
    res = _result(_spawn("merge_rules"))
    run = res["run_of_5_psh_last"]
    # four full segments and a short one with PSH: one chain, cut at the MSS
    assert run["merged"] == run["k"] == run["nb_segs"] == 5
    assert run["pkt_len"] == 14 + 20 + 32 + 4 * MSS + 300 and run["data_len"] == 14 + 20 + 32 + MSS
    assert (run["l2_len"], run["l3_len"], run["l4_len"], run["tso_segsz"]) == (14, 20, 32, MSS)
    assert run["tcp_seg"] and run["tcp_cksum"] and run["ip_cksum"] and run["ipv4"]
    assert not run["ipv6"]
    assert run["cut_equal"] and run["payload_equal"]
    assert run["csum_field_is_pseudo"] and run["ip_csum_zero"]
    assert run["unchanged"]
    v6 = res["v6_run"]
    assert v6["merged"] == 4 and v6["ipv6"] and not v6["ipv4"] and not v6["ip_cksum"]
    assert v6["l3_len"] == 40 and v6["cut_equal"] and v6["csum_field_is_pseudo"]
    # what never merges
    for name in ("syn_first", "psh_first", "single", "udp", "fragment",
                 "v6_when_the_pmd_has_no_ipv6", "frame_max_needs_two_mbufs_per_segment"):
        assert res[name]["merged"] == 0, name
    # where a run stops: after a FIN or PSH (on the chain's last), before a
    # segment that does not continue the first
    want = {"fin_in_middle": 3, "psh_in_middle": 2, "cwr_second": 0, "seq_gap": 2,
            "ack_differs": 2, "window_differs": 3, "other_port": 0, "tos_differs": 0,
            "ts_differs": 2, "short_in_middle": 2, "longer_second": 0, "seg_max_3": 3,
            "after_reset": 2}
    assert {n: res[n]["merged"] for n in want} == want
    for n, k in want.items():
        if k:
            assert res[n]["cut_equal"] and res[n]["unchanged"], n
    # 64 KiB at most: 45 segments of 1448 bytes and their 66 bytes of headers
    big = res["sixty_four_kib"]
    assert big["merged"] == 45 and big["pkt_len"] <= 65535 and big["cut_equal"]
    # net_tap's limit: cut at MTU - headers, so the cuts differ from the
    # stack's segments, but the bytes are the same
    tap = res["frame_max_1500"]
    assert tap["merged"] == 5 and tap["tso_segsz"] == 1500 - 66
    assert tap["payload_equal"] and not tap["cut_equal"]
    merged = [v["merged"] for v in res.values() if isinstance(v, dict) and v.get("merged")]
    assert res["counters"] == {"packets": len(merged), "segments": sum(merged)}
    assert res["all_back"] and res["double_free"] == 0


def test_chains_are_freed_once_and_refused_ones_come_back_whole(need_dpdk):
    res = _result(_spawn("chains_through_a_ring"))
    assert res["refused"] > 0, res                      # the ring filled up
    assert res["unsent_unchanged"] is True
    assert res["tso_segments"] == res["sent"] == res["tx_packets"]
    assert res["tso_packets"] == res["rx_multiseg"] > 0   # each chain went as one packet
    assert res["free"] == res["count"] and res["double_free"] == 0


def test_tso_insisted_on_a_driver_without_it(need_dpdk):
    res = _result(_spawn("tso_insisted_without_it"))
    assert res["msg"].startswith("dpdk:net_ring0?tso=1: net_ring cannot do TSO here (it lacks "
                                 "tx offload tcp_tso, tcp_cksum, ipv4_cksum)"), res["msg"]
    assert "tso=0" in res["msg"]
    assert res["offloads"] == {"rx": [], "tx": []} and res["tso"] == 0


# ---- net_tap with a Linux peer (root) ----------------------------------------

TAP_BYTES = 32 << 20

# netchan sends TAP_BYTES of REVERSE_SEED's bytes to a Linux reader on the tap
SENDER = """
import json, os, random, sys, time
import netchan
uri, ready, stop, nbytes = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
stack = netchan.Stack(uri, ip="198.18.0.1/15")
listener = stack.listen(5001)
open(ready, "w").write(stack.port.mac)
dev = stack.port.device
res = {"offloads": dev.offloads, "offload_capa": dev.offload_capa,
       "port": [dev._dp.tso, dev._dp.tso_ipv6, dev._dp.tso_frame_max]}
in_use = dev.pool_info()["in_use"]
conn = listener.accept(timeout=60)
conn.sendall(random.Random(%d).randbytes(nbytes), timeout=120)
conn.close()
deadline = time.monotonic() + 30
while (not os.path.exists(stop) or stack.n_connections) and time.monotonic() < deadline:
    stack.poll(0.02)
res["stats"] = stack.port.stats()
res["in_use"] = [in_use, dev.pool_info()["in_use"]]
stack.close()
print("\\nRESULT " + json.dumps(res), flush=True)
""" % REVERSE_SEED


@pytest.mark.parametrize("tso", ["1", "", "0"])
def test_tap_tso_to_linux_byte_exact(need_dpdk, tso, tmp_path):
    """32 MiB from netchan on net_tap to a Linux reader on the tap, byte-exact.
    tso=1: the port hands the PMD super-packets (net_tap cuts them in
    software, at MTU - headers: Linux receives MTU-sized segments, as
    tcpdump on the tap shows); tso=0, and by default on net_tap (its
    software TSO is slower: docs/dpdk.md): none."""
    require_root()
    ns = f"ncdpdk-tso-{uuid.uuid4().hex[:6]}"
    tap = f"ncs{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    ready, stop = str(tmp_path / "ready"), str(tmp_path / "stop")
    uri = f"dpdk:net_tap0,iface={tap}?eal=" + "+".join(_eal()) + (f"&tso={tso}" if tso else "")
    server = None
    try:
        server = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", SENDER, uri,
                                   ready, stop, str(TAP_BYTES)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=_env())
        _wait_ready(server, ready, "net_tap")
        _tap_up(ns, tap)
        _linux_reads_reverse_bytes(ns, TAP_BYTES, timeout=120)
        open(stop, "w").close()
        res = _result(server, 60)
        server = None
        assert _linux_tcp_counter(ns, "InCsumErrors") == 0
        assert _linux_tcp_counter(ns, "InErrs") == 0
    finally:
        if server is not None:
            open(stop, "w").close()
            server.kill()
            server.communicate()
        subprocess.run(["ip", "netns", "del", ns], check=False)
    st = res["stats"]
    print(f"tso={tso or '(default)'}: " + ", ".join(
        f"{k} {st[k]}" for k in ("port_tx_packets", "dpdk_tx_tso_packets", "dpdk_tx_tso_segments",
                                 "dpdk_tx_csum_offloaded")) + f", in use idle {res['in_use']}")
    assert "tcp_tso" in res["offload_capa"]["tx"]
    if tso == "1":
        assert res["offloads"]["tx"] == ["ipv4_cksum", "tcp_cksum", "tcp_tso"]
        assert res["port"] == [1, 0, 1500]      # IPv4 only, header + segment <= the MTU
        # most of 32 MiB went in super-packets of several segments each
        assert st["dpdk_tx_tso_segments"] * MSS > TAP_BYTES // 2, st
        assert st["dpdk_tx_tso_segments"] > 2 * st["dpdk_tx_tso_packets"] > 0, st
    else:
        assert res["offloads"]["tx"] == ["tcp_cksum"] and res["port"][0] == 0
        assert st["dpdk_tx_tso_packets"] == st["dpdk_tx_tso_segments"] == 0
    assert st["port_tx_dropped"] == st["port_double_free"] == 0
    # every mbuf of every chain went back to the pool (net_tap's GSO holds
    # them by reference until it has written the cut segments)
    assert res["in_use"][0] == res["in_use"][1]
    assert st["dpdk_tx_invalid"] == 0
