"""One stack per core over DPDK (docs/percore.md): two processes, each with
its own net_af_packet device on the same veth end, queue 0/2 and 1/2. Each
device's packet socket carries netchan's steering filter, so a flow reaches
the stack of steer_queue(sport, dport, 2), each stack's outgoing
connections come back to it, and a ping is answered once. The Linux end has
segmentation off (net_af_packet takes no super-frames, docs/dpdk.md)."""
import sys
import textwrap

import pytest

import netchan
from conftest import require
from linux_peer import LINUX_IP, NETCHAN_IP, PREFIX, veth  # noqa: F401
from netchan.steer import steer_queue
from test_percore import EXAMPLE, _connect_out_per_queue


@pytest.fixture
def dpdk_veth(veth):
    require(netchan.HAS_DPDK, "netchan was built without DPDK (pkg-config libdpdk missing)")
    veth.linux("ethtool", "-K", veth.linux_dev, "tso", "off", "gso", "off")
    yield _DpdkLink(veth)


class _DpdkLink:
    """The veth link with the netchan end on dpdk:net_af_packet."""

    def __init__(self, link):
        self.link = link

    def __getattr__(self, name):
        return getattr(self.link, name)

    def port(self, query=""):
        return f"dpdk:net_af_packet0,iface={self.link.netchan_dev}" + (f"?{query}" if query else "")


def test_dpdk_flows_reach_the_stack_of_their_queue(dpdk_veth):
    server = dpdk_veth.netchan_proc(EXAMPLE, dpdk_veth.port(), f"{NETCHAN_IP}/{PREFIX}", "2")
    server.wait_for("queue 0/2: listening")
    server.wait_for("queue 1/2: listening")
    client = textwrap.dedent(f"""
        import socket
        for i in range(24):
            with socket.create_connection(("{NETCHAN_IP}", 7), timeout=10) as s:
                s.sendall(b"hi\\n")
                got = b""
                while not got.endswith(b"\\n"):
                    chunk = s.recv(100)
                    if not chunk:
                        break
                    got += chunk
                print(s.getsockname()[1], got.decode().strip(), flush=True)
    """)
    lines = [ln for ln in dpdk_veth.linux(sys.executable, "-c", client, timeout=60).stdout.split("\n")
             if ln]
    assert len(lines) == 24
    seen = set()
    for line in lines:
        sport, answer = line.split(" ", 1)
        k = steer_queue(int(sport), 7, 2)
        assert answer == f"queue {k}: hi", line
        seen.add(k)
    assert seen == {0, 1}
    ping = dpdk_veth.linux("ping", "-c", "3", "-i", "0.2", "-W", "2", NETCHAN_IP, check=False)
    assert " 3 received" in ping.stdout, ping.stdout
    assert "DUP!" not in ping.stdout, ping.stdout


def test_dpdk_each_stack_connects_out_and_gets_its_replies(dpdk_veth):
    _connect_out_per_queue(dpdk_veth, f"{NETCHAN_IP}/{PREFIX}", LINUX_IP, "0.0.0.0")


def test_dpdk_queue_needs_a_driver_netchan_can_steer():
    from netchan.dpdk import check_queue_driver
    with pytest.raises(ValueError, match="queue= needs net_af_packet"):
        check_queue_driver("net_af_xdp0", "iface=eth0")
    with pytest.raises(ValueError, match="queue= needs net_af_packet"):
        check_queue_driver("0000:03:00.0", "")
    with pytest.raises(ValueError, match=r"qpairs=1"):
        check_queue_driver("net_af_packet0", "iface=eth0,qpairs=2")
    check_queue_driver("net_af_packet0", "iface=eth0,qpairs=1")
