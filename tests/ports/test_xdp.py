"""netchan's own AF_XDP port (`xdp:IFACE`, docs/xdp.md) against the Linux
kernel over a veth pair between two namespaces the test made
(linux_peer.py): URI checks, refusals that say what to do, ARP and ping,
16 MiB both ways byte-exact in every mode veth offers, the blocking path
sleeping on the socket, the XDP program gone after close().
"""
import errno
import hashlib
import json
import subprocess
import sys

import pytest

import netchan
from conftest import require
from linux_peer import (LINUX_IP, NETCHAN_IP, PREFIX, VethLink, run, veth,  # noqa: F401
                        veth_2q)
from netchan.uri import parse_port_uri

SIZE = 16 << 20


# ---- URI (no root) -------------------------------------------------------------------

def test_uri_parameters():
    spec = parse_port_uri("xdp:veth1?mode=copy&qid=1&ring=1024&bufs=4096&wakeup=0&pcap=/tmp/x")
    assert spec.kind == "xdp" and spec.target == "veth1"
    assert spec.link == {"mode": "copy", "qid": 1, "ring": 1024, "nbufs": 4096,
                         "need_wakeup": False}
    assert spec.pcap == "/tmp/x"


@pytest.mark.parametrize("uri, message", [
    ("xdp:v?mode=fast", "use auto"),
    ("xdp:v?qid=first", "rx queue number"),
    ("xdp:v?qid=-1", "0 or more"),
    ("xdp:v?ring=1000", "power of two"),
    ("xdp:v?ring=32", "power of two"),
    ("xdp:v?wakeup=yes", "use 1"),
    ("xdp:v?queue=0/2", "qid=K"),
    ("xdp:v?hugepages=1", "ordinary pages"),
    ("xdp:v?blocks=4", "afpacket: parameter"),
    ("afpacket:v?mode=copy", "xdp: parameter"),
    ("xdp:v?zc=1", "unknown parameter 'zc'"),
])
def test_uri_errors_say_what_is_wrong(uri, message):
    with pytest.raises(ValueError, match=message):
        parse_port_uri(uri)


def test_built_without_libxdp_says_what_to_install(monkeypatch):
    """The flag, not a build failure: xdp: then names the packages."""
    from netchan import xdp
    monkeypatch.setattr(xdp, "lib", None)
    with pytest.raises(xdp.XdpError, match="libxdp-dev libbpf-dev") as e:
        xdp.XskSocket("veth1")
    assert e.value.errno == errno.ENOSYS


