cdef enum:
    PEER_WINDOW_SETS = 2                # the current peer's arena, and a dead one's still read

# One per link end, in the link's shared header (ports/link.pxi): what this
# end publishes about its send window arena, and which of the peer's
# publications it has mapped. Written only by its own end.
cdef struct WindowBoard:
    uint32_t epoch               # 0: nothing published; stored (release) after the fields below
    int32_t pid                  # the process whose fd table holds fd
    int32_t fd                   # the send arena's memfd
    uint32_t slot_size
    uint32_t max_slots
    uint32_t _pad
    uint64_t va                  # the arena's address in pid (frames name bytes by it)
    uint64_t mapped              # the peer's pid << 32 | epoch this end has mapped (release); 0: none

# This end's mapping of the peer's send arena: its slots read in place.
cdef struct PeerWindows:
    uint64_t key                 # the peer's pid << 32 | epoch; 0: unused
    int fd
    uint8_t *va                  # slot s at va + s * 2 * slot_size, double-mapped as in the peer
    uint64_t peer_va             # the same bytes' address in the peer
    uint32_t slot_size
    uint32_t max_slots
    uint8_t *mapped              # per slot: both views mapped here (read-only)
    uint8_t *attached            # per slot: a receive window of ours reads it
    uint32_t *exports            # per slot: live receive views of it
    uint32_t *holds              # per slot, in the peer's memfd: ours to write
    uint32_t *gens               # per slot, in the peer's memfd: the peer bumps it on recycling
    uint32_t in_use              # slots attached or exported
    uint64_t tail_len            # bytes of the holds/gens mapping

cdef size_t arena_share_tail(uint32_t max_slots) noexcept nogil
cdef int arena_share_init(Arena *a) noexcept nogil
cdef void arena_peer_gone(Arena *a) noexcept nogil
cdef int peerwin_open(PeerWindows *pw, const WindowBoard *b, uint64_t key) noexcept nogil
cdef void peerwin_close(PeerWindows *pw) noexcept nogil
cdef uint8_t *peerwin_resolve(PeerWindows *pw, uint64_t peer_addr, uint32_t n) noexcept nogil
cdef int peerwin_adopt(PeerWindows *pw, Window *w, const uint8_t *data, uint64_t off,
                       uint16_t gen) noexcept nogil
cdef bint peerwin_gen_still(PeerWindows *pw, const uint8_t *data, uint16_t gen) noexcept nogil
cdef void peerwin_release(PeerWindows *pw, uint32_t slot) noexcept nogil
cdef void peerwin_export(PeerWindows *pw, uint32_t slot) noexcept nogil
cdef void peerwin_unexport(PeerWindows *pw, uint32_t slot) noexcept nogil
