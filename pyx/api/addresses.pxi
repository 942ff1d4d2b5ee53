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


cdef object _set_addresses_v4(StackState *st, cfg):
    """Our IPv4 addresses and the default gateway into C (netchan.config
    checked them); st.ip stays the first (0 for an IPv6-only stack)."""
    ifaces = [_ipaddress.IPv4Interface(a) for a in cfg.ip4]
    if len(ifaces) > IP4_MAX_ADDRS:
        raise ValueError(f"ip=: at most {IP4_MAX_ADDRS} IPv4 addresses")
    for k, iface in enumerate(ifaces):
        st.v4.addr[k] = int(iface.ip)
        st.v4.mask[k] = int(iface.network.netmask)
    st.v4.n_addr = len(ifaces)
    st.v4.conflict_addr = -1
    st.ip = st.v4.addr[0] if ifaces else 0
    st.netmask = st.v4.mask[0] if ifaces else 0
    st.v4.gateway = int(_ipaddress.IPv4Address(cfg.gateway)) if cfg.gateway else 0


# ---- IPv6 -------------------------------------------------------------------

cdef object _set_addresses_v6(StackState *st, cfg):
    """Our IPv6 addresses into C (netchan.config checked them), with a
    link-local one made from the MAC (modified EUI-64, RFC 4291 2.5.1 and
    appendix A) unless one was given: neighbours on the link may use it.
    Each starts in DAD as dad= says (optimistic, tentative, or preferred)."""
    cdef bytes packed
    cdef Py_ssize_t k
    ifaces = [_ipaddress.IPv6Interface(a) for a in cfg.ip6]
    st.v6.dad_mode = {"optimistic": DAD_OPTIMISTIC, "wait": DAD_WAIT, "off": DAD_OFF}[cfg.dad]
    st.v6.dad_ns = cfg.dad_timeout_ns
    st.v6.slaac = cfg.slaac
    if (ifaces or cfg.slaac) and not any(i.ip.is_link_local for i in ifaces):
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
        st.v6.astate[k] = (ADDR_OPTIMISTIC if st.v6.dad_mode == DAD_OPTIMISTIC else
                           ADDR_TENTATIVE if st.v6.dad_mode == DAD_WAIT else ADDR_PREFERRED)
    st.v6.n_addr = len(ifaces)
    if ifaces and st.peers6 == NULL:
        # room for every connection and TIME_WAIT record to have its own
        # peer at half load, within the 24 bits a slot number may use
        n = 1 << (2 * (st.cfg.max_conns + st.tw_max) - 1).bit_length()
        if ip6_peers_init(st, min(n, 1 << 22)) != 0:
            raise MemoryError("cannot allocate the IPv6 peer table")


cdef list _addresses(StackState *st):
    """Every address with its prefix, IPv4 first: ["198.18.0.1/15", "2001:2::1/64", ...]
    (duplicate IPv6 ones left out: DAD found another owner)."""
    out = [str(_ipaddress.IPv4Interface((st.v4.addr[k], _u32_to_ip(st.v4.mask[k]))))
           for k in range(st.v4.n_addr)]
    for k in range(st.v6.n_addr):
        if st.v6.astate[k] == ADDR_DUPLICATE:
            continue
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


cdef bint _claim_probe(StackState *st, bint link_up):
    """Start claiming our addresses: DAD's clock starts now (RFC 4862 5.4);
    on a link that is up, join our solicited-node groups (MLD) and probe
    every address (ARP probes, DAD solicitations). False: link down."""
    for k in range(st.v6.n_addr):
        st.v6.dad_until[k] = st.now + st.v6.dad_ns
    if not link_up:
        return False
    mld_report(st, MLD2_CHANGE_TO_EXCLUDE, NULL)
    arp_probe_and_announce(st, False)
    ndp_dad_and_announce(st, False)
    tx_flush(st)
    return True


cdef object _claim_finish(StackState *st, str uri):
    """After the probes' wait: refuse to start (EADDRINUSE) when another
    host answered for one of our addresses; else announce them and start
    soliciting routers (the first solicitation goes now)."""
    if st.ctr[C_ARP_ADDRESS_CONFLICT]:
        mac = ":".join(f"{st.conflict_mac[i]:02x}" for i in range(6))
        taken = _u32_to_ip(st.v4.addr[st.v4.conflict_addr if st.v4.conflict_addr >= 0 else 0])
        raise _os_error(_errno.EADDRINUSE, f"{taken} is already in use on {uri} by the host "
                                           f"with MAC {mac}; give this stack another address")
    _check_dad(st, uri)
    arp_probe_and_announce(st, True)
    ndp_dad_and_announce(st, True)
    rs_start(st)
    router6_tick(st)
    tx_flush(st)


