# A Python-facing shim over pyx/wire/, for tests and tools only (NOT the hot
# path: it allocates, builds dicts and raises). It calls the very same
# `noexcept nogil` parse and emit functions the stack uses, so that tests can
# check them against an independent reference (scapy) in both directions.
#
#   parse_frame(frame, verify_checksums=True) -> dict, or raises WireError
#   build_arp / build_ipv4_udp / build_ipv4_tcp / build_icmp_echo -> bytes
#
# Addresses are strings: MACs "02:00:00:00:00:01", IPv4 dotted quads.
# TCP options are a dict holding only the options present:
#   {"mss": int, "wscale": int, "sack_perm": True, "ts_val": int,
#    "ts_ecr": int, "sack": [(left, right), ...]}

import ipaddress as _wire_ipaddress


class WireError(ValueError):
    """A frame the wire parser refuses. `reason` is the stack's counter name
    (an entry of WIRE_ERROR_NAMES); `layers` holds what was parsed before the
    refusal (for rx_ip_fragment it includes the whole IP header)."""

    def __init__(self, reason, layers):
        super().__init__(f"{reason}: the wire parser refuses this frame")
        self.reason = reason
        self.layers = layers


cdef str _mac_str(const uint8_t *m):
    return ":".join(f"{m[i]:02x}" for i in range(6))


cdef bytes _mac_bytes(object mac, str what):
    if isinstance(mac, (bytes, bytearray)):
        b = bytes(mac)
    else:
        try:
            b = bytes.fromhex(str(mac).replace(":", "").replace("-", ""))
        except ValueError:
            b = b""
    if len(b) != 6:
        raise ValueError(f"{what}={mac!r}: expected a MAC address like 02:00:00:00:00:01")
    return b


cdef uint32_t _ip_u32(object ip, str what) except? 0xffffffff:
    try:
        return int(_wire_ipaddress.IPv4Address(ip))
    except (ValueError, TypeError):
        raise ValueError(f"{what}={ip!r}: expected an IPv4 address like 198.18.0.1") from None


cdef inline const uint8_t *_u8(bytes b):
    return <const uint8_t *><const char *>b


cdef str _ip_str(uint32_t v):
    return str(_wire_ipaddress.IPv4Address(v))


_TCP_FLAG_LETTERS = "FSRPAUEC"      # bit 0 .. bit 7, as scapy writes them


cdef uint8_t _tcp_flags(object flags) except? 0xff:
    if isinstance(flags, str):
        v = 0
        for ch in flags:
            i = _TCP_FLAG_LETTERS.find(ch)
            if i < 0:
                raise ValueError(f"flags={flags!r}: letters must be from {_TCP_FLAG_LETTERS}")
            v |= 1 << i
        return v
    v = int(flags)
    if not 0 <= v <= 0xff:
        raise ValueError(f"flags={flags!r}: must fit in 8 bits")
    return v


cdef dict _tcp_options_dict(const TcpOptions *o):
    d = {}
    if o.present & OPT_MSS:
        d["mss"] = o.mss
    if o.present & OPT_WSCALE:
        d["wscale"] = o.wscale
    if o.present & OPT_SACK_PERM:
        d["sack_perm"] = True
    if o.present & OPT_TIMESTAMP:
        d["ts_val"] = o.ts_val
        d["ts_ecr"] = o.ts_ecr
    if o.present & OPT_SACK:
        d["sack"] = [(o.sack_left[k], o.sack_right[k]) for k in range(o.sack_count)]
    return d


