"""netchan against the Linux kernel's TCP/IP over a veth pair (issue 4).

The kernel is the reference peer: stock ping, curl, python3 -m http.server,
ss and nstat run in their own namespace; netchan runs on the other veth end
through the afpacket port (see linux_peer.py). Bodies are seeded random
bytes checked by SHA-256.
"""
import hashlib
import re

import pytest

from linux_peer import LINUX_IP, NETCHAN_IP, PREFIX, stats_of, veth  # noqa: F401
from netchan.httpdemo import body_bytes

pytestmark = pytest.mark.root

CURL_TIMEOUT = 120


def _serve(veth, size, seed, port_query="", connections=1, extra=()):
    proc = veth.netchan_proc("-m", "netchan.httpdemo", "serve", "--port", veth.port(port_query),
                             "--ip", f"{NETCHAN_IP}/{PREFIX}", "--size", str(size),
                             "--seed", str(seed), "--connections", str(connections), *extra)
    proc.wait_for("httpdemo: listening")
    return proc


def _curl(veth, path, out):
    """Download with the kernel's TCP; returns curl's byte count."""
    r = veth.linux("curl", "-sS", "--max-time", str(CURL_TIMEOUT), "-o", str(out),
                   "-w", "%{size_download}", f"http://{NETCHAN_IP}:8080/{path}",
                   check=False, timeout=CURL_TIMEOUT + 10)
    assert r.returncode == 0, f"curl failed: {r.stderr}"
    return int(r.stdout)


def _sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _http_server(veth, tmp_path, size, seed):
    """python3 -m http.server on the Linux side, serving `file`."""
    (tmp_path / "www").mkdir()
    data = body_bytes(size, seed)
    (tmp_path / "www" / "file").write_bytes(data)
    proc = veth.linux_proc("python3", "-u", "-m", "http.server", "8000", "--bind", LINUX_IP,
                           "--directory", str(tmp_path / "www"))
    proc.wait_for("Serving HTTP")
    return hashlib.sha256(data).hexdigest()


def _fetch(veth, port_query="", extra=()):
    proc = veth.netchan_proc("-m", "netchan.httpdemo", "fetch", "--port", veth.port(port_query),
                             "--ip", f"{NETCHAN_IP}/{PREFIX}",
                             "--url", f"http://{LINUX_IP}:8000/file", *extra)
    assert proc.finish(timeout=CURL_TIMEOUT) == 0, proc.output()
    m = re.search(r"fetched (\d+) bytes sha256 ([0-9a-f]{64})", proc.output())
    assert m, proc.output()
    return int(m.group(1)), m.group(2), stats_of(proc)


