# Channel hooks: indices set near the uint32 wrap, the ring's layout as placed.

# The counters are free-running uint32 values; to test their wrap at 2**32
# without moving four billion values, a test starts an empty ring near it.

def channel_set_indices(Channel self, uint32_t index):
    """FOR TESTS ONLY: move the producer and consumer counters of an EMPTY
    ring to `index` (e.g. 2**32 - 5, to cross the uint32 wrap soon).
    Not safe while any other thread or process uses the ring."""
    if nc_ring_count(self.ring) != 0:
        raise ValueError("channel_set_indices needs an empty ring")
    self.ring.prod_tail = index
    self.ring.prod_seen = index
    self.ring.cons_head = index
    self.ring.cons_seen = index

def channel_indices(Channel self):
    """FOR TESTS ONLY: (prod_tail, cons_head), the free-running counters."""
    return (nc_load_acquire_u32(&self.ring.prod_tail),
            nc_load_acquire_u32(&self.ring.cons_head))

def channel_layout(Channel self):
    """FOR TESTS ONLY: where the C compiler put this ring's fields, as
    byte offsets from the ring's start (measured on the live ring), plus
    the ring's address modulo the cache line. A test checks from these
    that each side's fields have a cache line of their own."""
    cdef uintptr_t base = <uintptr_t>self.ring
    return {
        "cache_line": NC_CACHE_LINE,
        "base_misalignment": base % NC_CACHE_LINE,
        "size": <uintptr_t>&self.ring.size - base,
        "mask": <uintptr_t>&self.ring.mask - base,
        "magic": <uintptr_t>&self.ring.magic - base,
        "prod_tail": <uintptr_t>&self.ring.prod_tail - base,
        "prod_seen": <uintptr_t>&self.ring.prod_seen - base,
        "cons_head": <uintptr_t>&self.ring.cons_head - base,
        "cons_seen": <uintptr_t>&self.ring.cons_seen - base,
        "slots": <uintptr_t>nc_ring_slots(self.ring) - base,
        "sizeof": sizeof(nc_ring),
    }
