"""One stack per core over DPDK (docs/percore.md): two processes, each with
its own net_af_packet device on the same veth end, queue 0/2 and 1/2. Each
device's packet socket carries netchan's steering filter, so a flow reaches
the stack of steer_queue(sport, dport, 2), each stack's outgoing
connections come back to it, and a ping is answered once. The Linux end has
segmentation off (net_af_packet takes no super-frames, docs/dpdk.md)."""

import pytest

import netchan
from conftest import require
from linux_peer import LINUX_IP, NETCHAN_IP, PREFIX, veth  # noqa: F401
from test_percore import _connect_out_per_queue, _flows_reach_the_stack_of_their_queue


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
    _flows_reach_the_stack_of_their_queue(dpdk_veth)


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
