# netchan's own AF_XDP port: a Port over an nc_port that lives in the cffi
# module netchan._xdp (builders/xdp/ncxsk.c), as DpdkPort does for DPDK.
#
# netchan.xdp.XskSocket builds the UMEM, the rings and the socket and owns
# the C memory; this object holds the address and the XskSocket, so the
# memory outlives every call through it. The stack calls p.ops.* as for any
# port: one indirect call per burst, no GIL, no cffi on the way. The wake-up
# fd is the XSK socket itself (readable when the rx ring holds frames).

ctypedef int (*xsk_rx_ready_fn)(nc_port *p) noexcept nogil


cdef class XdpPort(Port):
    """An AF_XDP socket on one rx queue of an interface (see netchan.xdp)."""
    cdef readonly object sock
    cdef xsk_rx_ready_fn rx_ready
    cdef int fd

    def __init__(self, sock, str uri):
        cdef uintptr_t addr = sock.nc_port_address
        if addr == 0:
            raise ValueError(f"AF_XDP socket {sock!r} has no live port")
        self.sock = sock
        self.p = <nc_port *>addr
        self.rx_ready = <xsk_rx_ready_fn><uintptr_t>sock.rx_ready_address
        self.fd = sock.info()["fd"]
        self.uri = uri

    def _own_stats(self):
        cdef nc_port_stats *s = &self.p.stats
        d = {
            "port_rx_packets": s.rx_packets, "port_rx_bytes": s.rx_bytes,
            "port_tx_packets": s.tx_packets, "port_tx_bytes": s.tx_bytes,
            "port_rx_dropped": s.rx_dropped, "port_tx_dropped": s.tx_dropped,
            "port_alloc_failed": s.alloc_failed, "port_double_free": s.double_free,
        }
        if not self.sock.closed:
            d.update(self.sock.counters())
        return d

    def problems(self):
        """What went wrong on this port so far, with what to do ([] if nothing)."""
        return self.sock.problems()

    @property
    def mode(self):
        """What the socket bound as: "zerocopy", "copy" (native XDP) or "skb"."""
        return self.sock.info()["mode"]

    cdef int _bell_fd(self) noexcept:
        return -1 if self.closed else self.fd

    cdef bint _arm(self, uint64_t wait_ns) except -1:
        return not self.rx_ready(self.p)

    def _close(self):
        self.fd = -1
        self.sock.close()


def open_xdp(str iface, mtu=None, **params):
    """An XdpPort on iface (xdp:IFACE; parameters as netchan.uri documents)."""
    from netchan import xdp as _xdp_control
    sock = _xdp_control.XskSocket(iface, mtu=mtu, **params)
    try:
        return XdpPort(sock, f"xdp:{iface}")
    except BaseException:
        sock.close()
        raise
