# The IPv6 half of the Python-facing wire shim (tests only): parse_frame's
# IPv6 branch and builders of IPv6 frames, over the same parse and emit
# functions the stack uses (pyx/wire/ipv6.pxi). IPv6 addresses are strings
# as ipaddress writes them ("2001:2::1").
#
#   parse_frame(...)["ip6"] = {..., "udp"/"tcp"/"icmp6"/"ndp": {...}}
#   build_ipv6_udp / build_ipv6_tcp / build_icmp6_echo / build_ndp -> bytes

cdef bytes _ip6_bytes(object ip, str what):
    try:
        return _wire_ipaddress.IPv6Address(ip).packed
    except (ValueError, TypeError):
        raise ValueError(f"{what}={ip!r}: expected an IPv6 address like 2001:2::1") from None


cdef str _ip6_str(const uint8_t *a):
    return str(_wire_ipaddress.IPv6Address(bytes(a[:16])))


cdef dict _parse_ipv6(dict out, uint8_t *p, uint32_t n, bint verify):
    cdef Ipv6Hdr ip
    cdef IcmpHdr ic
    cdef UdpHdr udp
    cdef TcpHdr th
    cdef NdpMsg nd
    cdef int rc = ipv6_parse(p, n, &ip)
    if rc != WIRE_OK and rc != ERR_IP6_FRAGMENT:
        raise WireError(WIRE_ERROR_NAMES[rc], out)
    d = out["ip6"] = {
        "tclass": ip.tclass, "flow": ip.flow, "hop_limit": ip.hop_limit, "proto": ip.proto,
        "src": _ip6_str(ip.src), "dst": _ip6_str(ip.dst), "n_ext": ip.n_ext,
        "payload_len": ip.payload_len, "total_len": ip.total_len,
    }
    if rc == ERR_IP6_FRAGMENT:
        d.update({"frag_off": ip.frag_off, "mf": bool(ip.more_frags), "ident": ip.frag_ident,
                  "unfrag_len": ip.unfrag_len})
        raise WireError(WIRE_ERROR_NAMES[rc], out)
    if ip.proto == IP_PROTO_UDP:
        rc = udp6_parse(ip.payload, ip.payload_len, ip.hdr, &udp, verify)
        if rc != WIRE_OK:
            raise WireError(WIRE_ERROR_NAMES[rc], out)
        d["udp"] = {"sport": udp.sport, "dport": udp.dport, "len": udp.length,
                    "checksum": rd16(ip.payload + 6),
                    "payload": (<char *>udp.payload)[:udp.payload_len]}
    elif ip.proto == IP_PROTO_TCP:
        rc = tcp6_parse(ip.payload, ip.payload_len, ip.hdr, &th, verify)
        if rc != WIRE_OK:
            raise WireError(WIRE_ERROR_NAMES[rc], out)
        d["tcp"] = {"sport": th.sport, "dport": th.dport, "seq": th.seq, "ack": th.ack,
                    "flags": th.flags, "window": th.window, "hdr_len": th.hdr_len,
                    "options": _tcp_options_dict(&th.opts), "checksum": rd16(ip.payload + 16),
                    "payload": (<char *>th.payload)[:th.payload_len]}
    elif ip.proto == IP_PROTO_ICMPV6:
        rc = icmp6_parse(ip.payload, ip.payload_len, ip.hdr, &ic, verify)
        if rc != WIRE_OK:
            raise WireError(WIRE_ERROR_NAMES[rc], out)
        d["icmp6"] = {"type": ic.type, "code": ic.code, "ident": ic.ident, "seq": ic.seq,
                      "rest": ic.rest, "checksum": rd16(ip.payload + 2),
                      "payload": (<char *>ic.body)[:ic.body_len]}
        if ic.type == ND_NEIGHBOR_SOLICIT or ic.type == ND_NEIGHBOR_ADVERT:
            rc = ndp_parse(&ip, &ic, &nd)
            if rc != WIRE_OK:
                raise WireError(WIRE_ERROR_NAMES[rc], out)
            d["ndp"] = {"type": nd.type, "flags": nd.flags, "target": _ip6_str(nd.target),
                        "lladdr": None if nd.lladdr == NULL else _mac_str(nd.lladdr)}
    return out


cdef bytearray _frame6(Py_ssize_t l4_len, str what):
    if l4_len > 0xffff:
        raise ValueError(f"{what}: an IPv6 payload of {l4_len} bytes (at most 65535)")
    return bytearray(ETH_HLEN + IPV6_HLEN + l4_len)


def build_ipv6_udp(src_mac, dst_mac, src_ip, dst_ip, int sport, int dport, payload=b"", *,
                   int hop_limit=64, int flow=0):
    """Ethernet + IPv6 + UDP with its checksum."""
    cdef bytes data = bytes(payload)
    cdef Py_ssize_t n = len(data)
    cdef bytes smac = _mac_bytes(src_mac, "src_mac"), dmac = _mac_bytes(dst_mac, "dst_mac")
    cdef bytes s6 = _ip6_bytes(src_ip, "src_ip"), d6 = _ip6_bytes(dst_ip, "dst_ip")
    cdef bytearray frame = _frame6(UDP_HLEN + n, "build_ipv6_udp")
    cdef uint8_t *p = <uint8_t *><char *>frame
    cdef uint8_t *iph = p + ETH_HLEN
    eth_write(p, _u8(dmac), _u8(smac), ETH_P_IPV6)
    ipv6_write(iph, _u8(s6), _u8(d6), IP_PROTO_UDP, <uint8_t>hop_limit, flow, UDP_HLEN + n)
    if n:
        memcpy(iph + IPV6_HLEN + UDP_HLEN, _u8(data), n)
    udp6_write(iph + IPV6_HLEN, <uint16_t>sport, <uint16_t>dport, n, iph)
    return bytes(frame)


