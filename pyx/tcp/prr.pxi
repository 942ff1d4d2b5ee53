# Proportional rate reduction (RFC 6937) and the rescue retransmission
# (RFC 6675 NextSeg rule 4), with recovery="rack" (the default): during SACK
# recovery the window is no longer set to ssthresh at once (RFC 6675, which
# sends nothing until the pipe has drained to ssthresh and then bursts) but
# follows what the peer reports delivered: while the pipe is above ssthresh,
# ssthresh/RecoverFS of every delivered byte may be sent (the reduction is
# spread over the round trip); below it, slow start back up to ssthresh, at
# most one MSS more than was delivered per ACK (PRR-SSRB).


cdef inline bint prr_on(const Tcb *t) noexcept nogil:
    return (t.rack_flags & RK_ON) != 0 and t.in_recovery == REC_SACK


cdef void prr_start(StackState *st, Tcb *t) noexcept nogil:
    """Recovery begins (after cc_on_congestion set ssthresh)."""
    t.prr_delivered = 0
    t.prr_out = 0
    t.prr_recover_fs = t.snd_max - t.snd_una
    t.rack_flags &= ~RK_RESCUED
    st.ctr[C_TCP_PRR_RECOVERIES] += 1


cdef void prr_on_ack(StackState *st, Tcb *t, uint32_t delivered) noexcept nogil:
    """RFC 6937 section 3, on every ACK during recovery: the window for
    what this ACK lets us send (cwnd = pipe + sndcnt)."""
    cdef uint32_t pipe = sack_pipe(st, t)
    cdef uint64_t want
    cdef int64_t sndcnt
    cdef uint32_t limit
    t.prr_delivered += delivered
    if pipe > t.ssthresh:
        # proportional: CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out
        want = (<uint64_t>t.prr_delivered * t.ssthresh + t.prr_recover_fs - 1) // \
            (t.prr_recover_fs if t.prr_recover_fs else 1)
        sndcnt = <int64_t>want - <int64_t>t.prr_out
    else:
        # slow-start reduction bound: back up to ssthresh, no faster than
        # one MSS beyond what was delivered
        limit = t.prr_delivered - t.prr_out if t.prr_delivered > t.prr_out else 0
        if limit < delivered:
            limit = delivered
        limit += t.mss
        sndcnt = t.ssthresh - pipe
        if sndcnt > limit:
            sndcnt = limit
    if sndcnt < 0:
        sndcnt = 0
    t.cwnd = pipe + <uint32_t>sndcnt


cdef inline void prr_sent(Tcb *t, uint32_t n) noexcept nogil:
    if t.in_recovery == REC_SACK:
        t.prr_out += n


cdef bint rescue_range(const Tcb *t, uint32_t *seq, uint32_t *length) noexcept nogil:
    """RFC 6675 NextSeg rule 4, once per recovery: the highest unSACKed
    segment not yet retransmitted, when rules 1-3 have nothing (a loss at
    the tail that too few SACKs follow to call it lost)."""
    cdef uint32_t top = t.snd_max - (1 if t.flags & TF_FIN_SENT else 0)
    cdef uint32_t low = t.snd_una
    cdef int i
    if t.rack_flags & RK_RESCUED or not (t.rack_flags & RK_ON):
        return False
    # the highest gap: above the last SACKed range, else below it
    i = t.sack_n - 1
    while i >= 0 and seq_geq(t.sack_r[i], top):
        top = t.sack_l[i]
        i -= 1
    if i >= 0:
        low = t.sack_r[i]
    if seq_lt(low, t.high_rxt):
        low = t.high_rxt
    if not seq_lt(low, top):
        return False
    seq[0] = top - t.mss if seq_lt(low, top - t.mss) else low
    length[0] = top - seq[0]
    return True
