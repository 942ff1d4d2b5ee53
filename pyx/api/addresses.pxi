# Addresses between Python and C: dotted IPv4 strings and host-order uint32.
# Checking what a user passed (a (host, port) tuple, a prefix) is
# netchan.config's job; these only convert.

cdef uint32_t _ip_to_u32(object host) except? 0:
    try:
        return int(_ipaddress.IPv4Address(host))
    except (ValueError, TypeError):
        raise ValueError(f"{host!r} is not an IPv4 address (netchan does no name lookups)") from None


cdef str _u32_to_ip(uint32_t a):
    return str(_ipaddress.IPv4Address(a))


# ---- IPv6 -------------------------------------------------------------------

cdef object _set_addresses_v6(StackState *st, tuple ip6):
    """Our IPv6 addresses into C (netchan.config checked them), with a
    link-local one made from the MAC (modified EUI-64, RFC 4291 2.5.1 and
    appendix A) unless one was given: neighbours on the link may use it."""
    cdef bytes packed
    cdef Py_ssize_t k
    ifaces = [_ipaddress.IPv6Interface(a) for a in ip6]
    if ifaces and not any(i.ip.is_link_local for i in ifaces):
        m = bytes(st.mac[:6])
        iid = bytes([m[0] ^ 2, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]])
        ifaces.append(_ipaddress.IPv6Interface(
            f"{_ipaddress.IPv6Address(b'\xfe\x80' + bytes(6) + iid)}/64"))
    if len(ifaces) > IP6_MAX_ADDRS:
        raise ValueError(f"ip=: at most {IP6_MAX_ADDRS} IPv6 addresses with the link-local one")
    for k in range(len(ifaces)):
        iface = ifaces[k]
        packed = iface.ip.packed
        memcpy(st.v6.addr + 16 * k, <const char *>packed, 16)
        st.v6.plen[k] = iface.network.prefixlen
    st.v6.n_addr = len(ifaces)
    if ifaces and st.peers6 == NULL:
        # room for every connection and TIME_WAIT record to have its own
        # peer at half load, within the 24 bits a slot number may use
        n = 1 << (2 * (st.cfg.max_conns + st.tw_max) - 1).bit_length()
        if ip6_peers_init(st, min(n, 1 << 22)) != 0:
            raise MemoryError("cannot allocate the IPv6 peer table")


cdef list _addresses(StackState *st):
    """Every address with its prefix, IPv4 first: ["198.18.0.1/15", "2001:2::1/64", ...]."""
    out = [str(_ipaddress.IPv4Interface((st.ip, _u32_to_ip(st.netmask))))]
    for k in range(st.v6.n_addr):
        out.append(f"{_ipaddress.IPv6Address(bytes(st.v6.addr[16 * k:16 * k + 16]))}"
                   f"/{st.v6.plen[k]}")
    return out


cdef dict _neighbours(StackState *st):
    """{address: mac} of resolved neighbours, IPv4 (ARP) and IPv6 (NDP)."""
    out = {}
    for i in range(ARP_TABLE_SIZE):
        if st.arp[i].state == ARP_REACHABLE:
            out[_u32_to_ip(st.arp[i].ip)] = ":".join(f"{st.arp[i].mac[k]:02x}" for k in range(6))
    for i in range(ND_TABLE_SIZE):
        if st.v6.nd[i].state == ARP_REACHABLE:
            out[str(_ipaddress.IPv6Address(bytes(st.v6.nd[i].ip[:16])))] = ":".join(
                f"{st.v6.nd[i].mac[k]:02x}" for k in range(6))
    return out


cdef object _check_dad(StackState *st, str uri):
    """Refuse to start when duplicate address detection found another host
    with one of our IPv6 addresses (RFC 4862 5.4.5)."""
    if st.ctr[C_NDP_ADDRESS_CONFLICT] == 0:
        return
    k = st.v6.conflict_addr
    a = _ipaddress.IPv6Address(bytes(st.v6.addr[16 * k:16 * k + 16]))
    mac = ":".join(f"{st.v6.conflict_mac[i]:02x}" for i in range(6))
    raise _os_error(_errno.EADDRINUSE, f"{a} is already in use on {uri} by the host with MAC "
                                       f"{mac}; give this stack another address")


cdef tuple _connect_addresses(StackState *st, str host, str shown):
    """(laddr, raddr) as TCP keeps them for a connection to host (tcp/ip6.pxi):
    an IPv4 host on our network, or an IPv6 host on the prefix of one of our
    IPv6 addresses (its slot interned). EHOSTUNREACH otherwise: no routes."""
    cdef bytes packed
    cdef uint32_t raddr
    a = _ipaddress.ip_address(host)
    if a.version == 4:
        raddr = int(a)
        if (raddr & st.netmask) != (st.ip & st.netmask):
            raise _os_error(_errno.EHOSTUNREACH, f"{host} is not on {shown}'s network (no "
                                                 f"routes yet)")
        return st.ip, raddr
    for k in range(st.v6.n_addr):
        mine = _ipaddress.IPv6Interface((bytes(st.v6.addr[16 * k:16 * k + 16]), st.v6.plen[k]))
        if a in mine.network:
            packed = a.packed
            raddr = ip6_peer_intern(st, <const uint8_t *><const char *>packed)
            if raddr == 0:
                raise _os_error(_errno.ENOBUFS, f"{host}: the IPv6 peer table is full "
                                                f"(ip6_peer_table_full); close connections")
            return k, raddr
    nets = ", ".join(a_.split("/")[0] + "/" + a_.split("/")[1] for a_ in _addresses(st)[1:])
    raise _os_error(_errno.EHOSTUNREACH, f"{host} is on none of this stack's IPv6 prefixes "
                                         f"({nets or 'it has no IPv6 address'}; no routes yet)")


cdef tuple _tcp_endpoint(StackState *st, uint32_t addr, uint16_t port, uint32_t raddr,
                         bint remote):
    """A connection's end as the socket module gives it: (host, port) for
    IPv4, (host, port, flowinfo, scope_id) for IPv6."""
    if not addr_is_v6(raddr):
        return (_u32_to_ip(addr), port)
    cdef const uint8_t *a = ip6_peer_addr(st, raddr) if remote else ip6_addr(st, addr)
    return (str(_ipaddress.IPv6Address(bytes(a[:16]))), port, 0, 0)


cdef bint _is_our_address(StackState *st, object host) except -1:
    try:
        a = _ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{host!r} is not an IPv4 or IPv6 address (netchan does no name "
                         f"lookups)") from None
    if a.version == 4:
        return int(a) == st.ip
    return any(x.split("/")[0] == str(a) for x in _addresses(st)[1:])


cdef bytes _udp6_destination(StackState *st, str host):
    """The 16 bytes of an IPv6 destination on one of our prefixes, or None
    for an IPv4 one (EHOSTUNREACH off every prefix: no routes)."""
    a = _ipaddress.ip_address(host)
    if a.version == 4:
        return None
    for k in range(st.v6.n_addr):
        mine = _ipaddress.IPv6Interface((bytes(st.v6.addr[16 * k:16 * k + 16]), st.v6.plen[k]))
        if a in mine.network:
            return a.packed
    raise _os_error(_errno.EHOSTUNREACH, f"{host} is on none of this stack's IPv6 prefixes "
                                         f"(no routes yet)")
