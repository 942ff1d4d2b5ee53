"""The afpacket port's send side against the Linux kernel over a veth pair:
checksum offload (the stack leaves TCP checksums to the kernel when the
interface has tx checksumming; the port asks for them in the virtio-net
header) and the two ways of sending (tx=ring copies into tx-ring slots,
tx=sendmmsg gathers the frames from the stack's buffers).

Every checksum netchan puts on the wire is checked by an independent packet
socket at the kernel's end: a frame with a partial checksum (NEEDS_CSUM) is
completed as a device would (the one's complement sum from csum_start,
stored at csum_start + csum_offset) and then checked with scapy, as is any
frame sent with its checksum filled in."""
import hashlib
import json
import sys

import pytest

from interop.test_interop_ipv6 import DUAL
from interop.test_interop_linux import _curl, _fetch, _http_server, _serve, _sha256_file
from linux_peer import LINUX_IP6, NETCHAN_IP6, run, stats_of, veth, veth6  # noqa: F401
from netchan.httpdemo import body_bytes

pytestmark = pytest.mark.root

_CHECK = r"""
import json, socket, struct, sys
from scapy.layers.l2 import Ether
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
PACKET_VNET_HDR = 15
def fold(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return t
def tcp_ok(frame):
    p = Ether(frame)
    got = p[TCP].chksum
    del p[TCP].chksum
    return Ether(bytes(p))[TCP].chksum == got
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.setsockopt(263, PACKET_VNET_HDR, 1)          # SOL_PACKET
# scapy is slow: room for the whole exchange, so no frame is missed
s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE
s.bind((sys.argv[1], 0))
s.settimeout(20)
count = {"partial": 0, "partial_gso": 0, "full": 0, "bad": 0, "ipv6": 0, "fin": 0}
print("capturing", flush=True)
try:
    while not count["fin"]:
        raw = s.recv(1 << 17)
        flags, gso_type, hdr_len, gso_size, cstart, coff = struct.unpack("=BBHHHH", raw[:10])
        frame = bytearray(raw[10:])
        p = Ether(bytes(frame))
        if TCP not in p or p[TCP].sport != 8080:
            continue
        if flags & 1:
            # what a device does with NEEDS_CSUM: sum from csum_start (the
            # field holds the pseudo-header sum), complement, store
            struct.pack_into("!H", frame, cstart + coff, 0xffff - fold(bytes(frame[cstart:])))
            count["partial_gso" if gso_type else "partial"] += 1
        else:
            count["full"] += 1
        count["ipv6"] += IPv6 in p
        count["fin"] += bool(p[TCP].flags & 0x01)
        if not tcp_ok(bytes(frame)) or (IP in p and fold(bytes(frame[14:14 + p[IP].ihl * 4])) != 0xffff):
            count["bad"] += 1
except socket.timeout:
    pass
print(json.dumps(count), flush=True)
"""


def _netchan_tx_csum(veth, on):
    run("ip", "netns", "exec", veth.netchan_ns, "ethtool", "-K", veth.netchan_dev,
        "tx", "on" if on else "off")


def _checked_download(veth, tmp_path, query="", six=False, size=256 << 10):
    """curl fetches size bytes from netchan while the kernel's end checks
    every frame netchan sends; (the checker's counts, netchan's stats)."""
    cap = veth.linux_proc(sys.executable, "-u", "-c", _CHECK, veth.linux_dev)
    cap.wait_for("capturing")
    if six:
        proc = veth.netchan_proc("-m", "netchan.httpdemo", "serve", "--port", veth.port(query),
                                 "--ip", DUAL, "--size", str(size), "--seed", "31",
                                 "--connections", "1")
        proc.wait_for("httpdemo: listening")
        r = veth.linux("curl", "-sS", "--max-time", "60", "-o", str(tmp_path / "down"),
                       "-w", "%{size_download}", f"http://[{NETCHAN_IP6}]:8080/", check=False,
                       timeout=70)
        assert r.returncode == 0, r.stderr
    else:
        proc = _serve(veth, size, 31, query)
        _curl(veth, "", tmp_path / "down")
    assert proc.finish(timeout=60) == 0, proc.output()
    assert (tmp_path / "down").read_bytes() == body_bytes(size, 31)
    line = cap.wait_for('{"partial"')
    return json.loads(line[line.index("{"):]), stats_of(proc)


