# Closing the whole stack (Stack.close, leaving `with`, interpreter exit), as
# the kernel does after close() and process exit: every open connection gets
# a FIN after the data already queued, and the stack keeps running until
# those are acknowledged, bounded by the linger time; what is still
# unacknowledged then is reset. linger=0 resets at once (SO_LINGER 0).

cdef int _ECONNABORTED_CLOSE = _errno.ECONNABORTED


cdef void tcp_abort(StackState *st, Tcb *t) noexcept nogil:
    """A RST now and the connection over (its handle, if any, keeps its
    error and the data it had received)."""
    if t.state != SYN_SENT:
        tcp_send_rst(st, t)
    tcp_closed(st, t, _ECONNABORTED_CLOSE)


cdef bint tcp_queue_fin(StackState *st, Tcb *t) noexcept nogil:
    """Shut down writing: a FIN goes after the queued data. False when the
    state has no FIN to send (already sent, or not synchronized)."""
    if t.flags & TF_FIN_QUEUED:
        return False
    if t.state == ESTABLISHED or t.state == SYN_RECEIVED:
        t.flags |= TF_FIN_QUEUED
        tcp_set_state(st, t, FIN_WAIT_1)
    elif t.state == CLOSE_WAIT:
        t.flags |= TF_FIN_QUEUED
        tcp_set_state(st, t, LAST_ACK)
    else:
        return False
    tcp_schedule(st, t)
    return True


cdef void tcp_stack_closing(StackState *st, Tcb *t) noexcept nogil:
    """The stack is closing with a linger time: a graceful FIN for an open
    connection; a RST where the kernel would send one (received data nobody
    will read, RFC 2525 2.17; a connection no one accepted); nothing for one
    still opening (SYN_SENT), which simply ends."""
    if t.state == CLOSED or t.state == LISTEN or t.state == TIME_WAIT:
        return
    if t.state == SYN_SENT:
        tcp_closed(st, t, _ECONNABORTED_CLOSE)
    elif ((t.rcv.base != NULL and t.rcv.tail > t.rcv.head) or
            (t.flags & TF_PASSIVE and not (t.flags & (TF_ACCEPTED | TF_HANDLE)))):
        st.ctr[C_TCP_CLOSE_RESET] += 1
        tcp_abort(st, t)
    else:
        tcp_queue_fin(st, t)


cdef bint tcp_fin_unacked(const Tcb *t) noexcept nogil:
    """Data or a FIN of ours the peer has not acknowledged yet, after a close."""
    return (t.state == FIN_WAIT_1 or t.state == CLOSING or t.state == LAST_ACK or
            ((t.state == ESTABLISHED or t.state == CLOSE_WAIT) and t.flags & TF_FIN_QUEUED))
