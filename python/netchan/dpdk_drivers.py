"""What netchan knows about particular DPDK poll-mode drivers (netchan.dpdk
uses it when it sets a device up): the driver arguments it adds, which
drivers sit on a Linux interface, the offload bits it asks for, their TSO
quirks, how it finds a PMD's own socket (the doorbell, the steering filter),
and where queue=K/N works.
"""
from __future__ import annotations

import os
import re

try:
    from netchan._dpdk import lib
except ImportError:     # built without DPDK
    lib = None

# Driver arguments netchan adds when the URI does not give them.
_DRIVER_DEFAULTS = {
    # 512 ring frames (the default) overflow under one TCP flow from Linux
    # (hundreds of retransmissions per 16 MiB on veth); 4096 had none.
    "net_af_packet": {"framecnt": "4096"},
}

# drivers on a Linux interface: frames a local sender offloaded its checksum
# for arrive with only the pseudo-header sum in it (see ncport.c)
PARTIAL_CSUM_DRIVERS = ("net_af_xdp", "net_af_packet", "net_tap")

# The kernel keeps XDP_PACKET_HEADROOM bytes in front of every frame it writes
# into an AF_XDP UMEM chunk, on top of the headroom the PMD declares.
XDP_PACKET_HEADROOM = 256

AF_PACKET = 17
AF_XDP = 44     # socket.AF_XDP, which Python 3.11 does not name

# Offloads netchan asks for where the PMD has them (Device.offloads says
# which it got; Device.offload_capa what the PMD offers of these).
RX_CSUM_OFFLOADS = {"ipv4_cksum": lib.RTE_ETH_RX_OFFLOAD_IPV4_CKSUM,
                    "tcp_cksum": lib.RTE_ETH_RX_OFFLOAD_TCP_CKSUM,
                    "udp_cksum": lib.RTE_ETH_RX_OFFLOAD_UDP_CKSUM} if lib else {}
TX_OFFLOADS = {"ipv4_cksum": lib.RTE_ETH_TX_OFFLOAD_IPV4_CKSUM,
               "tcp_cksum": lib.RTE_ETH_TX_OFFLOAD_TCP_CKSUM,
               "udp_cksum": lib.RTE_ETH_TX_OFFLOAD_UDP_CKSUM,
               "tcp_tso": lib.RTE_ETH_TX_OFFLOAD_TCP_TSO} if lib else {}


# TSO: where a PMD's segmentation differs from a NIC's. DPDK 22.11's net_tap
# cuts super-packets in software (librte_gso, IPv4 only: an IPv6 one would
# be written to the tap whole) and refuses, with the packet left unsent, a
# segment size whose header + segment exceeds its MTU (it compares the
# frame with the IP MTU): netchan cuts at MTU - headers there. It still
# writes every cut segment to the tap with its own writev, so TSO saves it
# nothing and costs the GSO work: measured slower (docs/dpdk.md), it is off
# unless the URI says tso=1. Drivers not named here take both families and
# segments of the MSS the stack uses, and TSO is on where they report it
# (with TCP and IPv4 checksums). Of DPDK 22.11's vdevs only net_tap reports
# TSO (net_af_packet, net_af_xdp, net_memif, net_ring, net_null: no tx
# offloads at all); NIC PMDs (ixgbe, i40e, ice, mlx5, virtio...) do, untested.
TSO_QUIRKS = {
    "net_tap": {"ipv6": False, "frame_max_is_mtu": True, "default": False},
}


def tso_by_default(driver) -> bool:
    """Whether TSO is used when the URI does not say (tso= left out)."""
    return TSO_QUIRKS.get(driver, {}).get("default", True)


def tso_limits(driver, mtu, seg_max, mtu_seg_max):
    """(ipv6, frame_max, seg_max, mtu_seg_max) for netchan_dpdk_port_set_tso."""
    q = TSO_QUIRKS.get(driver, {})
    return (int(q.get("ipv6", True)), mtu if q.get("frame_max_is_mtu") else 0,
            seg_max, mtu_seg_max)


def _driver_defaults(driver, drvargs: str) -> str:
    extra = _DRIVER_DEFAULTS.get(driver)
    if not extra:
        return drvargs
    given = {kv.split("=", 1)[0] for kv in drvargs.split(",") if kv}
    add = [f"{k}={v}" for k, v in extra.items() if k not in given]
    return ",".join([a for a in [drvargs] if a] + add)


def _vdev_driver(name: str) -> str:
    """net_memif0 -> net_memif (the driver a vdev name selects)."""
    return re.sub(r"\d+$", "", name)


def _socket_fds(family: int) -> set:
    """This process's sockets of an address family. The PMDs keep their
    sockets to themselves (net_af_xdp's XSK, net_af_packet's packet socket);
    a new one after a set-up step is the device's. Python's socket module
    cannot wrap an XSK, so the family is read in C (SO_DOMAIN)."""
    found = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            if not os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                continue
        except OSError:
            continue
        if lib.netchan_socket_domain(int(name)) == family:
            found.add(int(name))
    return found


def check_queue_driver(name, drvargs):
    """queue=K/N works where netchan can steer the PMD's own socket."""
    from netchan.dpdk import is_pci_address
    drv = _vdev_driver(name)
    if drv != "net_af_packet" or is_pci_address(name):
        raise ValueError(
            f"dpdk:{name}: queue= needs net_af_packet (each process opens its own device on the "
            f"interface and netchan's steering filter goes on its socket); {drv} has no queue "
            f"netchan can steer on this machine (docs/percore.md, DPDK): run one stack per "
            f"port, or use afpacket:IFACE?queue=K/N")
    m = re.search(r"(?:^|,)qpairs=(\d+)", drvargs)
    if m and int(m.group(1)) != 1:
        raise ValueError(f"dpdk:{name},{drvargs}: queue= takes one queue pair per process "
                         f"(qpairs=1): the driver's own fan-out hashes with the kernel's seed")
