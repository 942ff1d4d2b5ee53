"""netchan against the Linux kernel over IPv6 (issue 12): the kernel's end
of the veth has 2001:2::1/64 beside 198.18.0.1/15, netchan has 2001:2::2/64
beside 198.18.0.2/15 (linux_peer.py's veth6)."""
import re

import pytest

from linux_peer import (LINUX_IP6, NETCHAN_IP, NETCHAN_IP6, PREFIX, PREFIX6,  # noqa: F401
                        stats_of, veth6)

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
