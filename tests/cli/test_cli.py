"""The `netchan` command line, run as a user would run it."""
import json
import os
import subprocess
import sys
import textwrap

from conftest import unique
from helpers import python_env


def netchan_cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "netchan", *args], capture_output=True,
                          text=True, timeout=timeout, env=python_env())


LIVE_STACK = textwrap.dedent("""
    import sys, netchan
    s = netchan.Stack(sys.argv[1], ip="198.18.0.1/15")
    u = s.udp(("198.18.0.1", 53))
    print("READY", s.stats_path, flush=True)
    data, addr = u.recvfrom(timeout=60)
    print("GOT", data.decode(), flush=True)
    sys.stdin.read()
    s.close()
""")


def test_stats_reads_a_running_stack_in_another_process():
    import netchan
    name = unique("stats")
    proc = subprocess.Popen([sys.executable, "-c", LIVE_STACK, f"shm:{name}"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=python_env())
    try:
        ready, path = proc.stdout.readline().split()
        assert ready == "READY" and os.path.exists(path)
        with netchan.Stack(f"shm:{name}", ip="198.18.0.2/15", export_stats=False) as s:
            s.udp().sendto(b"hi", ("198.18.0.1", 53))
            s.udp().sendto(b"x" * 10, ("198.18.0.1", 54))     # no such port: counted
            s.run_until(lambda: s.stats()["rx_arp_reply"] == 1, timeout=10)
            assert proc.stdout.readline().strip() == "GOT hi"
            out = netchan_cli("stats", "--pid", str(proc.pid), "--json")
        assert out.returncode == 0, out.stderr
        (seg,) = json.loads(out.stdout)
        assert seg["uri"] == f"shm:{name}" and seg["ip"] == "198.18.0.1"
        assert seg["counters"]["rx_udp"] >= 1
        # our probe and announcement when we started (RFC 5227), then our request
        assert seg["counters"]["rx_arp_request"] == 3
        assert seg["ports"][0]["kind"] == "LinkPort"
        text = netchan_cli("stats", "--pid", str(proc.pid))
        assert "rx_arp_request" in text.stdout and f"shm:{name}" in text.stdout
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    assert not os.path.exists(path)
    assert netchan_cli("stats", "--pid", str(proc.pid)).returncode == 1


LIVE_STACK6 = textwrap.dedent("""
    import sys, netchan
    s = netchan.Stack(sys.argv[1], ip=["198.18.0.1/15", "2001:2::1/64"])
    u = s.udp(("::", 53))
    print("READY", s.stats_path, flush=True)
    data, addr = u.recvfrom(timeout=60)
    print("GOT", data.decode(), addr[0], flush=True)
    sys.stdin.read()
    s.close()
""")


def test_stats_counts_ipv6_separately():
    """`netchan stats` lists a dual-stack stack's addresses and its IPv6
    counters (rx_ipv6, NDP, ...) beside the IPv4 ones."""
    import netchan
    name = unique("stats6")
    proc = subprocess.Popen([sys.executable, "-c", LIVE_STACK6, f"shm:{name}"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=python_env())
    try:
        ready, path = proc.stdout.readline().split()
        with netchan.Stack(f"shm:{name}", ip=["198.18.0.2/15", "2001:2::2/64"],
                           export_stats=False) as s:
            s.udp().sendto(b"hi6", ("2001:2::1", 53))          # waits for NDP
            s.run_until(lambda: s.stats()["rx_ndp_na"] >= 1,   # the answer; the datagram leaves
                        timeout=10)
            assert proc.stdout.readline().split() == ["GOT", "hi6", "2001:2::2"]
            out = netchan_cli("stats", "--pid", str(proc.pid), "--json")
        assert out.returncode == 0, out.stderr
        (seg,) = json.loads(out.stdout)
        assert seg["addresses"][:2] == ["198.18.0.1/15", "2001:2::1/64"]
        c = seg["counters"]
        assert c["rx_ipv6"] >= 2 and c["rx_ndp_ns"] >= 1 and c["tx_ndp_na"] >= 1, c
        text = netchan_cli("stats", "--pid", str(proc.pid)).stdout
        assert "ipv6 2001:2::1/64" in text and "rx_ipv6" in text and "tx_ndp_na" in text
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def test_stats_removes_segments_of_dead_processes():
    path = f"/dev/shm/netchan-stats.{2**22 + 12345}.0"   # a pid that cannot exist
    with open(path, "wb") as f:
        f.write(b"\0" * 20000)
    netchan_cli("stats")
    assert not os.path.exists(path)


def test_cli_errors_are_clear():
    out = netchan_cli("bench", "stream", "--time", "1", "--port", "bogus")
    assert out.returncode != 0
    assert "KIND:TARGET" in out.stderr or "KIND:TARGET" in out.stdout
