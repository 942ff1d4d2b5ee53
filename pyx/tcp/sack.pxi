# Selective acknowledgements.
#
# Receiver (RFC 2018, RFC 2883): every ACK sent while data is held out of
# order carries SACK blocks — first the block holding the latest arrival,
# then the others — and a duplicate arrival is reported once as a D-SACK
# block in front of them.
#
# Sender (RFC 6675): a scoreboard of SACKed ranges (bounded at SACK_MAX; a
# range that does not fit is forgotten, which only makes the sender more
# conservative), IsLost, the pipe estimate and NextSeg. Ranges are in
# sequence space between snd_una and snd_max.


# ---- ranges: one merge for the receiver's out-of-order data and the sender's scoreboard ----

cdef uint32_t range_merge(const uint64_t *ls, const uint64_t *rs, uint32_t n, uint64_t l, uint64_t r,
                          uint64_t *out_l, uint64_t *out_r) noexcept nogil:
    """Merge [l, r) into the n sorted, disjoint ranges ls/rs, absorbing those
    it overlaps or touches; write the result, sorted, to out_l/out_r (room
    for n + 1) and return its length. One routine for tcp_ooo_add (stream
    offsets) and sack_insert (offsets from SND.UNA); each applies its own
    bound to the result."""
    cdef uint32_t i, k = 0
    cdef bint placed = False
    for i in range(n):
        if rs[i] < l:
            out_l[k] = ls[i]
            out_r[k] = rs[i]
            k += 1
        elif ls[i] > r:
            if not placed:
                out_l[k] = l
                out_r[k] = r
                k += 1
                placed = True
            out_l[k] = ls[i]
            out_r[k] = rs[i]
            k += 1
        else:
            # overlaps or touches: absorb into [l, r)
            if ls[i] < l:
                l = ls[i]
            if rs[i] > r:
                r = rs[i]
    if not placed:
        out_l[k] = l
        out_r[k] = r
        k += 1
    return k


# ---- receiver: blocks for our ACKs ----------------------------------------------------

cdef void tcp_sack_fill(const Tcb *t, TcpOptions *o) noexcept nogil:
    """Put the SACK blocks an ACK should carry into o (tcp_write_options
    keeps as many as fit beside the other options)."""
    cdef uint32_t n = 0, i
    cdef uint32_t base = t.irs + 1
    if t.dsack_pending:
        o.sack_left[n] = t.dsack_l
        o.sack_right[n] = t.dsack_r
        n += 1
    if t.ooo_n and t.last_ooo_end > t.last_ooo_start:
        o.sack_left[n] = base + <uint32_t>t.last_ooo_start
        o.sack_right[n] = base + <uint32_t>t.last_ooo_end
        n += 1
    i = 0
    while i < t.ooo_n and n < TCP_MAX_SACK:
        if not (t.ooo_start[i] == t.last_ooo_start and t.ooo_end[i] == t.last_ooo_end):
            o.sack_left[n] = base + <uint32_t>t.ooo_start[i]
            o.sack_right[n] = base + <uint32_t>t.ooo_end[i]
            n += 1
        i += 1
    if n:
        o.present |= OPT_SACK
        o.sack_count = <uint8_t>n


cdef uint32_t tcp_data_room(const Tcb *t) noexcept nogil:
    """The payload the next segment may carry: t.mss (which left room for
    the timestamp) less the SACK blocks it will carry (RFC 9293 3.7.1: the
    options count against the segment size). Without this, a sender that
    holds out-of-order data sent IP packets up to 28 bytes over the MTU."""
    cdef TcpOptions o
    if not (t.flags & TF_SACK_OK) or not (t.dsack_pending or t.ooo_n):
        return t.mss
    o.present = OPT_TIMESTAMP if t.flags & TF_TS_OK else 0
    o.sack_count = 0
    tcp_sack_fill(t, &o)
    return t.mss - tcp_sack_option_len(&o)


cdef void tcp_note_ooo_block(Tcb *t, uint64_t start, uint64_t end) noexcept nogil:
    """Remember the out-of-order range that now holds [start, end)."""
    cdef uint32_t i
    for i in range(t.ooo_n):
        if t.ooo_start[i] <= start and end <= t.ooo_end[i]:
            t.last_ooo_start = t.ooo_start[i]
            t.last_ooo_end = t.ooo_end[i]
            return


cdef inline void tcp_note_dsack(Tcb *t, uint32_t left, uint32_t right) noexcept nogil:
    t.dsack_l = left
    t.dsack_r = right
    t.dsack_pending = 1


# ---- sender: the scoreboard -----------------------------------------------------------

cdef void sack_trim(Tcb *t) noexcept nogil:
    """Drop what the cumulative ACK now covers."""
    cdef uint32_t i = 0, k = 0
    while i < t.sack_n:
        if seq_leq(t.sack_r[i], t.snd_una):
            i += 1
            continue
        t.sack_l[k] = seq_max(t.sack_l[i], t.snd_una)
        t.sack_r[k] = t.sack_r[i]
        k += 1
        i += 1
    t.sack_n = <uint8_t>k


