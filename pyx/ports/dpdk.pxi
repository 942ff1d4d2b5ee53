# The DPDK port: a Port over an nc_port that lives in the cffi module.
#
# Its vtable functions (rx/tx burst over rte_eth_rx_burst/tx_burst, mbuf
# alloc/free) are compiled in netchan._dpdk (builders/dpdk/ncport.c) because
# DPDK's burst functions are static inline; netchan.dpdk.Device fills the
# nc_port and owns it. This object only holds the address, and holds the
# Device so that the memory behind the address outlives every call through it.
# The stack calls p.ops.* exactly as for any other port: one indirect call
# per burst, no GIL, no cffi on the way.


cdef class DpdkPort(Port):
    """A DPDK ethdev queue as a netchan port (see netchan.dpdk.open_port)."""
    cdef readonly object device

    def __init__(self, device, str uri):
        cdef uintptr_t addr = device.nc_port_address
        if addr == 0 or device.closed:
            raise ValueError(f"DPDK device {device!r} has no live port")
        self.device = device
        self.p = <nc_port *>addr
        self.uri = uri

    def _own_stats(self):
        cdef nc_port_stats *s = &self.p.stats
        d = {
            "port_rx_packets": s.rx_packets, "port_rx_bytes": s.rx_bytes,
            "port_tx_packets": s.tx_packets, "port_tx_bytes": s.tx_bytes,
            "port_rx_dropped": s.rx_dropped, "port_tx_dropped": s.tx_dropped,
            "port_alloc_failed": s.alloc_failed, "port_double_free": s.double_free,
        }
        d.update(self.device.counters())
        if not self.device.closed:
            info = self.device.pool_info()
            d["port_bufs_free"] = info["free"]
            d["port_bufs_total"] = info["count"]
            d["port_link_up"] = int(bool(self.p.ops.link_up(self.p)))
        return d

    def _close(self):
        # Retires the vtable first (every call returns at once from then on),
        # then stops and closes the ethdev and frees the pool. *p stays valid
        # (inert) until the Device is collected, which this object prevents.
        self.device.close()
