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

cdef int arena_init(Arena *a, uint32_t slot_size, uint32_t max_slots) noexcept nogil
cdef void arena_destroy(Arena *a) noexcept nogil
cdef uint8_t *arena_slot_base(Arena *a, uint32_t slot) noexcept nogil
cdef uint32_t arena_alloc(Arena *a) noexcept nogil
cdef void arena_release(Arena *a, uint32_t slot) noexcept nogil
cdef void arena_export(Arena *a, uint32_t slot) noexcept nogil
cdef void arena_unexport(Arena *a, uint32_t slot) noexcept nogil
