# IPv4 fragments: reassembly of what arrives, fragmentation of what leaves,
# and the ICMP messages that belong to them (fragmentation needed -> PMTU,
# RFC 1191; port unreachable for UDP).
#
# Reassembly is bounded three ways: at most frag_max_datagrams datagrams at
# once (each a 64 KiB slot allocated when the stack starts), at most
# frag_max_bytes bytes held in all of them, and frag_timeout per datagram.
# Overlapping fragments are never merged: a datagram that gets one is
# dropped whole (as RFC 5722 requires for IPv6 and Linux does for IPv4).
# A bitmap of 8-byte units per datagram finds overlaps and holes.

cdef enum:
    REASM_MAX = 65535
    REASM_UNITS = 8192          # 8-byte units in a 64 KiB datagram


cdef int frag_init(StackState *st, uint32_t count) noexcept nogil:
    cdef uint32_t i
    st.frags = <FragDatagram *>calloc(count, sizeof(FragDatagram))
    if st.frags == NULL:
        return -1
    st.nfrags = count
    for i in range(count):
        st.frags[i].data = <uint8_t *>malloc(REASM_MAX)
        st.frags[i].units = <uint64_t *>calloc(REASM_UNITS // 64, 8)
        if st.frags[i].data == NULL or st.frags[i].units == NULL:
            return -1
    return 0


cdef void frag_destroy(StackState *st) noexcept nogil:
    cdef uint32_t i
    if st.frags == NULL:
        return
    for i in range(st.nfrags):
        free(st.frags[i].data)
        free(st.frags[i].units)
    free(st.frags)
    st.frags = NULL


cdef void frag_release(StackState *st, FragDatagram *f) noexcept nogil:
    """Free a datagram's slot: given up on, or delivered by the caller of
    ip_fragment_input."""
    st.frag_bytes -= f.received
    f.active = False
    memset(f.units, 0, REASM_UNITS // 8)
    st.frag_active -= 1


cdef void frag_expire(StackState *st) noexcept nogil:
    """Give up on datagrams whose time is over (called every poll)."""
    cdef uint32_t i
    if st.frag_active == 0:
        return
    for i in range(st.nfrags):
        if st.frags[i].active and st.frags[i].expires <= st.now:
            frag_release(st, &st.frags[i])
            st.ctr[C_IP_REASM_TIMEOUT] += 1


cdef inline bint frag_mark(FragDatagram *f, uint32_t first, uint32_t last) noexcept nogil:
    """Mark 8-byte units [first, last]; False if any was already held."""
    cdef uint32_t u
    for u in range(first, last + 1):
        if f.units[u >> 6] & (1ULL << (u & 63)):
            return False
    for u in range(first, last + 1):
        f.units[u >> 6] |= 1ULL << (u & 63)
    return True


cdef FragDatagram *ip_fragment_input(StackState *st, const Ipv4Hdr *ip,
                                     const uint8_t *src_mac) noexcept nogil:
    """One fragment (the classifier saw MF or an offset). The buffer stays
    the caller's: the bytes are copied into the datagram's slot. Returns the
    datagram once it is whole (the caller delivers it, then frag_release),
    else NULL."""
    cdef FragDatagram *f = NULL
    cdef FragDatagram *free_slot = NULL
    cdef uint32_t i, off = ip.frag_off, n = ip.payload_len, end
    st.ctr[C_IP_FRAGS_IN] += 1
    frag_expire(st)
    for i in range(st.nfrags):
        if st.frags[i].active:
            if (not st.frags[i].v6 and st.frags[i].ident == ip.ident and st.frags[i].src == ip.src and
                    st.frags[i].dst == ip.dst and st.frags[i].proto == ip.proto):
                f = &st.frags[i]
                break
        elif free_slot == NULL:
            free_slot = &st.frags[i]
    end = off + n
    if f == NULL:
        if free_slot == NULL or n == 0:
            st.ctr[C_IP_REASM_DROPPED] += 1
            return NULL
        f = free_slot
        f.active = True
        f.v6 = False
        f.proto = ip.proto
        f.ident = ip.ident
        f.src = ip.src
        f.dst = ip.dst
        f.total = 0
        f.received = 0
        f.expires = st.now + st.cfg.frag_timeout_ns
        memcpy(f.src_mac, src_mac, 6)
        memcpy(f.ip_hdr, ip.hdr, 20)
        st.frag_active += 1
    # a fragment that is not the last must carry a multiple of 8 bytes, and
    # nothing may reach past 64 KiB
    if end + IPV4_HLEN > REASM_MAX or (ip.more_frags and (n & 7)) or n == 0 or \
            (f.total and (end > f.total or (not ip.more_frags and end != f.total))) or \
            st.frag_bytes + n > st.cfg.frag_max_bytes:
        st.ctr[C_IP_REASM_DROPPED] += 1
        frag_release(st, f)
        return NULL
    if not frag_mark(f, off >> 3, (end - 1) >> 3):
        st.ctr[C_IP_REASM_OVERLAP] += 1
        frag_release(st, f)
        return NULL
    memcpy(f.data + off, ip.payload, n)
    f.received += n
    st.frag_bytes += n
    if not ip.more_frags:
        f.total = end
    if off == 0:
        memcpy(f.ip_hdr, ip.hdr, 20)
    if f.total and f.received == f.total:
        st.ctr[C_IP_REASSEMBLED] += 1
        # the header of the whole datagram: its total length is what we rebuilt
        wr16(f.ip_hdr + 2, <uint16_t>(IPV4_HLEN + f.total))
        wr16(f.ip_hdr + 6, 0)
        return f
    return NULL
