# Send windows read in place by the shm peer.
#
# Over a shm link both ends are netchan stacks in this host's memory, so a
# byte need not be copied from the sender's send window into a frame and out
# of it into the receiver's receive window: the sender publishes its send
# arena (the memfd every send window of the stack lives in; WindowBoard in the
# link's header), the receiver maps it read-only (PeerWindows), and a data
# segment of TCP_REF_MIN_PAYLOAD (1 KiB) or more carries only its headers and
# the address of its payload in the send window (NC_BUF_F_PAYLOAD_REF). The receiver's receive window then *is*
# the sender's send window, mapped at the same ring positions (both count
# stream offsets from the ISN + 1, and are the same size): TCP's placing of
# the data is no copy at all, and the application's recv_view() shows the
# bytes the peer's application wrote.
#
# What keeps that safe:
# - The sender's application writes only where the receiver has consumed:
#   while the receiver holds the slot, its free space ends at the right edge
#   the receiver advertised (tcp_snd_space), which never passes what the
#   receiver's application still reads or views. A blocking send held there
#   moves the window to a fresh slot instead of waiting on (tcp_snd_move).
# - A slot the receiver reads is held (holds[slot], written by the receiver
#   only, in the sender's memfd): the sender keeps its window attached to it
#   while held, and a slot released anyway (the connection aborted) is not
#   recycled until the hold clears (Arena.held_pending, arena_tick).
# - Every time the sender lets a slot go it bumps the slot's generation;
#   frames carry the generation they were sent under, and the receiver
#   takes a slot only if the generation still matches after it stored its
#   hold (arena__let_go has the other half of that handshake). A frame
#   naming a recycled slot is refused, never read.
# - The send arena's memfd is sealed against shrinking before it is
#   published, and a receiver maps only a sealed one: no truncation, by a
#   buggy or hostile peer, can make a read in place fault.
# - A peer that dies leaves its holds behind: the survivor clears them
#   (arena_peer_gone). A dead peer's arena stays mapped here while windows
#   of ours still read it (PEER_WINDOW_SETS).


cdef inline size_t arena_share_tail(uint32_t max_slots) noexcept nogil:
    """Bytes after the slots in a shared arena's memfd: holds, then generations."""
    return round_up(<size_t>max_slots * 8, 4096)


cdef int arena_share_init(Arena *a) noexcept nogil:
    """Make room in the memfd for the peer's holds and our generations (all
    zero) and map them: 0 or -errno."""
    cdef size_t slots_len = <size_t>a.max_slots * a.slot_size
    cdef size_t tail = arena_share_tail(a.max_slots)
    cdef void *m
    if a.peer_holds != NULL:
        return 0
    if sysc.ftruncate(a.fd, <long>(slots_len + tail)) != 0:
        return -sysc.errno
    # never smaller from now on: a peer reading it in place cannot be made
    # to fault (SIGBUS) by a shrink, ours or anyone's (peerwin_open checks)
    if sysc.fcntl(a.fd, sysc.F_ADD_SEALS, sysc.F_SEAL_SHRINK) != 0:
        return -sysc.errno
    m = sysc.mmap(NULL, tail, sysc.PROT_READ | sysc.PROT_WRITE, sysc.MAP_SHARED, a.fd,
                  <long>slots_len)
    if m == sysc.MAP_FAILED:
        return -sysc.errno
    a.peer_holds = <uint32_t *>m
    a.gens = a.peer_holds + a.max_slots
    return 0


cdef void arena_peer_gone(Arena *a) noexcept nogil:
    """The peer that held slots died: its holds are void (arena_tick then
    recycles what waited for them)."""
    cdef uint32_t slot
    if a.peer_holds == NULL:
        return
    for slot in range(a.max_slots):
        nc_store_relaxed_u32(&a.peer_holds[slot], 0)


