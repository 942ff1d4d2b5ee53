"""Where each end of a measurement runs, for netchan's turn and the
kernel's.

shm (default) or any --link URI without --testbed: two local processes,
netchan at 198.18.0.1 (server) and 198.18.0.2 (client) on the link; the
kernel's turn is loopback TCP (127.0.0.1).

--testbed: a testbed of two namespaces joined by one veth pair, made for
this run and removed after it (netchan.testbed). h2 is the Linux peer: the
kernel's TCP at 198.18.0.2 serves both turns. h1 is the bare end: netchan
on --link (default afpacket:eth0) at 198.18.1.1 for its turn, then the
kernel's sockets at 198.18.0.1 on the same eth0 for the kernel's turn.
pps has no TCP: a netchan port in h2 receives for netchan's turn, the
kernel's UDP (sockperf) for the kernel's."""
from __future__ import annotations

import os
from dataclasses import dataclass

from netchan.bench.procs import LOCAL, Place

SHM_SERVER_IP, SHM_CLIENT_IP = "198.18.0.1/15", "198.18.0.2/15"
BENCH_PORT = 5201


@dataclass
class Layout:
    """Who runs where. server_* is the end that listens (the peer in a
    testbed), client_* the end that connects (the bare end)."""
    link: str
    server_uri: str
    client_uri: str
    server_place: Place
    client_place: Place
    # netchan's turn
    server_ip: str
    client_ip: str
    peer_addr: str                    # where the client connects
    server_stack: str                 # "netchan", or "kernel" for the testbed's peer
    # the kernel's turn
    kernel_server_addr: str
    kernel_client_ip: str
    kernel_label: str
    testbed: object = None

    def describe(self):
        return self.link


def default_shm():
    return f"shm:bench-{os.getpid()}"


def remove_own_shm(args):
    """The default link's files, if a role died without closing its end
    (both ends are gone by now: the link is this run's alone)."""
    if args.link or args.server_link or args.testbed:
        return
    name = default_shm().split(":", 1)[1]
    for suffix in ("", ".bell0", ".bell1"):
        try:
            os.unlink(f"/dev/shm/netchan-link-{name}{suffix}")
        except FileNotFoundError:
            pass


def local_layout(args) -> Layout:
    uri = args.link or default_shm()
    server_uri = args.server_link or uri
    client_uri = args.client_link or uri
    link = uri if server_uri == client_uri else f"{server_uri} <-> {client_uri}"
    return Layout(link=link, server_uri=server_uri, client_uri=client_uri,
                  server_place=LOCAL, client_place=LOCAL,
                  server_ip=SHM_SERVER_IP, client_ip=SHM_CLIENT_IP,
                  peer_addr=SHM_SERVER_IP.split("/")[0], server_stack="netchan",
                  kernel_server_addr="127.0.0.1", kernel_client_ip="",
                  kernel_label="kernel loopback")


def testbed_link(args):
    return args.link or "afpacket:eth0"


def testbed_offload(args) -> bool:
    """The veth's offloads (TSO, GSO, checksum): on unless asked, except for
    DPDK's net_af_packet and net_af_xdp, which take neither partial
    checksums nor TSO-sized frames (docs/dpdk.md), and netchan's own xdp:
    port, whose native XDP program turns the peer's TSO off while it is
    attached (only during netchan's turn: off for both is the same setting
    for both). Both turns run with the same setting."""
    if args.offload is not None:
        return args.offload == "on"
    return not testbed_link(args).startswith(("dpdk:", "xdp:"))


def testbed_rps(args, cpus):
    """--rps: (the peer's receive CPU, the bare end's): the CPUs the two
    ends are pinned to (--cpu, or 0 and 1: see rps_cpus); None without."""
    if not args.rps:
        return None
    server, client = cpus
    if server == client:
        raise ValueError("--rps: needs two CPUs, one per host (give --cpu SERVER,CLIENT "
                         "on a machine with two or more)")
    if max(server, client) >= (os.cpu_count() or 1):
        raise ValueError(f"--rps: this machine has {os.cpu_count()} CPU(s); "
                         f"it needs two, one per host")
    return server, client


def rps_cpus(args, cpus):
    """The CPUs of the two ends: --cpu's, or with --rps 0 for the server
    (the peer) and 1 for the client (the bare end), so that each host's
    processes run where its receive work does: unpinned, netchan's spin
    and the frames steered to its host's CPU met on different cores (rr
    over afpacket: p50 34-41 us against 19-23 without --rps)."""
    if args.rps and cpus == (None, None):
        return (0, 1)
    return cpus


def testbed_layout(args, testbed, rps=None) -> Layout:
    """rps: testbed_rps's answer, for the label."""
    from netchan.testbed import kernel_ip, netchan_ip
    uri = testbed_link(args)
    offload = "on" if testbed_offload(args) else "off"
    h1, h2 = Place(testbed, "h1"), Place(testbed, "h2")
    peer_uri = "afpacket:eth0"          # pps only: the receiving port in h2
    where = f", receive work h1 on CPU {rps[1]}, h2 on CPU {rps[0]}" if rps else ""
    return Layout(link=f"testbed veth (offloads {offload}{where}), {uri}", server_uri=peer_uri, client_uri=uri,
                  server_place=h2, client_place=h1,
                  server_ip=f"{kernel_ip(2)}/15", client_ip=f"{netchan_ip(1)}/15",
                  peer_addr=kernel_ip(2), server_stack="kernel",
                  kernel_server_addr=kernel_ip(2), kernel_client_ip=f"{kernel_ip(1)}/15",
                  kernel_label="kernel over the testbed veth", testbed=testbed)


def make_testbed(offload=True, cc=None, rps=None):
    """A fresh two-host testbed named after this process (removed by the
    caller with .down()). cc: the default congestion control of both
    namespaces (--kernel-cc). Each socket is set to it as well, but a
    namespace whose default stays bbr (inherited from this machine's
    sysctl) made one cubic iperf3 flow over the veth bimodal — 37–90
    Gbit/s with thousands of retransmissions and out-of-order arrivals —
    where a cubic default gave 76–79 with none (docs/benchmarks.md).
    rps: (h2's receive CPU, h1's) or None (--rps, Testbed.set_rps)."""
    from netchan.testbed import Testbed
    tb = Testbed(f"bench{os.getpid()}")
    try:
        tb.up(hosts=2, offload=offload, cc=cc)
        if rps is not None:
            tb.set_rps("h2", rps[0])
            tb.set_rps("h1", rps[1])
    except BaseException:
        tb.down()
        raise
    return tb
