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
