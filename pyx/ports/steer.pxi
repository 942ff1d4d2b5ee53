# One stack per core on an AF_PACKET link: the socket of the stack owning
# queue k of n gets a classic BPF program (netchan.steer.afpacket_filter)
# that accepts only queue k's frames. Attached before bind(), so no frame
# of another queue is ever in its ring.

from netchan import steer as _steer


cdef inline uint32_t steer_queue(uint16_t port_a, uint16_t port_b, uint32_t n) noexcept nogil:
    """The queue of the flow between two ports (netchan.steer.steer_queue)."""
    return ((<uint32_t>(port_a ^ port_b) * <uint32_t>0x9e3779b1) >> 16) % n


cdef steer_attach_filter(int fd, uint32_t k, uint32_t n, str iface):
    cdef bytes code = _steer.pack_filter(_steer.afpacket_filter(k, n))
    cdef lpk.sock_fprog prog
    prog.len = <unsigned short>(len(code) // 8)
    prog.filter = <lpk.sock_filter *><const char *>code
    if lpk.setsockopt(fd, lpk.SOL_SOCKET, lpk.SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0:
        raise _os_error(sysc.errno, f"afpacket:{iface}?queue={k}/{n}: the kernel refused the "
                                    f"steering filter")
