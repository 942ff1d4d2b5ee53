cdef uint32_t _ip_to_u32(object host) except? 0:
    try:
        return int(_ipaddress.IPv4Address(host))
    except (ValueError, TypeError):
        raise ValueError(f"{host!r} is not an IPv4 address (netchan does no name lookups)") from None


cdef str _u32_to_ip(uint32_t a):
    return str(_ipaddress.IPv4Address(a))


def _check_keepalive(value):
    """(idle, interval, count) in seconds -> (ns, ns, count), checked."""
    try:
        idle, interval, count = value
        idle, interval, count = float(idle), float(interval), int(count)
    except (TypeError, ValueError):
        raise ValueError(f"keepalive={value!r}: expected (idle seconds, interval seconds, "
                         f"probe count), e.g. (7200, 75, 9)") from None
    if idle <= 0 or interval <= 0 or not 1 <= count <= 255:
        raise ValueError(f"keepalive={value!r}: idle and interval must be > 0, count in 1..255")
    return int(idle * 1e9), int(interval * 1e9), count


cdef uint32_t _pow2_at_least(object n, str what) except 0:
    v = int(n)
    if v < 4096 or v > (1 << 30):
        raise ValueError(f"{what}={n}: must be between 4096 and 1 GiB")
    p = 4096
    while p < v:
        p <<= 1
    return p
