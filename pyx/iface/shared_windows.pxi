# The stack's side of send windows read in place across a shm link
# (mem/peer_windows.pxi): publishing our send arena on the link's window
# board, mapping the peer's when it publishes one, and what the peer's
# death changes. The handshake, per direction: the sender publishes (board
# epoch, release), the receiver maps its arena and says so (board.mapped,
# release), and only then does the sender's TCP leave payloads in its send
# window (tcp_peer_reads_in_place), so no by-reference frame ever reaches a
# stack that cannot read it.

cdef uint32_t _board_epochs = 0         # this process's publications: each is new


cdef int stack_windows_share(StackState *st, WindowBoard *me, WindowBoard *peer) noexcept nogil:
    """Publish our send arena on `me` and read the peer's (published on
    `peer`) in place: 0, or -errno with nothing shared."""
    global _board_epochs
    cdef int rc = arena_share_init(&st.snd_arena)
    cdef int32_t pid = sysc.getpid()
    if rc != 0:
        return rc
    _board_epochs += 1
    nc_store_release_u32(&me.epoch, 0)
    me.pid = pid
    me.fd = st.snd_arena.fd
    me.slot_size = st.snd_arena.slot_size
    me.max_slots = st.snd_arena.max_slots
    me.va = <uint64_t><size_t>st.snd_arena.va
    nc_store_release_u64(&me.mapped, 0)
    # release: the fields above are complete before the peer sees the epoch
    # (pairs with the acquire load in stack_windows_check on its side)
    nc_store_release_u32(&me.epoch, _board_epochs)
    st.board_me = me
    st.board_peer = peer
    st.board_key = (<uint64_t><uint32_t>pid << 32) | _board_epochs
    stack_windows_check(st)
    return 0


cdef void stack_windows_check(StackState *st) noexcept nogil:
    """When the peer has published a send arena we have not mapped, map it
    (into the set not in use: a dead peer's stays while windows of ours still
    read it) and tell the peer, which then starts sending by reference.
    Called when sharing starts and at every poll (a few loads when nothing
    changed)."""
    cdef uint32_t epoch
    cdef uint64_t key
    cdef uint8_t k
    cdef PeerWindows *cur
    cdef PeerWindows *nxt
    if st.board_me == NULL:
        return
    epoch = nc_load_acquire_u32(&st.board_peer.epoch)
    if epoch == 0:
        return
    key = (<uint64_t><uint32_t>st.board_peer.pid << 32) | epoch
    cur = &st.peer_wins[st.peer_win_cur]
    if cur.key == key or st.peer_win_failed == key:
        return
    k = st.peer_win_cur if cur.key == 0 else 1 - st.peer_win_cur
    nxt = &st.peer_wins[k]
    if nxt.key != 0:
        if nxt.in_use:
            return                  # both sets are read still: look again later
        peerwin_close(nxt)
    if peerwin_open(nxt, st.board_peer, key) != 0:
        st.peer_win_failed = key    # e.g. not allowed to open its memfd: frames copy then
        return
    st.peer_win_cur = k
    if cur.key != 0 and cur != nxt and cur.in_use == 0:
        peerwin_close(cur)
    st.ctr[C_LINK_PEER_WINDOWS] += 1
    # release: our mapping is complete before the peer sends a reference
    # (pairs with the acquire load in tcp_peer_reads_in_place on its side)
    nc_store_release_u64(&st.board_me.mapped, key)


cdef void stack_windows_peer_lost(StackState *st) noexcept nogil:
    """The peer died: the holds it had on our send windows are void. Its
    arena stays mapped here while our receive windows read it (the data
    received before it died is still read); a restarted peer's is mapped
    beside it."""
    arena_peer_gone(&st.snd_arena)


cdef void stack_windows_unshare(StackState *st) noexcept nogil:
    """Take the publication back (the link is still mapped): the peer stops
    sending by reference, and our mapping of its arena is no longer news."""
    if st.board_me == NULL:
        return
    nc_store_release_u32(&st.board_me.epoch, 0)
    nc_store_release_u64(&st.board_me.mapped, 0)
    st.board_me = NULL
    st.board_peer = NULL


cdef void stack_windows_free(StackState *st) noexcept nogil:
    """Unmap the peers' arenas, letting go of every hold (stack_state_free)."""
    cdef uint32_t k
    for k in range(PEER_WINDOW_SETS):
        if st.peer_wins[k].key != 0:
            peerwin_close(&st.peer_wins[k])
