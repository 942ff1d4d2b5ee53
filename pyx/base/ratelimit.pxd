cdef struct RateLimit:          # a budget of events per one-second window
    uint64_t window_start
    uint32_t count

cdef bint rate_allow(RateLimit *r, uint32_t limit, uint64_t now) noexcept nogil
