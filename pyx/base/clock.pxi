# Clocks. The stack never reads a clock inside protocol code: poll(now) is
# given the time. Production reads CLOCK_MONOTONIC once per poll; tests use a
# VirtualClock that only moves when told to (or when every stack it drives
# is idle and a blocking call jumps it to the next deadline).

cdef inline uint64_t mono_ns() noexcept nogil:
    cdef sysc.timespec ts
    sysc.clock_gettime(sysc.CLOCK_MONOTONIC, &ts)
    return <uint64_t>ts.tv_sec * 1000000000ULL + <uint64_t>ts.tv_nsec


def monotonic_ns():
    """CLOCK_MONOTONIC in nanoseconds: the clock a real-time Stack uses."""
    return mono_ns()


cdef class VirtualClock:
    """A clock for deterministic tests: time moves only by advance() or set(),
    or when a blocking call on an idle group of stacks jumps it to the next
    timer deadline. Share one VirtualClock between the two Stacks of a pair."""

    def __init__(self, uint64_t start_ns=1_000_000_000):
        # Start away from zero so "time 0" never looks like "never".
        self.now_ns = start_ns

    def now(self):
        return self.now_ns

    def advance(self, uint64_t ns):
        self.now_ns += ns
        return self.now_ns

    def set(self, uint64_t ns):
        if ns < self.now_ns:
            raise ValueError(f"a clock does not go back: {ns} < {self.now_ns}")
        self.now_ns = ns

    def __repr__(self):
        return f"VirtualClock(now_ns={self.now_ns})"
