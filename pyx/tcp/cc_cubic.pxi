# CUBIC (RFC 9438): the window follows a cubic in time since the last loss,
# never slower than Reno's estimate. Its formulas are in segments, converted
# to bytes at the edges.

from libc.math cimport cbrt

cdef double CUBIC_C = 0.4           # RFC 9438 4.1: scaling constant (segments / s^3)
cdef double CUBIC_BETA = 0.7        # RFC 9438 4.6: multiplicative decrease


cdef void cubic_on_congestion(StackState *st, Tcb *t) noexcept nogil:
    """Set ssthresh and remember what CUBIC needs to grow back."""
    cdef double w = <double>t.cwnd
    # RFC 9438 4.7 fast convergence: give up bandwidth faster when the
    # last reduction came before reaching the previous maximum.
    if w < t.cubic_wmax:
        t.cubic_wmax = w * (1.0 + CUBIC_BETA) / 2.0
    else:
        t.cubic_wmax = w
    t.ssthresh = <uint32_t>(w * CUBIC_BETA)
    if t.ssthresh < 2 * t.mss:
        t.ssthresh = 2 * t.mss
    t.cubic_epoch = 0


cdef void cubic_on_ack_ca(StackState *st, Tcb *t, uint32_t acked) noexcept nogil:
    cdef double seg = <double>t.mss, t_s, target, w_est_inc, k
    cdef uint32_t inc
    if t.cubic_epoch == 0:
        # RFC 9438 4.2: a new congestion-avoidance epoch starts now
        t.cubic_epoch = st.now
        if t.cwnd < t.cubic_wmax:
            t.ccx.cubic.k = cbrt((t.cubic_wmax - t.cwnd) / seg / CUBIC_C)
            t.ccx.cubic.origin = t.cubic_wmax
        else:
            t.ccx.cubic.k = 0.0
            t.ccx.cubic.origin = t.cwnd
        t.ccx.cubic.west = t.cwnd
    t_s = <double>(st.now - t.cubic_epoch) / 1e9 + <double>t.srtt / 1e9
    k = t_s - t.ccx.cubic.k
    target = t.ccx.cubic.origin + CUBIC_C * k * k * k * seg
    # RFC 9438 4.3: the target stays within [cwnd, 1.5 cwnd]
    if target < t.cwnd:
        target = t.cwnd
    elif target > 1.5 * t.cwnd:
        target = 1.5 * t.cwnd
    # RFC 9438 4.3 Reno-friendly estimate: alpha = 3(1-beta)/(1+beta)
    # segments per RTT until W_est reaches W_max, then 1.
    if t.ccx.cubic.west < t.cubic_wmax:
        w_est_inc = 3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA)
    else:
        w_est_inc = 1.0
    t.ccx.cubic.west += w_est_inc * seg * acked / t.cwnd
    if t.ccx.cubic.west > target:
        # Reno-friendly region
        inc = <uint32_t>(t.ccx.cubic.west - t.cwnd) if t.ccx.cubic.west > t.cwnd else 0
    else:
        inc = <uint32_t>((target - t.cwnd) * acked / t.cwnd)
    t.cwnd += inc