cdef int _tcp_options_from_dict(object options, TcpOptions *o) except -1:
    memset(o, 0, sizeof(TcpOptions))
    if not options:
        return 0
    unknown = set(options) - {"mss", "wscale", "sack_perm", "ts_val", "ts_ecr", "sack"}
    if unknown:
        raise ValueError(f"unknown TCP options {sorted(unknown)}")
    if "mss" in options:
        o.present |= OPT_MSS
        o.mss = options["mss"]
    if "wscale" in options:
        o.present |= OPT_WSCALE
        o.wscale = options["wscale"]
    if options.get("sack_perm"):
        o.present |= OPT_SACK_PERM
    if ("ts_val" in options) != ("ts_ecr" in options):
        raise ValueError("TCP timestamps need both ts_val and ts_ecr")
    if "ts_val" in options:
        o.present |= OPT_TIMESTAMP
        o.ts_val = options["ts_val"]
        o.ts_ecr = options["ts_ecr"]
    blocks = options.get("sack")
    if blocks:
        if len(blocks) > TCP_MAX_SACK:
            raise ValueError(f"at most {TCP_MAX_SACK} SACK blocks, not {len(blocks)}")
        o.present |= OPT_SACK
        for k, (left, right) in enumerate(blocks):
            o.sack_left[k] = left
            o.sack_right[k] = right
        o.sack_count = len(blocks)
    return 0


def tcp_options_length(options):
    """Bytes of options build_ipv4_tcp writes for `options` (<= 40); SACK
    blocks that do not fit beside the others are left out."""
    cdef TcpOptions o
    _tcp_options_from_dict(options, &o)
    return tcp_options_len(&o)


def parse_frame(frame, bint verify_checksums=True):
    """Parse an Ethernet frame the way the stack's classifier does.

    Returns {"eth": {...}, then "arp" or "ip" and, under "ip", one of
    "tcp" / "udp" / "icmp" (none for another protocol)}. Raises WireError
    (a ValueError) whose `reason` is the counter the stack would bump."""
    cdef bytearray copy = bytearray(frame)
    copy.append(0)                    # never a zero-length buffer to point at
    cdef uint8_t *p = <uint8_t *><char *>copy
    cdef uint32_t n = len(copy) - 1
    cdef EthHdr eth
    cdef ArpPkt arp
    cdef Ipv4Hdr ip
    cdef IcmpHdr icmp
    cdef UdpHdr udp
    cdef TcpHdr th
    cdef int rc
    out = {}
    rc = eth_parse(p, n, &eth)
    if rc != WIRE_OK:
        raise WireError(WIRE_ERROR_NAMES[rc], out)
    out["eth"] = {"dst": _mac_str(eth.dst), "src": _mac_str(eth.src), "type": eth.ethertype}
    if eth.ethertype == ETH_P_ARP:
        rc = arp_parse(eth.payload, eth.payload_len, &arp)
        if rc != WIRE_OK:
            raise WireError(WIRE_ERROR_NAMES[rc], out)
        out["arp"] = {"op": arp.oper, "sha": _mac_str(arp.sha), "spa": _ip_str(arp.spa),
                      "tha": _mac_str(arp.tha), "tpa": _ip_str(arp.tpa)}
        return out
    if eth.ethertype == ETH_P_IPV6:
        return _parse_ipv6(out, eth.payload, eth.payload_len, verify_checksums)
    if eth.ethertype != ETH_P_IPV4:
        raise WireError(WIRE_ERROR_NAMES[ERR_ETH_TYPE], out)
    rc = ipv4_parse(eth.payload, eth.payload_len, &ip, verify_checksums)
    if rc != WIRE_OK and rc != ERR_IP_FRAGMENT:
        raise WireError(WIRE_ERROR_NAMES[rc], out)
    out["ip"] = {
        "hdr_len": ip.hdr_len, "total_len": ip.total_len, "tos": ip.tos, "ttl": ip.ttl,
        "proto": ip.proto, "ident": ip.ident, "df": bool(ip.dont_frag),
        "mf": bool(ip.more_frags), "frag_off": ip.frag_off,
        "src": _ip_str(ip.src), "dst": _ip_str(ip.dst),
        "options": (<char *>ip.hdr)[IPV4_HLEN:ip.hdr_len],
        "checksum": rd16(ip.hdr + 10), "payload_len": ip.payload_len,
    }
    if rc == ERR_IP_FRAGMENT:
        raise WireError(WIRE_ERROR_NAMES[rc], out)
    if ip.proto == IP_PROTO_TCP:
        rc = tcp_parse(ip.payload, ip.payload_len, ip.hdr, &th, verify_checksums)
        if rc != WIRE_OK:
            raise WireError(WIRE_ERROR_NAMES[rc], out)
        out["tcp"] = {
            "sport": th.sport, "dport": th.dport, "seq": th.seq, "ack": th.ack,
            "flags": th.flags, "window": th.window, "urgent": th.urgent,
            "hdr_len": th.hdr_len, "options": _tcp_options_dict(&th.opts),
            "checksum": rd16(ip.payload + 16),
            "payload": (<char *>th.payload)[:th.payload_len],
        }
    elif ip.proto == IP_PROTO_UDP:
        rc = udp_parse(ip.payload, ip.payload_len, ip.hdr, &udp, verify_checksums)
        if rc != WIRE_OK:
            raise WireError(WIRE_ERROR_NAMES[rc], out)
        out["udp"] = {
            "sport": udp.sport, "dport": udp.dport, "len": udp.length,
            "checksum": rd16(ip.payload + 6),
            "payload": (<char *>udp.payload)[:udp.payload_len],
        }
    elif ip.proto == IP_PROTO_ICMP:
        rc = icmp_parse(ip.payload, ip.payload_len, &icmp, verify_checksums)
        if rc != WIRE_OK:
            raise WireError(WIRE_ERROR_NAMES[rc], out)
        out["icmp"] = {
            "type": icmp.type, "code": icmp.code, "ident": icmp.ident, "seq": icmp.seq,
            "rest": icmp.rest, "checksum": rd16(ip.payload + 2),
            "payload": (<char *>icmp.body)[:icmp.body_len],
        }
    return out