@pytest.mark.parametrize("tx", ["ring", "sendmmsg"])
def test_checksums_left_to_the_kernel_are_right_on_the_wire(veth, tmp_path, tx):
    """Offloads on: TCP leaves its checksums out and the port asks the
    kernel for them (NEEDS_CSUM) on single frames and super-frames alike;
    completed as a device would, every one is right."""
    count, stats = _checked_download(veth, tmp_path, f"tx={tx}")
    assert count["bad"] == 0 and count["fin"] == 1, count
    assert count["partial"] > 0 and count["full"] == 0, count
    assert count["partial_gso"] > 0 and stats["afp_tx_tso_frames"] > 0, (count, stats)
    assert stats["afp_tx_csum_offloaded"] >= count["partial"], (count, stats)
    assert stats["problems"] == [] and stats.get("afp_tx_kick_errors", 0) == 0, stats


@pytest.mark.parametrize("tx", ["ring", "sendmmsg"])
def test_ipv6_checksums_left_to_the_kernel_are_right_on_the_wire(veth6, tmp_path, tx):
    count, stats = _checked_download(veth6, tmp_path, f"tx={tx}", six=True)
    assert count["bad"] == 0 and count["fin"] == 1, count
    assert count["ipv6"] == count["partial"] + count["partial_gso"] + count["full"], count
    assert count["partial"] > 0 and count["full"] == 0, count
    assert stats["afp_tx_csum_offloaded"] > 0, stats


@pytest.mark.parametrize("how", ["tx off on the interface", "tso=0"])
def test_checksums_in_software_without_tx_checksumming(veth, tmp_path, how):
    """With tx checksumming off on netchan's interface, or tso=0, the
    stack computes every checksum itself: no frame asks the kernel."""
    if how == "tso=0":
        query = "tso=0"
    else:
        query = ""
        _netchan_tx_csum(veth, False)
    count, stats = _checked_download(veth, tmp_path, query)
    assert count["bad"] == 0 and count["fin"] == 1, count
    assert count["partial"] == count["partial_gso"] == 0 and count["full"] > 100, count
    assert stats.get("afp_tx_csum_offloaded", 0) == 0, stats


@pytest.mark.parametrize("tx", ["ring", "sendmmsg"])
def test_corrupted_frames_sent_still_fail_at_the_kernel(veth, tmp_path, tx):
    """A fault wrapper that flips bits on send clears the checksum mark of
    what it corrupts: such a frame goes out alone, without NEEDS_CSUM and
    without a checksum, so the kernel drops it (TcpInCsumErrors) rather
    than checksumming corrupted bytes; retransmissions bring the body
    through intact."""
    size = 4 << 20
    before = veth.linux_snmp("TcpInCsumErrors").get("TcpInCsumErrors", 0)
    server = _serve(veth, size, 33, f"tx={tx}&corrupt=0.01&fault_dir=tx&seed=5")
    assert _curl(veth, "", tmp_path / "down") == size
    assert server.finish(timeout=60) == 0, server.output()
    assert _sha256_file(tmp_path / "down") == hashlib.sha256(body_bytes(size, 33)).hexdigest()
    stats = stats_of(server)
    assert stats["fault_corrupted"] > 0 and stats["afp_tx_tso_frames"] > 0, stats
    assert veth.linux_snmp("TcpInCsumErrors").get("TcpInCsumErrors", 0) > before


@pytest.mark.parametrize("tx", ["ring", "sendmmsg"])
def test_bulk_both_ways_with_either_tx(veth, tmp_path, tx):
    """16 MiB each way, byte-exact, with each way of sending."""
    size = 16 << 20
    server = _serve(veth, size, 34, f"tx={tx}")
    assert _curl(veth, "", tmp_path / "down") == size
    assert server.finish(timeout=60) == 0, server.output()
    assert _sha256_file(tmp_path / "down") == hashlib.sha256(body_bytes(size, 34)).hexdigest()
    out = stats_of(server)
    assert out["afp_tx_tso_frames"] > 0 and out["problems"] == [], out
    want = _http_server(veth, tmp_path, size, 35)
    got, digest, stats = _fetch(veth, f"tx={tx}")
    assert (got, digest) == (size, want)
    assert stats["problems"] == [], stats
