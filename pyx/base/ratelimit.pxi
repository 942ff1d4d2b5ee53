# A per-second event budget (RFC 5961 7's challenge ACKs, ICMP errors): the
# window restarts a second after it began, not on a sliding average, which is
# what both RFC 5961 and RFC 1812 4.3.2.8 ask for.

cdef bint rate_allow(RateLimit *r, uint32_t limit, uint64_t now) noexcept nogil:
    """True, and one event counted, while this second's budget lasts."""
    if now - r.window_start >= 1000000000:
        r.window_start = now
        r.count = 0
    if r.count >= limit:
        return False
    r.count += 1
    return True
