"""netchan against the Linux kernel over IPv6 (issue 12): the kernel's end
of the veth has 2001:2::1/64 beside 198.18.0.1/15, netchan has 2001:2::2/64
beside 198.18.0.2/15 (linux_peer.py's veth6)."""
import hashlib
import re

import pytest

from linux_peer import (LINUX_IP6, NETCHAN_IP, NETCHAN_IP6, PREFIX, PREFIX6,  # noqa: F401
                        stats_of, veth6)
from netchan.httpdemo import body_bytes

pytestmark = pytest.mark.root

DUAL = f"{NETCHAN_IP}/{PREFIX},{NETCHAN_IP6}/{PREFIX6}"


def _serve(veth, size, seed, connections=1):
    proc = veth.netchan_proc("-m", "netchan.httpdemo", "serve", "--port", veth.port(),
                             "--ip", DUAL, "--size", str(size), "--seed", str(seed),
                             "--connections", str(connections))
    proc.wait_for("httpdemo: listening")
    return proc


def test_ping6_from_linux_is_answered(veth6):
    """NDP and ICMPv6 echo: the kernel resolves netchan's IPv6 address by
    neighbour solicitation and gets every echo answered."""
    server = _serve(veth6, 1024, 1, connections=0)
    r = veth6.linux("ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", NETCHAN_IP6, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert " 0% packet loss" in r.stdout, r.stdout
    neigh = veth6.linux("ip", "-6", "neigh", "show", NETCHAN_IP6, "dev", veth6.linux_dev).stdout
    server.stop()
    stats = stats_of(server)
    assert stats["rx_icmp6_echo"] == 3 and stats["tx_icmp6_echo_reply"] == 3, stats
    assert stats["rx_ndp_ns"] >= 1 and stats["tx_ndp_na"] >= 1, stats
    assert stats.get("ndp_address_conflict", 0) == 0, stats
    mac = re.search(r"listening on \S+ mac (\S+)", server.output()).group(1)
    assert mac in neigh, neigh


def _curl6(veth, host, out):
    r = veth.linux("curl", "-sS", "--max-time", "120", "-o", str(out), "-w", "%{size_download}",
                   f"http://{host}:8080/", check=False, timeout=130)
    assert r.returncode == 0, f"curl failed: {r.stderr}"
    return int(r.stdout)


def test_curl6_downloads_from_netchan_byte_exact(veth6, tmp_path):
    """A Linux client (curl -6) fetches 16 MiB from netchan over IPv6."""
    size, seed = 16 << 20, 11
    before = veth6.linux_snmp("Tcp6InCsumErrors", "TcpInCsumErrors")
    server = _serve(veth6, size, seed)
    assert _curl6(veth6, f"[{NETCHAN_IP6}]", tmp_path / "body") == size
    assert server.finish(timeout=60) == 0, server.output()
    assert (tmp_path / "body").read_bytes() == body_bytes(size, seed)
    assert veth6.linux_snmp("Tcp6InCsumErrors", "TcpInCsumErrors") == before
    stats = stats_of(server)
    assert stats["tcp_data_out_bytes"] >= size and stats["tx_ipv6"] > 100, stats
    # with TSO on the veth, TCP hands IPv6 super-frames of up to 45 segments
    assert stats["tcp_tso_segments"] > 20 * stats["tcp_tso_frames"] > 0, stats
    assert stats["problems"] == []


def test_netchan_fetches_from_linux_over_ipv6(veth6, tmp_path):
    """netchan's client fetches 16 MiB from python3 -m http.server bound to
    the kernel's IPv6 address; the kernel's TCPv6 super-frames (TSO on)
    reach TCP whole (the afpacket port's GRO buffers)."""
    size = 16 << 20
    (tmp_path / "www").mkdir()
    data = body_bytes(size, 5)
    (tmp_path / "www" / "file").write_bytes(data)
    http = veth6.linux_proc("python3", "-u", "-m", "http.server", "8000", "--bind", LINUX_IP6,
                            "--directory", str(tmp_path / "www"))
    http.wait_for("Serving HTTP")
    proc = veth6.netchan_proc("-m", "netchan.httpdemo", "fetch", "--port", veth6.port(),
                              "--ip", DUAL, "--url", f"http://[{LINUX_IP6}]:8000/file")
    assert proc.finish(timeout=120) == 0, proc.output()
    m = re.search(r"fetched (\d+) bytes sha256 ([0-9a-f]{64})", proc.output())
    assert m, proc.output()
    assert (int(m.group(1)), m.group(2)) == (size, hashlib.sha256(data).hexdigest())
    stats = stats_of(proc)
    assert stats["rx_ipv6"] > 100 and stats.get("rx_tcp_csum", 0) == 0, stats
    assert stats["afp_rx_gro_superframes"] > 0 and stats.get("afp_rx_gso_frames", 0) == 0, stats
    assert stats["problems"] == []


def test_one_stack_serves_linux_on_both_families_at_once(veth6, tmp_path):
    """A stack with one IPv4 and one IPv6 address serves two curl clients
    at the same time, one per family, byte-exact, and answers ping -6
    meanwhile. (A third download, after the pings, ends the server: the
    pings cannot outlive it.)"""
    size, seed = 8 << 20, 13
    server = _serve(veth6, size, seed, connections=3)
    # each download held to 16 MB/s (about half a second), so that both and
    # the pings overlap
    c4 = veth6.linux_proc("curl", "-sS", "--max-time", "120", "--limit-rate", "16M", "-o",
                          str(tmp_path / "b4"), f"http://{NETCHAN_IP}:8080/")
    c6 = veth6.linux_proc("curl", "-sS", "--max-time", "120", "--limit-rate", "16M", "-o",
                          str(tmp_path / "b6"), f"http://[{NETCHAN_IP6}]:8080/")
    r = veth6.linux("ping", "-6", "-c", "2", "-i", "0.1", "-W", "2", NETCHAN_IP6, check=False)
    assert c4.finish(timeout=130) == 0 and c6.finish(timeout=130) == 0, c4.output() + c6.output()
    assert _curl6(veth6, f"[{NETCHAN_IP6}]", tmp_path / "b6b") == size
    assert server.finish(timeout=60) == 0, server.output()
    want = body_bytes(size, seed)
    for name in ("b4", "b6", "b6b"):
        assert (tmp_path / name).read_bytes() == want, name
    assert r.returncode == 0 and " 0% packet loss" in r.stdout, r.stdout + r.stderr
    stats = stats_of(server)
    assert stats["problems"] == [], stats["problems"]
    assert stats["tcp_passive_opens"] == 3 and stats["rx_icmp6_echo"] == 2, stats


def test_an_ipv6_address_the_kernel_owns_is_refused(veth6):
    """As for IPv4: on an interface whose kernel owns the IPv6 address, the
    kernel would answer NDP and reset netchan's connections."""
    import os
    import subprocess
    import sys
    from linux_peer import PACKAGE_PATH
    code = ("import netchan\n"
            "try:\n"
            f"    netchan.Stack('afpacket:{veth6.linux_dev}', ip=['198.18.0.9/15', "
            f"'{LINUX_IP6}/64'])\n"
            "except OSError as e:\n"
            "    print('REFUSED', e.errno, e)\n")
    env = dict(os.environ, PYTHONPATH=PACKAGE_PATH + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run(["ip", "netns", "exec", veth6.linux_ns, sys.executable, "-c", code],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.stdout.startswith("REFUSED 98 "), r.stdout + r.stderr
    assert f"the kernel owns {LINUX_IP6} (on {veth6.linux_dev})" in r.stdout
    assert "(NDP, RST)" in r.stdout


def test_linux_reassembles_netchans_ipv6_fragments(veth6):
    """A 20,000-byte UDP datagram from netchan over IPv6 leaves in fragments
    and the kernel hands it whole to a socket."""
    import textwrap
    listener = veth6.linux_proc("python3", "-u", "-c", textwrap.dedent(f"""
        import hashlib, socket
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("{LINUX_IP6}", 9999))
        print("READY", flush=True)
        data, src = s.recvfrom(65535)
        print("GOT", len(data), hashlib.sha256(data).hexdigest(), flush=True)
    """))
    listener.wait_for("READY")
    payload = bytes((i * 31) & 0xFF for i in range(20000))
    code = textwrap.dedent(f"""
        import netchan
        with netchan.Stack("{veth6.port()}", ip=["{NETCHAN_IP}/{PREFIX}", "{NETCHAN_IP6}/{PREFIX6}"]) as st:
            u = st.udp(("::", 0))
            u.sendto(bytes((i * 31) & 0xFF for i in range(20000)), ("{LINUX_IP6}", 9999))
            st.run_until(lambda: st.stats()["ip6_frags_out"] >= 14, timeout=10)
            print("frags", st.stats()["ip6_frags_out"], flush=True)
            for _ in range(50):
                st.poll(0.01)
    """)
    res = veth6.netchan_python(code, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    line = listener.wait_for("GOT", timeout=20)
    assert line.split()[1:] == ["20000", hashlib.sha256(payload).hexdigest()]