cdef bytearray _frame_buffer(Py_ssize_t l4_len, str what):
    cdef Py_ssize_t ip_len = IPV4_HLEN + l4_len
    if ip_len > IPV4_MAX_LEN:
        raise ValueError(f"{what}: the IP packet would be {ip_len} bytes (at most {IPV4_MAX_LEN})")
    return bytearray(ETH_HLEN + ip_len)


def build_arp(int op, src_mac, src_ip, target_mac, target_ip, eth_dst=None):
    """An ARP frame padded to the 60-byte Ethernet minimum. eth_dst defaults
    to broadcast for a request (op 1) and to target_mac otherwise."""
    cdef bytes sha = _mac_bytes(src_mac, "src_mac")
    cdef bytes tha = _mac_bytes(target_mac, "target_mac")
    cdef bytes dst = _mac_bytes(eth_dst if eth_dst is not None else
                                (b"\xff" * 6 if op == ARP_OP_REQUEST else tha), "eth_dst")
    cdef uint32_t spa = _ip_u32(src_ip, "src_ip")
    cdef uint32_t tpa = _ip_u32(target_ip, "target_ip")
    if not 0 <= op <= 0xffff:
        raise ValueError(f"op={op}: must fit in 16 bits")
    cdef bytearray frame = bytearray(60)
    cdef uint8_t *p = <uint8_t *><char *>frame
    eth_write(p, _u8(dst), _u8(sha), ETH_P_ARP)
    arp_write(p + ETH_HLEN, <uint16_t>op, _u8(sha), spa, _u8(tha), tpa)
    return bytes(frame)


def build_ipv4_udp(src_mac, dst_mac, src_ip, dst_ip, int sport, int dport, payload=b"", *,
                   int ttl=64, int ident=0, bint dont_frag=True):
    """Ethernet + IPv4 + UDP with both checksums."""
    cdef const uint8_t[:] data = bytes(payload)
    cdef Py_ssize_t n = data.shape[0]
    cdef bytes smac = _mac_bytes(src_mac, "src_mac")
    cdef bytes dmac = _mac_bytes(dst_mac, "dst_mac")
    cdef uint32_t src = _ip_u32(src_ip, "src_ip")
    cdef uint32_t dst = _ip_u32(dst_ip, "dst_ip")
    cdef bytearray frame = _frame_buffer(UDP_HLEN + n, "build_ipv4_udp")
    cdef uint8_t *p = <uint8_t *><char *>frame
    cdef uint8_t *iph = p + ETH_HLEN
    eth_write(p, _u8(dmac), _u8(smac), ETH_P_IPV4)
    if n:
        memcpy(iph + IPV4_HLEN + UDP_HLEN, &data[0], n)
    ipv4_write(iph, src, dst, IP_PROTO_UDP, <uint8_t>ttl, <uint16_t>ident, UDP_HLEN + n, dont_frag)
    udp_write(iph + IPV4_HLEN, <uint16_t>sport, <uint16_t>dport, n, iph)
    return bytes(frame)


