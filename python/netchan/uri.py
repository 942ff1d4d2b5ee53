"""Port URIs: `KIND:TARGET?key=value&...`.

Kinds: pair:NAME (two stacks in one process), shm:NAME (two processes),
afpacket:IFACE, xdp:IFACE and dpdk:DEVARGS (real links). Any port takes wrapper
parameters: fault injection (loss, dup, reorder, reorder_depth, corrupt, delay,
hold, seed, fault_dir), pcap=FILE and queue=K/N (one stack per core: this stack owns
queue K of N of the link; see netchan.steer and docs/percore.md).

shm and pair: windows=shared|copy (shared, shm's default: each stack reads
the other's send windows in place and a data segment's payload stays where
the sender's application wrote it; copy, pair's default: every payload
crosses inside its frame). A fault or pcap wrapper always copies.

afpacket: also takes ring=v2|v3 (v2, the default: the kernel hands over each
frame as it arrives; v3: whole blocks, when full or after block_timeout),
blocks=N and block=SIZE (the rx ring: N blocks of SIZE bytes, e.g. 128k),
rx_frame=SIZE (v2: the ring's frame size, default 64k, which holds a GSO
super-frame), block_timeout=DURATION (v3: how long the kernel may hold a
partly filled block, default 1ms), frames=N (tx ring slots), tso=0|1 (send
TCP super-frames; default: when the interface has TSO on; 0 also computes
every checksum in software), tx=ring|sendmmsg (copy frames into tx-ring
slots, or gather them from the buffers with one sendmmsg() per burst;
default sendmmsg with TSO, else ring), gro_bufs=N (64 KiB
buffers that take received TCP super-frames whole, default 256; 0 cuts them
into segments) and mac=ADDR (the port's own MAC; default: a stable locally
administered one).

    shm:bench?loss=0.01&reorder=2%&seed=7
    pair:t?delay=5ms&pcap=/tmp/t.pcap
    afpacket:veth1?loss=0.02&seed=3&pcap=/tmp/veth1.pcap

xdp:IFACE is netchan's own AF_XDP socket on one rx queue of IFACE (docs/xdp.md);
it takes mode=auto|copy|zerocopy|skb (auto: native zero-copy, else native
copy, else generic skb mode), qid=K (the interface's rx queue, default 0),
bufs=N (UMEM frames of 4 KiB, default 8192), ring=N (entries of each of the
four rings, a power of two, default 2048) and wakeup=0|1 (the need_wakeup
flag, default 1):

    xdp:veth1?mode=copy
    xdp:eth2?qid=1&mode=zerocopy

dpdk:DEVARGS names a DPDK device, a vdev with its driver arguments or a PCI
address, and takes eal= (EAL arguments, see netchan.dpdk), bufs= (mbufs in
its pool), rxd=/txd= (descriptors per queue), promisc=0|1, offload=0|1
(checksum offloads where the driver has them; on by default) and tso=0|1
(TSO where the driver has it unless 0; 1 insists):

    dpdk:net_ring0
    dpdk:net_memif0,role=server,socket=/tmp/nc.sock
    dpdk:net_af_packet0,iface=veth0?eal=--no-huge,-m,256
    dpdk:0000:03:00.0?bufs=16384
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from netchan.units import parse_size

KINDS = ("pair", "shm", "afpacket", "dpdk", "xdp")
LINK_PARAMS = {"bufs", "hugepages", "windows"}
AFPACKET_PARAMS = {"blocks", "block", "block_timeout", "frames", "mac", "ring", "rx_frame", "tso",
                   "gro_bufs", "tx"}
FAULT_PARAMS = {"loss", "dup", "reorder", "corrupt", "delay", "hold", "reorder_depth", "seed",
                "fault_dir"}
OTHER_PARAMS = {"pcap", "queue"}
DPDK_PARAMS = {"eal", "rxd", "txd", "promisc", "offload"}
XDP_PARAMS = {"mode", "qid", "ring", "wakeup"}
XDP_MODES = ("auto", "copy", "zerocopy", "skb")

_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(ns|us|ms|s)?\s*$")
_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000, None: 1_000_000_000}


def parse_duration_ns(text: str, what: str) -> int:
    """'5ms' -> 5000000; a bare number is seconds."""
    m = _DURATION.match(str(text))
    if not m:
        raise ValueError(f"{what}={text!r}: expected a duration like 5ms, 200us or 0.1 (seconds)")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def _count(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{what}={text!r}: expected a whole number") from None


def parse_probability(text: str, what: str) -> float:
    """'0.02' or '2%' -> 0.02."""
    s = str(text).strip()
    try:
        p = float(s[:-1]) / 100.0 if s.endswith("%") else float(s)
    except ValueError:
        raise ValueError(f"{what}={text!r}: expected a probability like 0.02 or 2%") from None
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{what}={text!r}: a probability must be between 0 and 1 (0% and 100%)")
    return p


@dataclass
class PortSpec:
    kind: str
    target: str
    link: dict = field(default_factory=dict)
    fault: dict = field(default_factory=dict)
    pcap: str | None = None
    uri: str = ""
    queue: tuple | None = None          # (k, n): this stack's queue k of n (netchan.steer)


def parse_port_uri(uri: str) -> PortSpec:
    if not isinstance(uri, str) or ":" not in uri:
        raise ValueError(f"port URI {uri!r}: expected KIND:TARGET, e.g. shm:bench or pair:test "
                         f"(kinds: {', '.join(KINDS)})")
    kind, rest = uri.split(":", 1)
    if kind not in KINDS:
        raise ValueError(f"port URI {uri!r}: unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    target, _, query = rest.partition("?")
    if not target:
        raise ValueError(f"port URI {uri!r}: {kind}: needs a name after the colon")
    spec = PortSpec(kind=kind, target=target, uri=uri)
    seen = {}
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        if key in seen:
            raise ValueError(f"port URI {uri!r}: parameter {key!r} given twice "
                             f"({key}={seen[key]} and {key}={value}); keep one")
        seen[key] = value
        if key in ("loss", "dup", "reorder", "corrupt"):
            spec.fault[key] = parse_probability(value, key)
        elif key in ("delay", "hold"):
            spec.fault[key + "_ns"] = parse_duration_ns(value, key)
        elif key == "reorder_depth":
            try:
                spec.fault["reorder_depth"] = int(value)
            except ValueError:
                raise ValueError(f"reorder_depth={value!r}: expected a frame count (1 to 1000)") from None
        elif key == "seed":
            try:
                spec.fault["seed"] = int(value, 0)
            except ValueError:
                raise ValueError(f"seed={value!r}: expected an integer") from None
        elif key == "fault_dir":
            if value not in ("both", "tx", "rx"):
                raise ValueError(f"fault_dir={value!r}: use both, tx or rx")
            spec.fault["direction"] = value
        elif key == "queue":
            if kind == "xdp":
                raise ValueError(f"port URI {uri!r}: queue=K/N is not supported on xdp: ports: "
                                 "an rx queue holds one UMEM with one fill ring, so N stacks "
                                 "cannot share one queue, and the NIC's hash, not netchan's, spreads "
                                 "flows over queues; bind one stack per hardware queue with "
                                 "qid=K (docs/xdp.md)")
            from netchan.steer import parse_queue
            spec.queue = parse_queue(value)
            if kind == "dpdk" and spec.queue[1] > 1:
                from netchan.dpdk import check_queue_driver
                name, _, drvargs = target.partition(",")
                check_queue_driver(name, drvargs)
        elif key == "pcap":
            if not value:
                raise ValueError("pcap= needs a file name")
            spec.pcap = value
        elif key == "bufs":
            try:
                spec.link["nbufs"] = int(value)
            except ValueError:
                raise ValueError(f"bufs={value!r}: expected a buffer count") from None
        elif kind == "xdp" and key in XDP_PARAMS:
            spec.link.update(_xdp_param(key, value))
        elif key in XDP_PARAMS - AFPACKET_PARAMS:
            raise ValueError(f"port URI {uri!r}: {key}= is an xdp: parameter")
        elif key == "tso" and kind not in ("afpacket", "dpdk"):
            raise ValueError(f"port URI {uri!r}: tso= applies to afpacket: and dpdk: ports")
        elif key in AFPACKET_PARAMS - {"tso"} and kind != "afpacket":
            raise ValueError(f"port URI {uri!r}: {key}= is an afpacket: parameter")
        elif key == "blocks":
            spec.link["blocks"] = _count(value, key)
        elif key == "block":
            spec.link["block_size"] = parse_size(value, key)
        elif key == "block_timeout":
            spec.link["block_timeout_ns"] = parse_duration_ns(value, key)
        elif key == "frames":
            spec.link["frames"] = _count(value, key)
        elif key == "mac":
            spec.link["mac"] = value
        elif key == "ring":
            if value not in ("v2", "v3"):
                raise ValueError(f"ring={value!r}: use v2 (a frame at a time, no latency floor) "
                                 "or v3 (blocks, with block_timeout=)")
            spec.link["ring"] = value
        elif key == "rx_frame":
            spec.link["rx_frame"] = parse_size(value, key)
        elif key == "gro_bufs":
            try:
                spec.link["gro_bufs"] = int(value)
            except ValueError:
                raise ValueError(f"gro_bufs={value!r}: expected a buffer count (0: cut every "
                                 "TCP super-frame into segments)") from None
        elif key == "tx":
            if value not in ("ring", "sendmmsg"):
                raise ValueError(f"tx={value!r}: use ring (copy each frame into a tx-ring slot) "
                                 "or sendmmsg (gather frames from the buffers)")
            spec.link["tx"] = value
        elif key == "tso":
            if value not in ("0", "1"):
                raise ValueError(f"tso={value!r}: use 0 (never send TCP super-frames) or 1 "
                                 "(insist; the interface must have TSO on); leave it out to "
                                 "follow the interface")
            spec.link["tso"] = value == "1"
        elif key in DPDK_PARAMS:
            if kind != "dpdk":
                raise ValueError(f"port URI {uri!r}: {key}= applies to dpdk: ports only")
            if key == "eal":
                from netchan.dpdk import parse_eal_param
                spec.link["eal"] = parse_eal_param(value)
            elif key == "promisc":
                if value not in ("0", "1"):
                    raise ValueError(f"promisc={value!r}: use 0 or 1")
                spec.link["promisc"] = value == "1"
            elif key == "offload":
                if value not in ("0", "1"):
                    raise ValueError(f"offload={value!r}: use 0 (checksums in software even "
                                     "where the driver could do them) or 1 (the default)")
                spec.link["offload"] = value == "1"
            else:
                try:
                    spec.link[key] = int(value)
                except ValueError:
                    raise ValueError(f"{key}={value!r}: expected a descriptor count") from None
        elif key == "windows":
            if kind not in ("shm", "pair"):
                raise ValueError(f"port URI {uri!r}: windows= applies to shm: and pair: links "
                                 "(the peer reads our send windows in place)")
            if value not in ("shared", "copy"):
                raise ValueError(f"windows={value!r}: use shared (the peer reads our send windows "
                                 "in place: shm's default) or copy (every payload crosses in "
                                 "its frame)")
            spec.link["windows"] = value == "shared"
        elif key == "hugepages":
            if kind == "xdp":
                raise ValueError(f"port URI {uri!r}: hugepages= applies to shm: links; an xdp: "
                                 "port's UMEM is ordinary pages")
            if kind == "dpdk":
                raise ValueError(f"port URI {uri!r}: hugepages= applies to shm: links; a dpdk: "
                                 "port uses hugepages unless its EAL runs with --no-huge (eal=)")
            if value not in ("0", "1", "auto"):
                raise ValueError(f"hugepages={value!r}: use 0, 1 or auto")
            spec.link["hugepages"] = {"0": False, "1": True, "auto": None}[value]
        else:
            valid = sorted(LINK_PARAMS | FAULT_PARAMS | OTHER_PARAMS
                           | (DPDK_PARAMS if kind == "dpdk" else set())
                           | (AFPACKET_PARAMS if kind == "afpacket" else set())
                           | (XDP_PARAMS if kind == "xdp" else set()))
            raise ValueError(f"port URI {uri!r}: unknown parameter {key!r}; valid: {', '.join(valid)}")
    return spec


def _xdp_param(key: str, value: str) -> dict:
    """One xdp: parameter, checked: {link keyword: value}."""
    if key == "mode":
        if value not in XDP_MODES:
            raise ValueError(f"mode={value!r}: use auto (zero-copy, else copy, else skb), copy "
                             "(native XDP, copy mode), zerocopy (native XDP, zero-copy, or fail) "
                             "or skb (generic XDP: any interface, slowest)")
        return {"mode": value}
    if key == "wakeup":
        if value not in ("0", "1"):
            raise ValueError(f"wakeup={value!r}: use 1 (the kernel says when it needs a kick, "
                             "the default) or 0 (kick on every transmit)")
        return {"need_wakeup": value == "1"}
    if key == "qid":
        try:
            qid = int(value)
        except ValueError:
            raise ValueError(f"qid={value!r}: expected the interface's rx queue number, "
                             "e.g. qid=0") from None
        if qid < 0:
            raise ValueError(f"qid={value!r}: a queue number is 0 or more")
        return {"qid": qid}
    n = _count(value, key)
    if n < 64 or n & (n - 1):
        raise ValueError(f"ring={value!r}: ring entries must be a power of two of at least 64, "
                         "e.g. ring=2048")
    return {"ring": n}