cdef int peerwin_open(PeerWindows *pw, const WindowBoard *b, uint64_t key) noexcept nogil:
    """Map the send arena the peer published in b (its epoch read with
    acquire by the caller): 0 or -errno (pw unused then)."""
    cdef char path[64]
    cdef sysc.stat sb
    cdef size_t slots_len, span
    cdef void *m
    memset(pw, 0, sizeof(PeerWindows))
    pw.fd = -1
    if b.slot_size < 4096 or (b.slot_size & (b.slot_size - 1)) or b.max_slots == 0:
        return -sysc.EINVAL
    slots_len = <size_t>b.max_slots * b.slot_size
    snprintf(path, sizeof(path), b"/proc/%d/fd/%d", b.pid, b.fd)
    pw.fd = sysc.open(path, sysc.O_RDWR | sysc.O_CLOEXEC, 0)
    if pw.fd < 0:
        return -sysc.errno
    if (sysc.fstat(pw.fd, &sb) != 0 or <size_t>sb.st_size < slots_len + arena_share_tail(b.max_slots)
            or not (sysc.fcntl(pw.fd, sysc.F_GET_SEALS) & sysc.F_SEAL_SHRINK)):
        peerwin_close(pw)
        return -sysc.EINVAL           # not a shared arena of that size, sealed against shrinking
    pw.slot_size = b.slot_size
    pw.max_slots = b.max_slots
    pw.peer_va = b.va
    pw.tail_len = arena_share_tail(b.max_slots)
    span = slots_len * 2
    m = sysc.mmap(NULL, span, sysc.PROT_NONE,
                  sysc.MAP_PRIVATE | sysc.MAP_ANONYMOUS | sysc.MAP_NORESERVE, -1, 0)
    if m == sysc.MAP_FAILED:
        peerwin_close(pw)
        return -sysc.errno
    pw.va = <uint8_t *>m
    m = sysc.mmap(NULL, pw.tail_len, sysc.PROT_READ | sysc.PROT_WRITE, sysc.MAP_SHARED, pw.fd,
                  <long>slots_len)
    if m == sysc.MAP_FAILED:
        peerwin_close(pw)
        return -sysc.errno
    pw.holds = <uint32_t *>m
    pw.gens = pw.holds + pw.max_slots
    pw.mapped = <uint8_t *>calloc(pw.max_slots, 1)
    pw.attached = <uint8_t *>calloc(pw.max_slots, 1)
    pw.exports = <uint32_t *>calloc(pw.max_slots, sizeof(uint32_t))
    if pw.mapped == NULL or pw.attached == NULL or pw.exports == NULL:
        peerwin_close(pw)
        return -sysc.ENOMEM
    pw.key = key
    return 0


cdef void peerwin_close(PeerWindows *pw) noexcept nogil:
    """Let go of every hold and unmap (no window of ours may read it)."""
    cdef uint32_t slot
    if pw.holds != NULL:
        if pw.attached != NULL and pw.exports != NULL:
            for slot in range(pw.max_slots):
                if pw.attached[slot] or pw.exports[slot]:
                    nc_store_release_u32(&pw.holds[slot], 0)
        sysc.munmap(pw.holds, pw.tail_len)
    if pw.va != NULL:
        sysc.munmap(pw.va, <size_t>pw.max_slots * 2 * pw.slot_size)
    if pw.fd >= 0:
        sysc.close(pw.fd)
    free(pw.mapped)
    free(pw.attached)
    free(pw.exports)
    memset(pw, 0, sizeof(PeerWindows))
    pw.fd = -1