cdef tuple _connect_addresses(StackState *st, str host, str shown):
    """(laddr, raddr) as TCP keeps them for a connection to host (tcp/ip6.pxi):
    the source is picked as RFC 6724 says (ip4_source_for, ip6_source_for):
    of host's family, on its prefix (the longest in common), never a
    tentative or duplicate IPv6 address. A host off every prefix needs a
    gateway (IPv4) or a default router (IPv6): EHOSTUNREACH otherwise."""
    cdef bytes packed
    cdef uint32_t raddr
    cdef const uint8_t *src
    cdef int k
    a = _ipaddress.ip_address(host)
    if a.version == 4:
        if st.v4.n_addr == 0:
            raise _os_error(_errno.EHOSTUNREACH, f"{host}: {shown} has no IPv4 address "
                                                 f"(give one in ip=)")
        raddr = int(a)
        if not ip4_on_link(st, raddr) and st.v4.gateway == 0:
            raise _os_error(_errno.EHOSTUNREACH, f"{host} is not on {shown}'s network and "
                                                 f"there is no gateway (Stack(gateway=...))")
        return ip4_source_for(st, raddr), raddr
    packed = a.packed
    if st.v6.n_addr == 0:
        raise _os_error(_errno.EHOSTUNREACH, f"{host}: {shown} has no IPv6 address")
    if not ip6_on_link(st, <const uint8_t *><const char *>packed) and not _routes(st)["routers"]:
        nets = ", ".join(_addresses(st)[st.v4.n_addr:])
        raise _os_error(_errno.EHOSTUNREACH, f"{host} is on none of this stack's IPv6 prefixes "
                                             f"({nets}) and no router has advertised itself")
    src = ip6_source_for(st, <const uint8_t *><const char *>packed)
    k = ip6_addr_index(st, src)
    if k < 0 or not ip6_addr_usable(st, k):
        raise _os_error(_errno.EADDRNOTAVAIL, f"{host}: no usable IPv6 source address yet "
                                              f"(tentative until DAD ends, dad_timeout after "
                                              f"start; or duplicate)")
    raddr = ip6_peer_intern(st, <const uint8_t *><const char *>packed)
    if raddr == 0:
        raise _os_error(_errno.ENOBUFS, f"{host}: the IPv6 peer table is full "
                                        f"(ip6_peer_table_full); close connections")
    return k, raddr


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
        return ip4_addr_index(st, int(a)) >= 0
    return any(x.split("/")[0] == str(a) for x in _addresses(st)[st.v4.n_addr:])


cdef bytes _udp6_destination(StackState *st, str host):
    """The 16 bytes of an IPv6 destination (on one of our prefixes, or
    through a default router), or None for an IPv4 one (EHOSTUNREACH
    otherwise, or when the stack lacks that family)."""
    a = _ipaddress.ip_address(host)
    if a.version == 4:
        if st.v4.n_addr == 0:
            raise _os_error(_errno.EHOSTUNREACH, f"{host}: this stack has no IPv4 address")
        return None
    if st.v6.n_addr == 0:
        raise _os_error(_errno.EHOSTUNREACH, f"{host}: this stack has no IPv6 address")
    cdef bytes packed = a.packed
    if ip6_on_link(st, <const uint8_t *><const char *>packed) or _routes(st)["routers"]:
        return packed
    raise _os_error(_errno.EHOSTUNREACH, f"{host} is on none of this stack's IPv6 prefixes "
                                         f"and no router has advertised itself")


_ADDR_STATES = {ADDR_PREFERRED: "preferred", ADDR_OPTIMISTIC: "optimistic",
                ADDR_TENTATIVE: "tentative", ADDR_DUPLICATE: "duplicate"}


cdef str _address_state(StackState *st, object host):
    """"preferred" / "optimistic" / "tentative" / "duplicate" for one of our
    addresses (IPv4 ones are always "preferred")."""
    a = _ipaddress.ip_address(host)
    if a.version == 4:
        if ip4_addr_index(st, int(a)) < 0:
            raise ValueError(f"{host} is not one of this stack's addresses")
        return "preferred"
    for k in range(st.v6.n_addr):
        if bytes(st.v6.addr[16 * k:16 * k + 16]) == a.packed:
            return _ADDR_STATES[st.v6.astate[k]]
    raise ValueError(f"{host} is not one of this stack's addresses")


cdef dict _routes(StackState *st):
    """What the stack learned about reaching beyond the link: {"gateway":
    the IPv4 default gateway or None, "routers": [IPv6 default routers],
    "prefixes": ["2001:2:0:1::/64", ...] on-link from advertisements}."""
    now = st.now
    routers = [str(_ipaddress.IPv6Address(bytes(st.v6.routers[i].ip[:16])))
               for i in range(IP6_MAX_ROUTERS) if st.v6.routers[i].expires > now]
    prefixes = [str(_ipaddress.IPv6Network((bytes(st.v6.prefixes[i].prefix[:16]),
                                            st.v6.prefixes[i].plen), strict=False))
                for i in range(IP6_MAX_PREFIXES) if st.v6.prefixes[i].expires > now]
    return {"gateway": _u32_to_ip(st.v4.gateway) if st.v4.gateway else None,
            "routers": routers, "prefixes": prefixes}
