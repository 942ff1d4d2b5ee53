# Build a port chain from a parsed URI (netchan.uri.PortSpec):
#   driver  ->  fault wrapper (if any fault parameter)  ->  pcap writer (if pcap=)
# The pcap writer is outermost, so it records what the stack sends and
# receives; faults happen between it and the wire.

def open_port(spec, mtu=None):
    """Open the driver named by spec and stack the wrappers it asks for."""
    cdef Port port
    if spec.kind == "pair":
        port = open_pair(spec.target, 1500 if mtu is None else int(mtu),
                         spec.link.get("nbufs", 4096))
    elif spec.kind == "shm":
        port = open_shm(spec.target, mtu, spec.link.get("nbufs"), spec.link.get("hugepages"))
    elif spec.kind == "afpacket":
        port = open_afpacket(spec.target, mtu, **spec.link)
    elif spec.kind == "dpdk":
        from netchan import dpdk as _dpdk_control
        port = _dpdk_control.open_port(spec.target, mtu=mtu, uri=f"dpdk:{spec.target}",
                                       **spec.link)
    else:
        raise ValueError(f"unknown port kind {spec.kind!r}")
    try:
        if spec.fault:
            port = FaultPort(port, **spec.fault)
        if spec.pcap:
            port = PcapPort(port, spec.pcap)
    except BaseException:
        port.close()
        raise
    return port