def test_port_c_compiles_without_warnings():
    """builders/xdp/ncxsk.c alone, warnings as errors."""
    import os
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    have = subprocess.run(["pkg-config", "--exists", "libxdp", "libbpf"]).returncode == 0
    require(have, "needs libxdp-dev and libbpf-dev (bash ci/install-deps.sh installs them)")
    cflags = subprocess.run(["pkg-config", "--cflags", "libxdp", "libbpf"], check=True,
                            capture_output=True, text=True).stdout.split()
    here = os.path.join(root, "builders", "xdp")
    res = subprocess.run([os.environ.get("CC", "cc"), "-fsyntax-only", "-std=gnu11", "-Wall",
                          "-Wextra", "-Werror", "-D_GNU_SOURCE", "-I", os.path.join(root, "include"),
                          "-I", here, *cflags, os.path.join(here, "ncxsk.c")],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def _require_xdp():
    require(netchan.HAS_XDP, "netchan built without libxdp/libbpf "
            "(bash ci/install-deps.sh installs libxdp-dev and libbpf-dev; then rebuild)")


# ---- refusals ------------------------------------------------------------------------

_OPEN_ERROR = (
    "import json, netchan\n"
    "try:\n"
    "    netchan.Stack({port!r}, ip='{ip}/{prefix}', **{opts!r}).close()\n"
    "    print(json.dumps(None))\n"
    "except Exception as e:\n"
    "    print(json.dumps([type(e).__name__, getattr(e, 'errno', None), str(e)]))\n")


def _py(veth, code, timeout=60):
    r = veth.netchan_python(code, timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def _open_error(veth, port, **opts):
    return _py(veth, _OPEN_ERROR.format(port=port, ip=NETCHAN_IP, prefix=PREFIX, opts=opts))


def test_refusals(veth):
    _require_xdp()
    dev = veth.netchan_dev
    kind, err, msg = _open_error(veth, "xdp:nosuchdev0")
    assert err == errno.ENODEV and "ip link" in msg, msg
    kind, err, msg = _open_error(veth, f"xdp:{dev}", mtu=9000)
    assert err == errno.EINVAL and "above the interface's 1500" in msg, msg
    kind, err, msg = _open_error(veth, f"xdp:{dev}?qid=3")
    assert err == errno.EINVAL and "1 rx queue" in msg, msg
    kind, err, msg = _open_error(veth, f"xdp:{dev}?bufs=1000")
    assert err == errno.EINVAL and "at least 4096 frames" in msg, msg
    # veth has native XDP but no zero-copy: asked for, it is refused with the way out
    kind, err, msg = _open_error(veth, f"xdp:{dev}?mode=zerocopy")
    assert err == errno.EOPNOTSUPP and "mode=copy" in msg, msg
    assert "xdp" not in _xdp_attached(veth)
    run("ip", "-n", veth.netchan_ns, "link", "set", dev, "down")
    kind, err, msg = _open_error(veth, f"xdp:{dev}")
    assert err == errno.ENETDOWN and f"ip link set {dev} up" in msg, msg


def _xdp_attached(veth):
    """The XDP part of `ip link show` for netchan's end ('' when none)."""
    out = run("ip", "-n", veth.netchan_ns, "-d", "link", "show", veth.netchan_dev).stdout
    return " ".join(w for w in out.split() if w.startswith("xdp") or w.startswith("prog/xdp"))


# ---- traffic with the Linux kernel -------------------------------------------------

def _pattern(n, seed):
    block = hashlib.sha256(b"%d" % seed).digest() * 2048      # 64 KiB
    return (block * (n // len(block) + 1))[:n]


# netchan: accept one connection, read SIZE bytes, answer with SIZE bytes of
# pattern 2; report the digest of what came in, the mode and the counters.
_SERVER = """
import hashlib, json, netchan, select, time
stack = netchan.Stack({port!r}, ip="{ip}/{prefix}", busy_poll=0)
fd = stack.fileno()
print(json.dumps({{"ready": True, "fd_is_xsk": fd == stack.port.sock.info()["fd"]}}), flush=True)
lst = stack.listen(5000)
conn = lst.accept(timeout=30)
h = hashlib.sha256()
buf = bytearray(1 << 20)
got = 0
while got < {size}:
    k = conn.recv_into(buf, timeout=30)
    if not k:
        break
    h.update(memoryview(buf)[:k])
    got += k
block = hashlib.sha256(b"2").digest() * 2048
out = (block * ({size} // len(block) + 1))[:{size}]
conn.sendall(out, timeout=30)
conn.close()
stats = stack.stats()
stats["problems"] = stack.port.problems()
mode = stack.port.mode
stack.close()
print(json.dumps({{"got": got, "digest": h.hexdigest(), "mode": mode, "stats": stats}}), flush=True)
"""

_CLIENT = """
import hashlib, socket, sys
size = {size}
block = hashlib.sha256(b"1").digest() * 2048
data = (block * (size // len(block) + 1))[:size]
s = socket.create_connection(("{ip}", 5000), timeout=30)
s.sendall(data)
h = hashlib.sha256()
got = 0
while got < size:
    b = s.recv(1 << 20)
    if not b:
        break
    h.update(b)
    got += len(b)
s.close()
print(got, h.hexdigest())
"""


def _both_ways(veth, query):
    server = veth.netchan_proc("-c", _SERVER.format(port=f"xdp:{veth.netchan_dev}?{query}",
                                                    ip=NETCHAN_IP, prefix=PREFIX, size=SIZE))
    ready = json.loads(server.wait_for('"ready"'))
    assert ready["fd_is_xsk"], "the stack's wake-up fd is not the XSK socket"
    ping = veth.linux("ping", "-c", "2", "-i", "0.2", "-W", "2", NETCHAN_IP, check=False)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    arp = veth.linux("ip", "neigh", "show", NETCHAN_IP).stdout
    assert "lladdr" in arp, arp
    client = veth.linux(sys.executable, "-c", _CLIENT.format(size=SIZE, ip=NETCHAN_IP),
                        timeout=120)
    got, digest = client.stdout.split()
    assert server.finish(timeout=60) == 0, server.output()
    report = json.loads(server.lines[-1])
    assert (int(got), digest) == (SIZE, hashlib.sha256(_pattern(SIZE, 2)).hexdigest())
    assert (report["got"], report["digest"]) == (SIZE, hashlib.sha256(_pattern(SIZE, 1)).hexdigest())
    assert "xdp" not in _xdp_attached(veth), "the XDP program outlived close()"
    return report


@pytest.mark.parametrize("mode, bound", [("auto", "copy"), ("skb", "skb")])
def test_16mib_both_ways_with_linux(veth, mode, bound):
    """Linux's checksum offload stays on (the veth default): its partial
    checksums are recognised. In native mode, attaching a program without
    multi-buffer support turns the peer's TSO off, so frames arrive
    MTU-sized; generic (skb) mode does not, and a GSO super-frame cannot fit
    a 4 KiB UMEM frame, so there the peer's segmentation goes off by hand."""
    _require_xdp()
    if mode == "skb":
        veth.linux("ethtool", "-K", veth.linux_dev, "tso", "off", "gso", "off")
    report = _both_ways(veth, f"mode={mode}")
    stats = report["stats"]
    assert report["mode"] == bound
    assert stats["xdp_rx_csum_partial"] > 0 and stats.get("rx_tcp_csum", 0) == 0
    assert stats["xdp_rx_frames"] >= SIZE // 1500 and stats["xdp_tx_frames"] >= SIZE // 1500
    for name in ("xdp_rx_dropped", "xdp_rx_ring_full", "xdp_rx_fill_ring_empty_descs",
                 "xdp_tx_ring_empty_descs", "xdp_rx_invalid", "xdp_tx_invalid"):
        assert name in stats
    assert stats["port_double_free"] == 0 and stats["problems"] == [], stats


def test_offloads_off_and_kick_on_every_transmit(veth):
    """Full checksums from Linux are verified by the stack; wakeup=0 kicks
    the kernel on every transmit instead of when it asks."""
    _require_xdp()
    veth.linux_offloads(False)
    stats = _both_ways(veth, "mode=copy&wakeup=0&ring=512&bufs=2048")["stats"]
    # a full checksum equals the pseudo-header sum by chance once in 2^16 frames (then
    # trusting it is right anyway): ~12,000 frames make a few such matches likely
    assert stats["xdp_rx_csum_partial"] <= stats["xdp_rx_frames"] // 1000
    assert stats.get("rx_tcp_csum", 0) == 0
    assert stats["xdp_tx_kicks"] > 0


def test_veth_and_program_gone_after_close():
    """close() detaches the program; the namespaces (and the veth in them)
    go with the link."""
    from conftest import require_root
    require_root()
    _require_xdp()
    link = VethLink()
    try:
        link.setup()
        code = ("import json, netchan\n"
                f"s = netchan.Stack('xdp:{link.netchan_dev}', ip='{NETCHAN_IP}/{PREFIX}')\n"
                "import subprocess\n"
                f"before = subprocess.run(['ip', 'link', 'show', '{link.netchan_dev}'],"
                " capture_output=True, text=True).stdout\n"
                "s.close()\n"
                f"after = subprocess.run(['ip', 'link', 'show', '{link.netchan_dev}'],"
                " capture_output=True, text=True).stdout\n"
                "print(json.dumps([before, after]))\n")
        before, after = _py(link, code)
        assert "prog/xdp" in before and "prog/xdp" not in after, (before, after)
    finally:
        link.close()
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert link.netchan_ns not in names and link.linux_ns not in names
    links = subprocess.run(["ip", "link", "show"], capture_output=True, text=True).stdout
    assert link.netchan_dev not in links and link.linux_dev not in links


# ---- one stack per rx queue ----------------------------------------------------------

# netchan on one rx queue: answer each connection's line with the queue's
# number and close; stop on a line on stdin; report the connections served.
_QUEUE_SERVER = """
import json, select, sys, netchan
stack = netchan.Stack({port!r}, ip="{ip}/{prefix}", busy_poll=0)
lst = stack.listen(5000)
print(json.dumps({{"ready": True}}), flush=True)
served = 0
while not select.select([sys.stdin], [], [], 0)[0]:
    try:
        conn = lst.accept(timeout=0.05)
    except TimeoutError:
        continue
    line = b""
    while not line.endswith(b"\\n"):
        got = conn.recv(100, timeout=10)
        if not got:
            break
        line += got
    conn.sendall(b"queue {qid} " + line, timeout=10)
    conn.close()
    served += 1
stats = stack.stats()
stack.close()
print(json.dumps({{"served": served, "rst": stats["tcp_rst_sent"]}}), flush=True)
"""

_QUEUE_CLIENT = """
import collections, json, socket
seen = collections.Counter()
for k in range({n}):
    s = socket.create_connection(("{ip}", 5000), timeout=10)
    s.sendall(b"hello %d\\n" % k)
    with s, s.makefile("rb") as f:
        reply = f.read()             # the stack answers, then closes
    words = reply.split()
    assert words[0] == b"queue" and words[2:] == [b"hello", b"%d" % k], reply
    seen[int(words[1])] += 1
print(json.dumps(seen))
"""


def test_one_stack_per_rx_queue_serves_the_flows_the_queue_gets(veth_2q):
    """Two stacks, two processes, on rx queues 0 and 1 of a two-queue veth
    (`qid=K`), the same address and MAC (the interface's): the Linux peer's
    connections each go to the queue its flow hash picks, and that queue's
    stack serves the whole connection (no RST from the other). The way to
    run one stack per core on a NIC with several queues, for servers
    (docs/xdp.md)."""
    _require_xdp()
    veth = veth_2q
    servers = []
    for qid in (0, 1):
        # queue 0's process loads libxdp's program; queue 1's reuses it
        p = veth.netchan_proc("-c", _QUEUE_SERVER.format(
            port=f"xdp:{veth.netchan_dev}?qid={qid}", ip=NETCHAN_IP, prefix=PREFIX, qid=qid))
        p.wait_for('"ready"')
        servers.append(p)
    n = 48
    client = veth.linux(sys.executable, "-c", _QUEUE_CLIENT.format(n=n, ip=NETCHAN_IP),
                        timeout=120)
    seen = {int(k): v for k, v in json.loads(client.stdout).items()}
    reports = []
    for p in reversed(servers):         # the program's loader (queue 0) closes last
        p.popen.stdin.write("stop\n")
        p.popen.stdin.flush()
        assert p.finish(timeout=30) == 0, p.output()
        reports.append(json.loads(p.lines[-1]))
    reports.reverse()
    # every connection answered by one stack, and the flow hash used both queues
    # (all 48 on one queue: a chance of 2 in 2^48)
    assert sum(seen.values()) == n and set(seen) == {0, 1}, seen
    assert [r["served"] for r in reports] == [seen[0], seen[1]], (reports, seen)
    assert [r["rst"] for r in reports] == [0, 0], reports
    assert "xdp" not in _xdp_attached(veth), "the XDP program outlived both sockets"