def build_ipv4_tcp(src_mac, dst_mac, src_ip, dst_ip, int sport, int dport, uint32_t seq=0,
                   uint32_t ack=0, flags="S", int window=65535, options=None, payload=b"", *,
                   int ttl=64, int ident=0, bint dont_frag=True):
    """Ethernet + IPv4 + TCP (options in Linux's layout) with both
    checksums. `flags` is an int or scapy-style letters ("SA", "PA")."""
    cdef TcpOptions o
    _tcp_options_from_dict(options, &o)
    cdef uint8_t fl = _tcp_flags(flags)
    cdef const uint8_t[:] data = bytes(payload)
    cdef Py_ssize_t n = data.shape[0]
    cdef uint32_t hl = TCP_HLEN + tcp_options_len(&o)
    cdef bytes smac = _mac_bytes(src_mac, "src_mac")
    cdef bytes dmac = _mac_bytes(dst_mac, "dst_mac")
    cdef uint32_t src = _ip_u32(src_ip, "src_ip")
    cdef uint32_t dst = _ip_u32(dst_ip, "dst_ip")
    cdef bytearray frame = _frame_buffer(hl + n, "build_ipv4_tcp")
    cdef uint8_t *p = <uint8_t *><char *>frame
    cdef uint8_t *iph = p + ETH_HLEN
    cdef uint8_t *tcp = iph + IPV4_HLEN
    eth_write(p, _u8(dmac), _u8(smac), ETH_P_IPV4)
    hl = tcp_write_header(tcp, <uint16_t>sport, <uint16_t>dport, seq, ack, fl,
                          <uint16_t>window, &o)
    if n:
        memcpy(tcp + hl, &data[0], n)
    ipv4_write(iph, src, dst, IP_PROTO_TCP, <uint8_t>ttl, <uint16_t>ident, hl + n, dont_frag)
    tcp_fill_checksum(tcp, hl + n, iph)
    return bytes(frame)


def build_icmp_echo(src_mac, dst_mac, src_ip, dst_ip, int ident, int seq, payload=b"", *,
                    bint reply=False, int ttl=64, int ip_ident=0):
    """Ethernet + IPv4 + ICMP echo request (or reply) with both checksums."""
    cdef const uint8_t[:] data = bytes(payload)
    cdef Py_ssize_t n = data.shape[0]
    cdef bytes smac = _mac_bytes(src_mac, "src_mac")
    cdef bytes dmac = _mac_bytes(dst_mac, "dst_mac")
    cdef uint32_t src = _ip_u32(src_ip, "src_ip")
    cdef uint32_t dst = _ip_u32(dst_ip, "dst_ip")
    cdef bytearray frame = _frame_buffer(ICMP_HLEN + n, "build_icmp_echo")
    cdef uint8_t *p = <uint8_t *><char *>frame
    cdef uint8_t *iph = p + ETH_HLEN
    cdef uint8_t *icmp = iph + IPV4_HLEN
    eth_write(p, _u8(dmac), _u8(smac), ETH_P_IPV4)
    icmp_write_header(icmp, ICMP_ECHO_REPLY if reply else ICMP_ECHO_REQUEST, 0,
                      ((<uint32_t><uint16_t>ident) << 16) | <uint16_t>seq)
    if n:
        memcpy(icmp + ICMP_HLEN, &data[0], n)
    icmp_fill_checksum(icmp, ICMP_HLEN + n)
    ipv4_write(iph, src, dst, IP_PROTO_ICMP, <uint8_t>ttl, <uint16_t>ip_ident, ICMP_HLEN + n, False)
    return bytes(frame)