def test_ping_from_linux_is_answered(veth):
    """ARP and ICMP echo: the kernel resolves netchan's address and gets
    every echo answered."""
    server = _serve(veth, 1024, 1, connections=0)
    r = veth.linux("ping", "-c", "3", "-i", "0.2", "-W", "2", NETCHAN_IP, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert " 0% packet loss" in r.stdout, r.stdout
    neigh = veth.linux("ip", "neigh", "show", NETCHAN_IP, "dev", veth.linux_dev).stdout
    server.stop()
    stats = stats_of(server)
    assert stats["rx_icmp_echo"] == 3 and stats["tx_icmp_echo_reply"] == 3, stats
    assert stats.get("tx_arp_reply", 0) >= 1, stats
    # the kernel learnt netchan's own MAC, not the interface's
    mac = re.search(r"listening on \S+ mac (\S+)", server.output()).group(1)
    assert mac in neigh, neigh


def test_curl_downloads_64mib_from_netchan(veth, tmp_path):
    """A netchan server answers curl with a 64 MiB body, intact; the kernel
    counts no bad TCP checksum."""
    size, seed = 64 << 20, 7
    before = veth.linux_snmp("TcpInCsumErrors")
    server = _serve(veth, size, seed)
    got = _curl(veth, "", tmp_path / "body")
    assert server.finish(timeout=60) == 0, server.output()
    assert got == size
    assert _sha256_file(tmp_path / "body") == hashlib.sha256(body_bytes(size, seed)).hexdigest()
    assert veth.linux_snmp("TcpInCsumErrors") == before
    stats = stats_of(server)
    assert stats["tcp_data_out_bytes"] >= size
    assert stats["problems"] == []


def test_netchan_fetches_from_python_http_server(veth, tmp_path):
    """A netchan client downloads from python3 -m http.server. The kernel's
    TSO/GSO and checksum offload are on (the veth default): its super-frames
    reach TCP whole (GRO buffers) and its partial checksums are trusted."""
    size = 16 << 20
    want = _http_server(veth, tmp_path, size, 3)
    got, digest, stats = _fetch(veth)
    assert (got, digest) == (size, want)
    assert stats["afp_rx_gro_superframes"] > 0 and stats.get("afp_rx_gso_frames", 0) == 0
    assert stats["afp_rx_csum_partial"] > 0
    assert stats.get("rx_tcp_csum", 0) == 0
    assert stats["problems"] == []


def test_netchan_fetches_with_linux_offloads_off(veth, tmp_path):
    """With `ethtool -K tso off gso off tx off` on the kernel's end, frames
    arrive MTU-sized with full checksums, which the stack verifies itself."""
    veth.linux_offloads(False)
    size = 8 << 20
    want = _http_server(veth, tmp_path, size, 4)
    got, digest, stats = _fetch(veth)
    assert (got, digest) == (size, want)
    assert stats.get("afp_rx_gso_frames", 0) == 0
    assert stats.get("afp_rx_csum_partial", 0) == 0
    assert stats.get("rx_tcp_csum", 0) == 0
    assert stats["problems"] == []


def test_bulk_both_ways_with_loss(veth, tmp_path):
    """2% of TCP frames dropped by nftables on the kernel's side and 2% by
    netchan's fault port on its own side (both directions): both transfers
    still arrive intact, and the kernel never sees a bad checksum."""
    size = 4 << 20
    before = veth.linux_snmp("TcpInCsumErrors")
    veth.linux_drop_tcp(20)
    server = _serve(veth, size, 11, "loss=0.02&seed=5")
    got = _curl(veth, "", tmp_path / "down")
    assert server.finish(timeout=60) == 0, server.output()
    assert got == size
    assert _sha256_file(tmp_path / "down") == hashlib.sha256(body_bytes(size, 11)).hexdigest()
    sent_stats = stats_of(server)

    want = _http_server(veth, tmp_path, size, 12)
    got, digest, recv_stats = _fetch(veth, "loss=0.02&seed=6")
    assert (got, digest) == (size, want)

    assert veth.linux_dropped() > 0
    assert sent_stats["fault_lost"] > 0 and recv_stats["fault_lost"] > 0
    assert sent_stats["tcp_retransmits"] > 0
    assert veth.linux_snmp("TcpInCsumErrors") == before


def _ss_info(veth, remote):
    out = veth.linux("ss", "-tinH", "state", "established", "dst", remote).stdout
    assert out.strip(), "no established connection in ss"
    return out


# A Linux-side script's report of its socket's TCP_INFO: tcpi_options (byte
# 5) and the window shifts (byte 6). iproute2 6.1's ss leaves out "ts" and
# "sack" with this kernel even between two kernel sockets, so those two are
# read from the kernel this way; ss shows wscale and mss.
_TCP_INFO = (
    "def tcp_info(s):\n"
    "    b = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)\n"
    "    return 'options=%d snd_wscale=%d rcv_wscale=%d' % (b[5], b[6] & 15, b[6] >> 4)\n")
TCPI_OPT_TIMESTAMPS, TCPI_OPT_SACK, TCPI_OPT_WSCALE = 1, 2, 4


def _check_kernel_view(ss_info, tcp_info_line):
    """What the kernel negotiated with netchan (its receive window is 4 MiB,
    as on a port that moves super-frames: shift 7; MSS 1500 - 40 announced,
    less 12 for timestamps)."""
    m = re.search(r"\bwscale:(\d+),(\d+)", ss_info)
    assert m and int(m.group(1)) == 7, ss_info
    assert re.search(r"\bmss:1448\b", ss_info), ss_info
    fields = dict(f.split("=") for f in tcp_info_line.split()[1:])
    opts = int(fields["options"])
    assert opts & TCPI_OPT_TIMESTAMPS and opts & TCPI_OPT_SACK and opts & TCPI_OPT_WSCALE, fields
    assert int(fields["snd_wscale"]) == 7 and int(fields["rcv_wscale"]) == int(m.group(2)), fields
    return int(m.group(2))


def test_options_negotiated_as_ss_shows(veth):
    """Window scaling, timestamps, SACK and MSS as the kernel sees them, for a
    connection to netchan (the kernel connects) and from netchan (netchan
    connects)."""
    server = _serve(veth, 1024, 1, connections=0, extra=("--io-timeout", "30"))
    client = veth.linux_proc("python3", "-u", "-c", (
        "import socket, sys\n" + _TCP_INFO +
        f"s = socket.create_connection(('{NETCHAN_IP}', 8080), timeout=10)\n"
        "print('connected', tcp_info(s), flush=True)\n"
        "sys.stdin.read()\n"))
    line = client.wait_for("connected")
    info = _ss_info(veth, NETCHAN_IP)
    client.stop()
    server.stop()
    _check_kernel_view(info, line)

    # the other way: netchan's SYN, the kernel's answer
    listener = veth.linux_proc("python3", "-u", "-c", (
        "import socket, sys\n" + _TCP_INFO +
        f"l = socket.create_server(('{LINUX_IP}', 8000))\n"
        "print('listening', flush=True)\n"
        "c, _ = l.accept()\n"
        "print('accepted', tcp_info(c), flush=True)\n"
        "sys.stdin.read()\n"))
    listener.wait_for("listening")
    holder = veth.netchan_proc("-c", (
        "import netchan, signal, sys\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))   # close the stack on stop()\n"
        f"with netchan.Stack('{veth.port()}', ip='{NETCHAN_IP}/{PREFIX}') as s:\n"
        f"    c = s.connect(('{LINUX_IP}', 8000), timeout=10)\n"
        "    i = c.info()\n"
        "    print('connected', i['snd_wscale'], i['mss'], i['timestamps'], i['sack'], flush=True)\n"
        "    s.run_until(lambda: False, timeout=30)\n"))
    line = listener.wait_for("accepted")
    mine = holder.wait_for("connected")
    info = _ss_info(veth, NETCHAN_IP)
    holder.stop()
    listener.stop()
    linux_shift = _check_kernel_view(info, line)
    # and netchan adopted the kernel's options
    assert mine.split()[1:] == [str(linux_shift), "1448", "True", "True"], mine


def test_corrupted_frames_are_caught_despite_trusted_checksums(veth, tmp_path):
    """The kernel's offloads are on, so its frames carry partial checksums
    the port trusts (NC_BUF_F_CSUM_OK). A bit the fault port flips after
    that must still be caught: the corrupted frames fail the stack's own
    check and are retransmitted, and the body arrives intact."""
    size = 4 << 20
    want = _http_server(veth, tmp_path, size, 13)
    got, digest, stats = _fetch(veth, "corrupt=0.02&fault_dir=rx&seed=8")
    assert (got, digest) == (size, want)
    assert stats["fault_corrupted"] > 0
    assert stats["afp_rx_csum_partial"] > 0
    assert stats.get("rx_tcp_csum", 0) > 0, stats


def _nft_ce(veth, hook, every):
    """Mark CE on every `every`-th ECN-capable TCP frame on the kernel's veth,
    the first one included: arriving (hook ingress) or leaving (egress). A
    counter, not numgen random: with TSO on both ends 4 MiB is only ~64
    super-frames, and a 2% random draw marked none of them one time in four."""
    veth.linux("nft", "add", "table", "netdev", "ncecn")
    veth.linux("nft", "add", "chain", "netdev", "ncecn", hook,
               f"{{ type filter hook {hook} device {veth.linux_dev} priority 0 ; }}")
    veth.linux("nft", "add", "rule", "netdev", "ncecn", hook, "ip", "protocol", "tcp",
               "ip", "ecn", "ect0", "numgen", "inc", "mod", str(every), "==", "0",
               "counter", "ip", "ecn", "set", "ce")


def _nft_ce_marked(veth):
    import json
    out = veth.linux("nft", "-j", "list", "table", "netdev", "ncecn").stdout
    for item in json.loads(out)["nftables"]:
        for expr in item.get("rule", {}).get("expr", []):
            if "counter" in expr:
                return expr["counter"]["packets"]
    return 0


def test_ecn_with_the_kernel_marking_ce(veth, tmp_path):
    """RFC 3168 against Linux with net.ipv4.tcp_ecn=1: curl asks for ECN, netchan
    (ecn=True) sends ECT(0), nftables marks CE on every 10th frame of it as it reaches the
    kernel, the kernel echoes ECE and netchan reduces its window; the other
    way, the kernel's ECT(0) data is marked CE as it leaves and netchan
    echoes it. Both bodies arrive intact."""
    veth.linux("sysctl", "-qw", "net.ipv4.tcp_ecn=1")
    size = 4 << 20
    _nft_ce(veth, "ingress", 10)
    server = _serve(veth, size, 13, extra=("--ecn",))
    got = _curl(veth, "", tmp_path / "down")
    assert server.finish(timeout=60) == 0, server.output()
    assert got == size
    assert _sha256_file(tmp_path / "down") == hashlib.sha256(body_bytes(size, 13)).hexdigest()
    sent = stats_of(server)
    assert _nft_ce_marked(veth) > 0
    assert sent["tcp_ecn_negotiated"] == 1 and sent["tcp_ecn_reductions"] > 0, sent

    veth.linux("nft", "delete", "table", "netdev", "ncecn")
    _nft_ce(veth, "egress", 10)
    want = _http_server(veth, tmp_path, size, 14)
    got, digest, received = _fetch(veth, extra=("--ecn",))
    assert (got, digest) == (size, want)
    assert _nft_ce_marked(veth) > 0
    assert received["tcp_ecn_negotiated"] == 1 and received["tcp_ecn_ce_seen"] > 0, received