def build_ipv6_tcp(src_mac, dst_mac, src_ip, dst_ip, int sport, int dport, uint32_t seq=0,
                   uint32_t ack=0, flags="S", int window=65535, options=None, payload=b"", *,
                   int hop_limit=64, int flow=0):
    """Ethernet + IPv6 + TCP with its checksum."""
    cdef TcpOptions o
    _tcp_options_from_dict(options, &o)
    cdef uint8_t fl = _tcp_flags(flags)
    cdef bytes data = bytes(payload)
    cdef Py_ssize_t n = len(data)
    cdef uint32_t hl = TCP_HLEN + tcp_options_len(&o)
    cdef bytes smac = _mac_bytes(src_mac, "src_mac"), dmac = _mac_bytes(dst_mac, "dst_mac")
    cdef bytes s6 = _ip6_bytes(src_ip, "src_ip"), d6 = _ip6_bytes(dst_ip, "dst_ip")
    cdef bytearray frame = _frame6(hl + n, "build_ipv6_tcp")
    cdef uint8_t *p = <uint8_t *><char *>frame
    cdef uint8_t *iph = p + ETH_HLEN
    cdef uint8_t *tcp = iph + IPV6_HLEN
    eth_write(p, _u8(dmac), _u8(smac), ETH_P_IPV6)
    ipv6_write(iph, _u8(s6), _u8(d6), IP_PROTO_TCP, <uint8_t>hop_limit, flow, hl + n)
    hl = tcp_write_header(tcp, <uint16_t>sport, <uint16_t>dport, seq, ack, fl,
                          <uint16_t>window, &o)
    if n:
        memcpy(tcp + hl, _u8(data), n)
    tcp6_fill_checksum(tcp, hl + n, iph)
    return bytes(frame)


def build_icmp6_echo(src_mac, dst_mac, src_ip, dst_ip, int ident, int seq, payload=b"", *,
                     bint reply=False, int hop_limit=64):
    """Ethernet + IPv6 + ICMPv6 echo request (or reply) with its checksum."""
    cdef bytes data = bytes(payload)
    cdef Py_ssize_t n = len(data)
    cdef bytes smac = _mac_bytes(src_mac, "src_mac"), dmac = _mac_bytes(dst_mac, "dst_mac")
    cdef bytes s6 = _ip6_bytes(src_ip, "src_ip"), d6 = _ip6_bytes(dst_ip, "dst_ip")
    cdef bytearray frame = _frame6(ICMP_HLEN + n, "build_icmp6_echo")
    cdef uint8_t *p = <uint8_t *><char *>frame
    cdef uint8_t *iph = p + ETH_HLEN
    cdef uint8_t *ic = iph + IPV6_HLEN
    eth_write(p, _u8(dmac), _u8(smac), ETH_P_IPV6)
    ipv6_write(iph, _u8(s6), _u8(d6), IP_PROTO_ICMPV6, <uint8_t>hop_limit, 0, ICMP_HLEN + n)
    icmp_write_header(ic, ICMP6_ECHO_REPLY if reply else ICMP6_ECHO_REQUEST, 0,
                      ((<uint32_t><uint16_t>ident) << 16) | <uint16_t>seq)
    if n:
        memcpy(ic + ICMP_HLEN, _u8(data), n)
    icmp6_fill_checksum(ic, ICMP_HLEN + n, iph)
    return bytes(frame)


def build_ndp(src_mac, dst_mac, src_ip, dst_ip, int type, target, lladdr=None, int flags=0):
    """Ethernet + IPv6 (hop limit 255) + an NS (135) or NA (136) for target,
    with a source/target link-layer address option when lladdr is given."""
    cdef bytes smac = _mac_bytes(src_mac, "src_mac"), dmac = _mac_bytes(dst_mac, "dst_mac")
    cdef bytes s6 = _ip6_bytes(src_ip, "src_ip"), d6 = _ip6_bytes(dst_ip, "dst_ip")
    cdef bytes t6 = _ip6_bytes(target, "target")
    cdef bytes ll = _mac_bytes(lladdr, "lladdr") if lladdr is not None else None
    cdef bytearray frame = _frame6(ND_MSG_LEN + 8, "build_ndp")
    cdef uint8_t *p = <uint8_t *><char *>frame
    cdef uint8_t *iph = p + ETH_HLEN
    cdef uint32_t n
    if type not in (ND_NEIGHBOR_SOLICIT, ND_NEIGHBOR_ADVERT):
        raise ValueError(f"type={type}: 135 (solicitation) or 136 (advertisement)")
    eth_write(p, _u8(dmac), _u8(smac), ETH_P_IPV6)
    n = ndp_write(iph + IPV6_HLEN, <uint8_t>type, <uint8_t>flags, _u8(t6),
                  ND_OPT_SOURCE_LLADDR if type == ND_NEIGHBOR_SOLICIT else ND_OPT_TARGET_LLADDR,
                  NULL if ll is None else _u8(ll))
    ipv6_write(iph, _u8(s6), _u8(d6), IP_PROTO_ICMPV6, ND_HOP_LIMIT, 0, n)
    icmp6_fill_checksum(iph + IPV6_HLEN, n, iph)
    return bytes(frame[:ETH_HLEN + IPV6_HLEN + n])
