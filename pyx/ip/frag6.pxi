# IPv6 reassembly (RFC 8200 4.5): fragments share IPv4's pool of datagram
# slots and its bounds (frag_max_datagrams, frag_max_bytes, frag_timeout);
# a datagram is keyed by source, destination and the 32-bit identification.
# Overlapping fragments drop the whole datagram (RFC 5722), as do a
# non-final fragment whose length is not a multiple of 8 and one reaching
# past 64 KiB. The reassembled packet keeps the fixed header only (any
# extension header before the fragment header is left out).

cdef FragDatagram *ip6_fragment_input(StackState *st, const Ipv6Hdr *ip,
                                      const uint8_t *src_mac) noexcept nogil:
    """One fragment (ipv6_parse returned ERR_IP6_FRAGMENT). Its bytes are
    copied; returns the datagram once whole (the caller delivers it, then
    frag_release), else NULL."""
    cdef FragDatagram *f = NULL
    cdef FragDatagram *free_slot = NULL
    cdef uint32_t i, off = ip.frag_off, n = ip.payload_len, end
    st.ctr[C_IP6_FRAGS_IN] += 1
    frag_expire(st)
    for i in range(st.nfrags):
        if st.frags[i].active:
            if (st.frags[i].v6 and st.frags[i].ident6 == ip.frag_ident and
                    memcmp(st.frags[i].ip_hdr + 8, ip.src, 16) == 0 and
                    memcmp(st.frags[i].ip_hdr + 24, ip.dst, 16) == 0):
                f = &st.frags[i]
                break
        elif free_slot == NULL:
            free_slot = &st.frags[i]
    end = off + n
    if f == NULL:
        if free_slot == NULL or n == 0:
            st.ctr[C_IP6_REASM_DROPPED] += 1
            return NULL
        f = free_slot
        f.active = True
        f.v6 = True
        f.ident6 = ip.frag_ident
        f.proto = ip.proto
        f.total = 0
        f.received = 0
        f.expires = st.now + st.cfg.frag_timeout_ns
        memcpy(f.src_mac, src_mac, 6)
        memcpy(f.ip_hdr, ip.hdr, IPV6_HLEN)
        st.frag_active += 1
    if end > REASM_MAX or (ip.more_frags and (n & 7)) or n == 0 or \
            (f.total and (end > f.total or (not ip.more_frags and end != f.total))) or \
            st.frag_bytes + n > st.cfg.frag_max_bytes or not frag_mark(f, off >> 3, (end - 1) >> 3):
        st.ctr[C_IP6_REASM_DROPPED] += 1
        frag_release(st, f)
        return NULL
    memcpy(f.data + off, ip.payload, n)
    f.received += n
    st.frag_bytes += n
    if not ip.more_frags:
        f.total = end
    if off == 0:
        f.proto = ip.proto              # the first fragment's next header counts
    if f.total and f.received == f.total:
        st.ctr[C_IP6_REASSEMBLED] += 1
        wr16(f.ip_hdr + 4, <uint16_t>f.total)
        f.ip_hdr[6] = f.proto
        return f
    return NULL
