# Build a port chain from a parsed URI (netchan.uri.PortSpec):
#   driver  ->  fault wrapper (if any fault parameter)  ->  pcap writer (if pcap=)
# The pcap writer is outermost, so it records what the stack sends and
# receives; faults happen between it and the wire.

def open_port(spec, mtu=None):
    """Open the driver named by spec and stack the wrappers it asks for.
    queue=K/N: a shm or pair link's queue K is its own link NAME.qK; an
    afpacket socket (also net_af_packet's, on dpdk:) takes only queue K's
    frames (netchan.steer)."""
    cdef Port port
    target = spec.target
    if spec.queue is not None and spec.kind in ("pair", "shm"):
        from netchan.steer import queue_target
        target = queue_target(target, *spec.queue)
    if spec.kind == "pair":
        port = open_pair(target, 1500 if mtu is None else int(mtu),
                         spec.link.get("nbufs", 4096), spec.link.get("windows"))
    elif spec.kind == "shm":
        port = open_shm(target, mtu, spec.link.get("nbufs"), spec.link.get("hugepages"),
                        spec.link.get("windows"))
    elif spec.kind == "afpacket":
        port = open_afpacket(spec.target, mtu, queue=spec.queue, **spec.link)
    elif spec.kind == "xdp":
        port = open_xdp(spec.target, mtu, **spec.link)
    elif spec.kind == "dpdk":
        from netchan import dpdk as _dpdk_control
        port = _dpdk_control.open_port(spec.target, mtu=mtu, uri=f"dpdk:{spec.target}",
                                       queue=spec.queue, **spec.link)
    else:
        raise ValueError(f"unknown port kind {spec.kind!r}")
    port.queue = spec.queue
    try:
        if spec.fault:
            port = FaultPort(port, **spec.fault)
        if spec.pcap:
            port = PcapPort(port, spec.pcap)
        port.queue = spec.queue
    except BaseException:
        port.close()
        raise
    return port
