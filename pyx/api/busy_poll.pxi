# Busy polling: whether and how a blocking call spins before it sleeps
# (Stack._drive decides once per idle period, with the real clock only).
#
# Spinning pays when an answer is due: after the stack sent something its peer
# answers (a request, a SYN, data whose ACK frees the send window), the answer
# comes within microseconds and a sleep would add a wake-up to every exchange
# (afpacket rr: 35.8k round trips/s spinning, 14.3k sleeping). A stack that has
# not asked anything for a while sleeps at once (busy_poll_mode='answer'): a
# receiver's next frames come at the sender's pace whatever it does, and its
# spin slows that sender when it runs on the neighbouring core (a Linux sender
# over afpacket moved 16-17 Gbit/s to a spinning receiver, 19-21 to a sleeping
# one: docs/percore.md). "A while" is the answer window, not only the last
# idle period: a server that answered and closed is asked again within
# microseconds (the next SYN of connect-request-close: shm crr went from 72k to
# 38k connections/s when only the idle period right after a send spun).

cdef uint64_t BUSY_POLL_YIELD_AFTER_NS = 10000  # spin alone this long, then yield each round
cdef uint64_t ANSWER_WINDOW_SPINS = 20          # the answer window, in busy_poll spins (1 ms)


cdef inline bint answer_due(uint64_t asked, uint64_t now, uint64_t *asked_seen,
                            uint64_t *asked_at, uint64_t busy_poll_ns) noexcept nogil:
    """Whether an idle period starting `now` spins (busy_poll_mode='answer'):
    the stack asked its peer something (`asked`, stack_asked over the group,
    grew since `asked_seen`) within the answer window, in which an answer,
    or the next question of the same conversation, comes."""
    if asked != asked_seen[0]:
        asked_seen[0] = asked
        asked_at[0] = now
    return asked_at[0] != 0 and now - asked_at[0] < busy_poll_ns * ANSWER_WINDOW_SPINS


cdef inline uint64_t stack_asked(StackState *st) noexcept nogil:
    """A count that grows whenever the stack sends what its peer answers:
    payload bytes, a SYN or SYN-ACK, a UDP datagram."""
    return (st.ctr[C_TCP_DATA_OUT_BYTES] + st.ctr[C_TCP_ACTIVE_OPENS] +
            st.ctr[C_TCP_PASSIVE_OPENS] + st.ctr[C_TX_UDP])


cdef inline bint busy_poll_round(uint64_t idle_for, uint64_t budget) noexcept:
    """One round of a spin: False once `budget` ns of idleness have passed.
    Past the first microseconds it spins politely: a peer process (the client
    of a benchmark, the other stack of a pair) that shares this core runs
    instead, and the yield costs one system call when nobody else wants it."""
    if idle_for >= budget:
        return False
    if idle_for > BUSY_POLL_YIELD_AFTER_NS:
        with nogil:
            sysc.sched_yield()
    return True
