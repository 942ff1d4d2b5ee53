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