cdef bint sack_insert(Tcb *t, uint32_t l, uint32_t r) noexcept nogil:
    """Merge [l, r) (snd_una <= l < r <= snd_max) into the scoreboard; True if
    it added SACKed bytes. Merged as offsets from SND.UNA (every range lies
    in [snd_una, snd_max), less than 2^31 wide, so offsets order as the
    sequence numbers do); past SACK_MAX ranges the highest are forgotten
    (conservative)."""
    cdef uint64_t ol[SACK_MAX + 1]
    cdef uint64_t orr[SACK_MAX + 1]
    cdef uint64_t nl[SACK_MAX + 1]
    cdef uint64_t nr[SACK_MAX + 1]
    cdef uint32_t i, n, before = 0, after = 0
    cdef uint32_t base = t.snd_una
    for i in range(t.sack_n):
        before += t.sack_r[i] - t.sack_l[i]
        ol[i] = <uint32_t>(t.sack_l[i] - base)
        orr[i] = <uint32_t>(t.sack_r[i] - base)
    n = range_merge(ol, orr, t.sack_n, <uint32_t>(l - base), <uint32_t>(r - base), nl, nr)
    if n > SACK_MAX:
        n = SACK_MAX
    for i in range(n):
        t.sack_l[i] = base + <uint32_t>nl[i]
        t.sack_r[i] = base + <uint32_t>nr[i]
        after += t.sack_r[i] - t.sack_l[i]
    t.sack_n = <uint8_t>n
    return after > before


cdef uint32_t sack_update(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil:
    """Take the SACK blocks of an ACK into the scoreboard. Returns how many
    newly SACKed bytes there were (D-SACK blocks and invalid blocks are
    ignored, RFC 2883 4 / RFC 6675 5)."""
    cdef uint32_t i, l, r, before = 0, after = 0
    if not (th.opts.present & OPT_SACK) or not (t.flags & TF_SACK_OK):
        return 0
    for i in range(t.sack_n):
        before += t.sack_r[i] - t.sack_l[i]
    for i in range(th.opts.sack_count):
        l = th.opts.sack_left[i]
        r = th.opts.sack_right[i]
        if not seq_lt(l, r):
            continue
        if i == 0 and (seq_leq(r, th.ack) or (th.opts.sack_count > 1 and
                seq_geq(l, th.opts.sack_left[1]) and seq_leq(r, th.opts.sack_right[1]))):
            rack_note_dsack(st, t, l, r)    # RFC 2883 4: a D-SACK comes first
            continue
        if seq_leq(r, th.ack) or seq_lt(l, t.snd_una):
            continue                # stale
        if seq_gt(r, t.snd_max):
            continue                # SACKs what was never sent: ignore
        sack_insert(t, l, r)
    for i in range(t.sack_n):
        after += t.sack_r[i] - t.sack_l[i]
    return after - before if after > before else 0


cdef inline uint32_t sack_highest(const Tcb *t) noexcept nogil:
    return t.sack_r[t.sack_n - 1] if t.sack_n else t.snd_una


cdef bint sack_is_lost(const StackState *st, const Tcb *t, uint32_t seq) noexcept nogil:
    """RFC 6675 IsLost: DupThresh discontiguous SACKed ranges above seq, or
    more than (DupThresh - 1) * SMSS SACKed bytes above it. With RACK: in a
    run RACK marked lost and not resent since (tcp/segring.pxi)."""
    cdef uint32_t i, ranges = 0, bytes_above = 0
    if rack_on(t):
        return seg_is_lost(st, t, seq)
    for i in range(t.sack_n):
        if seq_gt(t.sack_r[i], seq):
            ranges += 1
            bytes_above += t.sack_r[i] - seq_max(t.sack_l[i], seq)
    return ranges >= DUPTHRESH or bytes_above > (DUPTHRESH - 1) * <uint32_t>t.mss


cdef uint32_t sack_pipe(const StackState *st, const Tcb *t) noexcept nogil:
    """RFC 6675 SetPipe: bytes believed in the network. Each hole between
    SACKed ranges is lost or not as a whole (the SACKed bytes above every
    byte of a hole are the same); lost bytes count only once retransmitted.
    With RACK the runs it marked lost are left out until resent (a resent
    run is no longer marked)."""
    cdef uint32_t pipe = 0, a = t.snd_una, b, i, rx
    cdef bint rack = rack_on(t)
    for i in range(t.sack_n + 1):
        b = t.sack_l[i] if i < t.sack_n else t.snd_max
        if seq_lt(a, b):
            if rack:
                pipe += (b - a) - seg_lost_bytes(st, t, a, b)
            elif not sack_is_lost(st, t, a):
                pipe += b - a
            elif seq_gt(t.high_rxt, a):
                rx = seq_min(t.high_rxt, b)
                pipe += rx - a
        if i < t.sack_n:
            a = t.sack_r[i]
    return pipe


cdef bint sack_next_hole(const StackState *st, const Tcb *t, uint32_t *seq, uint32_t *length) noexcept nogil:
    """RFC 6675 NextSeg rule 1: the first lost, not yet retransmitted range
    below the highest SACKed byte. False if there is none. With RACK: the
    first run it marked lost (RFC 8985 6.3)."""
    cdef uint32_t a = t.snd_una, b, i, start
    if rack_on(t):
        return seg_next_lost(st, t, seq, length)
    for i in range(t.sack_n):
        b = t.sack_l[i]
        start = seq_max(a, t.high_rxt)
        if seq_lt(start, b) and sack_is_lost(st, t, start):
            seq[0] = start
            length[0] = b - start
            return True
        a = t.sack_r[i]
    return False


cdef bint sack_next_rule3(const Tcb *t, uint32_t *seq, uint32_t *length) noexcept nogil:
    """RFC 6675 NextSeg rule 3: a not-lost, unSACKed range above HighRxt that
    has SACKed data above it (used when no new data can be sent)."""
    cdef uint32_t a = t.snd_una, b, i, start
    for i in range(t.sack_n):
        b = t.sack_l[i]
        start = seq_max(a, t.high_rxt)
        if seq_lt(start, b):
            seq[0] = start
            length[0] = b - start
            return True
        a = t.sack_r[i]
    return False