cdef uint8_t *peerwin_resolve(PeerWindows *pw, uint64_t peer_addr, uint32_t n) noexcept nogil:
    """Where n bytes at the peer's address peer_addr are mapped here, or NULL
    if they are not within one of its send windows (the slot is mapped on
    first use)."""
    cdef uint64_t rel, within, span2 = <uint64_t>pw.slot_size * 2
    cdef uint32_t slot
    cdef uint8_t *base
    if pw.va == NULL or peer_addr < pw.peer_va:
        return NULL
    rel = peer_addr - pw.peer_va
    slot = <uint32_t>(rel // span2)
    within = rel % span2
    if slot >= pw.max_slots or within >= pw.slot_size or n > pw.slot_size:
        return NULL
    base = pw.va + <size_t>slot * span2
    if not pw.mapped[slot]:
        if (sysc.mmap(base, pw.slot_size, sysc.PROT_READ, sysc.MAP_SHARED | sysc.MAP_FIXED,
                      pw.fd, <long>(<size_t>slot * pw.slot_size)) == sysc.MAP_FAILED or
                sysc.mmap(base + pw.slot_size, pw.slot_size, sysc.PROT_READ,
                          sysc.MAP_SHARED | sysc.MAP_FIXED, pw.fd,
                          <long>(<size_t>slot * pw.slot_size)) == sysc.MAP_FAILED):
            return NULL
        pw.mapped[slot] = 1
    return base + within


cdef inline uint32_t peerwin__slot(const PeerWindows *pw, const uint8_t *p) noexcept nogil:
    return <uint32_t>(<size_t>(p - pw.va) // (<size_t>pw.slot_size * 2))


cdef int peerwin_adopt(PeerWindows *pw, Window *w, const uint8_t *data, uint64_t off,
                       uint16_t gen) noexcept nogil:
    """Make the unattached receive window w read the peer's slot that data
    (a resolved reference, the bytes of stream offset off) lies in: 1 done
    (the bytes are in place), 0 not possible (another size, another ring
    position, a slot already read by another window: copy instead), -1 the
    slot was recycled since the frame was sent (its bytes are not the
    frame's: drop it)."""
    cdef uint32_t slot = peerwin__slot(pw, data)
    cdef uint8_t *base = pw.va + <size_t>slot * 2 * pw.slot_size
    if pw.slot_size != w.size or <uint64_t>(data - base) != (off & w.mask) or pw.attached[slot]:
        return 0
    # Hold, then look at the generation: pairs with arena__let_go's bump
    # and fence on the sender's side (either it sees our hold or we see
    # its new generation).
    nc_store_relaxed_u32(&pw.holds[slot], 1)
    nc_fence_seq_cst()
    if <uint16_t>nc_load_relaxed_u32(&pw.gens[slot]) != gen:
        if pw.exports[slot] == 0:
            nc_store_release_u32(&pw.holds[slot], 0)
        return -1
    if pw.exports[slot] == 0:
        pw.in_use += 1
    pw.attached[slot] = 1
    w.base = base
    w.slot = slot
    return 1


cdef bint peerwin_gen_still(PeerWindows *pw, const uint8_t *data, uint16_t gen) noexcept nogil:
    """After copying bytes out of a reference: was the slot still the
    frame's (not recycled, so what was read is what was sent)? The fence
    orders the copy's reads before the generation's: pairs with the fence
    in arena__let_go, which orders the bump before any later writes."""
    nc_fence_seq_cst()
    return <uint16_t>nc_load_relaxed_u32(&pw.gens[peerwin__slot(pw, data)]) == gen


cdef inline void peerwin__unhold(PeerWindows *pw, uint32_t slot) noexcept nogil:
    # release: our reads of the slot happen before the peer may reuse it
    # (pairs with the acquire load in arena_peer_holds)
    nc_store_release_u32(&pw.holds[slot], 0)
    pw.in_use -= 1


cdef void peerwin_release(PeerWindows *pw, uint32_t slot) noexcept nogil:
    """A receive window stops reading the slot; held while views remain."""
    pw.attached[slot] = 0
    if pw.exports[slot] == 0:
        peerwin__unhold(pw, slot)


cdef inline void peerwin_export(PeerWindows *pw, uint32_t slot) noexcept nogil:
    pw.exports[slot] += 1


cdef void peerwin_unexport(PeerWindows *pw, uint32_t slot) noexcept nogil:
    pw.exports[slot] -= 1
    if pw.exports[slot] == 0 and not pw.attached[slot]:
        peerwin__unhold(pw, slot)
