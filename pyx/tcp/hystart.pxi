# HyStart++ (RFC 9406), Stack(hystart=True) (the default), with CUBIC, in
# the connection's first slow start only (ssthresh still unset; after a
# congestion event slow start is the plain one, RFC 9406 4.3). Per round
# trip (a round ends when what was sent at its start is acknowledged) it
# keeps the lowest RTT sample; once a round has 8 samples and its lowest
# exceeds the previous round's by max(4 ms, min(last / 8, 16 ms)), the
# queue is building: conservative slow start (CSS) grows a quarter as fast;
# an RTT back under the baseline was a false alarm (back to slow start);
# after 5 rounds of CSS, ssthresh = cwnd and congestion avoidance begins.
# The state lives in the space CUBIC's epoch takes later (Tcb.ccx).

cdef uint32_t HS_NONE = 0xFFFFFFFF
cdef uint32_t HS_MIN_RTT_THRESH_US = 4000
cdef uint32_t HS_MAX_RTT_THRESH_US = 16000
cdef uint32_t HS_MIN_RTT_DIVISOR = 8
cdef uint8_t HS_N_RTT_SAMPLE = 8
cdef uint32_t HS_CSS_GROWTH_DIVISOR = 4
cdef uint8_t HS_CSS_ROUNDS = 5


cdef void hystart_init(StackState *st, Tcb *t) noexcept nogil:
    t.ccx.hs.window_end = t.snd_max
    t.ccx.hs.last_min_us = HS_NONE
    t.ccx.hs.cur_min_us = HS_NONE
    t.ccx.hs.baseline_us = HS_NONE
    t.ccx.hs.samples = 0
    t.ccx.hs.css_rounds = 0
    t.ccx.hs.done = 0 if st.cfg.hystart else 1     # (active only while t.cc is CUBIC)


cdef inline bint hystart_active(const Tcb *t) noexcept nogil:
    return t.cc == CC_CUBIC and not t.ccx.hs.done and t.ssthresh == INITIAL_SSTHRESH


cdef void hystart_rtt_sample(Tcb *t, uint64_t r) noexcept nogil:
    cdef uint64_t us = r // 1000
    if not hystart_active(t):
        return
    if us < t.ccx.hs.cur_min_us:
        t.ccx.hs.cur_min_us = <uint32_t>us
    if t.ccx.hs.samples < 255:
        t.ccx.hs.samples += 1


cdef uint32_t hystart_slow_start(StackState *st, Tcb *t, uint32_t inc) noexcept nogil:
    """A slow-start ACK (cwnd < ssthresh) that would grow cwnd by inc:
    returns what HyStart++ allows (the ACK's SND.UNA is already applied)."""
    cdef uint32_t thresh
    if not hystart_active(t):
        return inc
    if seq_geq(t.snd_una, t.ccx.hs.window_end):
        # a round ended
        if t.ccx.hs.css_rounds:
            t.ccx.hs.css_rounds += 1
            if t.ccx.hs.css_rounds > HS_CSS_ROUNDS:
                t.ssthresh = t.cwnd             # on to congestion avoidance
                t.ccx.hs.done = 1
                st.ctr[C_TCP_HYSTART_EXITS] += 1
                return 0
        t.ccx.hs.last_min_us = t.ccx.hs.cur_min_us
        t.ccx.hs.cur_min_us = HS_NONE
        t.ccx.hs.samples = 0
        t.ccx.hs.window_end = t.snd_max
    if (t.ccx.hs.samples >= HS_N_RTT_SAMPLE and t.ccx.hs.cur_min_us != HS_NONE and
            t.ccx.hs.last_min_us != HS_NONE):
        if t.ccx.hs.css_rounds == 0:
            thresh = t.ccx.hs.last_min_us // HS_MIN_RTT_DIVISOR
            if thresh > HS_MAX_RTT_THRESH_US:
                thresh = HS_MAX_RTT_THRESH_US
            if thresh < HS_MIN_RTT_THRESH_US:
                thresh = HS_MIN_RTT_THRESH_US
            if t.ccx.hs.cur_min_us >= t.ccx.hs.last_min_us + thresh:
                t.ccx.hs.baseline_us = t.ccx.hs.cur_min_us
                t.ccx.hs.css_rounds = 1
                st.ctr[C_TCP_HYSTART_CSS] += 1
        elif t.ccx.hs.cur_min_us < t.ccx.hs.baseline_us:
            t.ccx.hs.css_rounds = 0             # the RTT came back: a false alarm
            t.ccx.hs.baseline_us = HS_NONE
            st.ctr[C_TCP_HYSTART_CSS_SPURIOUS] += 1
    if t.ccx.hs.css_rounds:
        inc = inc // HS_CSS_GROWTH_DIVISOR
        if inc == 0:
            inc = 1
    return inc
