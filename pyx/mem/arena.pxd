cdef enum:
    ARENA_SWEEP_NS = 100000000          # 100 ms between sweeps
    ARENA_PUNCH_AFTER_NS = 1000000000   # a free slot keeps its pages 1 s
    ARENA_PUNCH_BATCH = 64              # punches per sweep at most (a populated 1 MiB slot: ~0.2 ms)
    # vm.max_map_count kept for everything else in the process (Python's
    # allocator, libraries, DPDK) when the window slots take their share
    ARENA_MAPS_RESERVED = 16384
    ARENA_MAPS_MIN_BUDGET = 1024

# why arena_alloc last said no (Arena.last_refusal)
cdef enum ArenaRefusal:
    ARENA_REFUSED_NONE = 0
    ARENA_REFUSED_LIMIT = 1             # the stack's window_memory limit
    ARENA_REFUSED_SLOTS = 2             # every slot of the arena is attached
    ARENA_REFUSED_MAP_BUDGET = 3        # the process's share of vm.max_map_count is used
    ARENA_REFUSED_MAP_FAILED = 4        # mmap itself failed

cdef struct Arena:
    int fd
    uint8_t *va                  # reserved: max_slots * 2 * slot_size bytes
    uint32_t slot_size           # power of two, multiple of the page size
    uint32_t max_slots
    uint32_t *free_ids           # recycled slots (already mapped)
    uint32_t nfree
    uint32_t next_fresh          # slots >= next_fresh were never mapped
    uint32_t *exports            # live application views per slot
    uint8_t *pending_release     # released by its connection while still viewed
    uint64_t in_use
    uint64_t map_failures
    uint64_t deferred_releases
    # lazy punching: free_ids[0:nclean] are punched, free_ids[nclean:nfree]
    # still hold their pages; free_at[i] is when free_ids[i] was freed (the
    # list is a stack and time only grows, so free_at is sorted)
    uint64_t *free_at
    uint32_t nclean
    uint64_t clock               # the stack's time at the last arena_tick
    uint64_t next_sweep
    uint64_t punch_after_ns      # a free slot keeps its pages this long
    uint64_t punches
    # the per-stack limit on attached window bytes, shared by both arenas
    Arena *peer                  # the other direction's arena (or NULL)
    uint64_t limit               # bytes of attached windows, both arenas; 0 = none
    uint64_t limit_refusals
    uint64_t map_budget_refusals
    uint8_t last_refusal         # an ArenaRefusal
    # a small side record per slot for the slot's user (the send arena's
    # holds TCP's per-segment transmit records, tcp/segring.pxi), whole
    # pages: reserved, not committed, and given back with the slot's pages
    # (arena_tick), so only attached slots (and those free < 1 s) hold any
    uint8_t *side
    uint32_t side_size
    # shared with a shm peer that reads the slots in place (mem/peer_windows.pxi):
    # per slot, in the memfd after the slots, so the peer maps them too
    uint32_t *peer_holds         # the peer's: nonzero while it reads the slot
    uint32_t *gens               # ours: bumped whenever the slot is let go
    uint32_t held_pending        # slots released by us, waiting for the peer's hold to clear

cdef int arena_init(Arena *a, uint32_t slot_size, uint32_t max_slots) noexcept nogil
cdef void arena_destroy(Arena *a) noexcept nogil
cdef int arena_side_init(Arena *a, uint32_t side_size) noexcept nogil
cdef uint8_t *arena_side(const Arena *a, uint32_t slot) noexcept nogil
cdef uint8_t *arena_slot_base(Arena *a, uint32_t slot) noexcept nogil
cdef uint32_t arena_alloc(Arena *a) noexcept nogil
cdef void arena_release(Arena *a, uint32_t slot) noexcept nogil
cdef void arena_export(Arena *a, uint32_t slot) noexcept nogil
cdef void arena_unexport(Arena *a, uint32_t slot) noexcept nogil
cdef bint arena_peer_holds(const Arena *a, uint32_t slot) noexcept nogil
cdef uint64_t arena_bytes_in_use(const Arena *a) noexcept nogil
cdef bint arena_room(const Arena *a, uint64_t extra) noexcept nogil
cdef uint32_t arena_tick(Arena *a, uint64_t now) noexcept nogil
cdef uint64_t arena_map_budget() noexcept nogil
cdef uint64_t arena_maps_in_process() noexcept nogil
cdef void arena_set_map_budget(uint64_t slots) noexcept nogil
