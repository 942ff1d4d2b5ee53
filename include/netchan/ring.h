/* The channel: a single-producer/single-consumer ring of 32-bit buffer indices.
 *
 * This is Van Jacobson's net channel. One writer (the classifier, or the peer
 * process on a shm link) and one reader (the socket's consumer). There is no
 * lock and no atomic read-modify-write: each index has exactly one writer,
 * and a release store of an index paired with an acquire load on the other
 * side is all the ordering required.
 *
 * Layout (all offsets fixed, no pointers, so a ring can live in a shared
 * memory segment mapped at different addresses by two processes):
 *
 *   line 0  size, mask, magic      read-only after nc_ring_init
 *   line 1  prod_tail, prod_seen   written only by the producer
 *   line 2  cons_head, cons_seen   written only by the consumer
 *   line 3  cache guard            never touched
 *   line 4+ slots[size]
 *
 * The guard line is rte_ring's RTE_CACHE_GUARD: the adjacent-line ("spatial")
 * prefetcher of x86 cores fetches cache lines in 128-byte pairs, so without it
 * the consumer's line 2 and the first slots on line 3 form one pair, and the
 * producer's slot writes would keep pulling the consumer's line away (false
 * sharing through prefetch). Lines 0/1 and 2/3 are pairs of their own.
 *
 * prod_tail and cons_head are free-running 32-bit counters; a slot is
 * counter & mask. Unsigned subtraction gives the fill level across wrap, which
 * is why size must be a power of two no larger than 2^31.
 *
 * Each side keeps a private copy of the other side's index (prod_seen,
 * cons_seen) on its own cache line and re-reads the shared one only when the
 * copy says there is not enough room/data: in steady state a burst touches
 * the other side's line once, not once per slot (the trick from Rigtorp's and
 * Lamport's rings; rte_ring does the same with its head/tail pairs).
 *
 * Names follow rte_ring: *_bulk moves all n or nothing, *_burst moves as many
 * as fit (0..n). */
#ifndef NETCHAN_RING_H
#define NETCHAN_RING_H

#include "netchan/compat.h"

#define NC_RING_MAX_SIZE (1u << 31)

struct nc_ring {
    /* line 0: geometry, written once by nc_ring_init before either side runs */
    uint32_t size;
    uint32_t mask;
    uint32_t magic;
    uint32_t _pad0[NC_CACHE_LINE / 4 - 3];

    /* line 1: producer-owned */
    uint32_t prod_tail;      /* next slot the producer fills; published with release */
    uint32_t prod_seen;      /* producer's last view of cons_head */
    uint32_t _pad1[NC_CACHE_LINE / 4 - 2];

    /* line 2: consumer-owned */
    uint32_t cons_head;      /* next slot the consumer reads; published with release */
    uint32_t cons_seen;      /* consumer's last view of prod_tail */
    uint32_t _pad2[NC_CACHE_LINE / 4 - 2];

    /* line 3: cache guard (see above) */
    uint32_t _guard[NC_CACHE_LINE / 4];

    /* slots[size] follow, starting on line 4 */
} NC_CACHE_ALIGNED;

/* The layout above, held by the compiler (tests/mem/test_channel.py and
 * tests/mem/test_ring_peek.py also measure it): each side's counters on a
 * line of its own, a whole guard line between the consumer and the slots. */
_Static_assert(offsetof(struct nc_ring, prod_tail) == 1 * NC_CACHE_LINE, "producer line");
_Static_assert(offsetof(struct nc_ring, prod_seen) < 2 * NC_CACHE_LINE, "producer line");
_Static_assert(offsetof(struct nc_ring, cons_head) == 2 * NC_CACHE_LINE, "consumer line");
_Static_assert(offsetof(struct nc_ring, cons_seen) < 3 * NC_CACHE_LINE, "consumer line");
_Static_assert(offsetof(struct nc_ring, _guard) == 3 * NC_CACHE_LINE, "guard line");
_Static_assert(sizeof(struct nc_ring) - offsetof(struct nc_ring, cons_head) >= 2 * NC_CACHE_LINE,
               "a whole line between the consumer's line and the first slot");
_Static_assert(sizeof(struct nc_ring) == 4 * NC_CACHE_LINE, "slots start on line 4");

/* The magic names the layout: a process built for another layout (the
 * "NCRN" rings had no guard line and slots on line 3) refuses to attach
 * rather than reading slots at the wrong place. Change it whenever the
 * layout changes. */
#define NC_RING_MAGIC 0x4e435232u /* "NCR2": layout 2, slots on line 4 */

NC_INLINE uint32_t *nc_ring_slots(struct nc_ring *r)
{
    return (uint32_t *)(r + 1);
}

/* Bytes needed for a ring of `size` slots, rounded to a cache line. */
NC_INLINE size_t nc_ring_memsize(uint32_t size)
{
    size_t n = sizeof(struct nc_ring) + (size_t)size * sizeof(uint32_t);
    return (n + NC_CACHE_LINE - 1) & ~(size_t)(NC_CACHE_LINE - 1);
}

/* Initialise in place. Must complete before either side touches the ring
 * (in shared memory: before the segment is marked ready, see link.pxi).
 * The ring is published by its magic, stored last with release; a process
 * that attaches checks it with nc_ring_published (acquire) before reading
 * anything else. Returns 0, or -1 if size is not a power of two in [2, 2^31]. */
NC_INLINE int nc_ring_init(struct nc_ring *r, uint32_t size)
{
    if (size < 2 || size > NC_RING_MAX_SIZE || !nc_is_pow2(size))
        return -1;
    /* Unpublish first (matters only when re-initialising memory that held
     * a ring): relaxed is enough, as nobody may use the ring meanwhile. */
    nc_store_relaxed(&r->magic, 0u);
    r->size = size;
    r->mask = size - 1;
    r->prod_tail = 0;
    r->prod_seen = 0;
    r->cons_head = 0;
    r->cons_seen = 0;
    /* release: pairs with the acquire load of magic in nc_ring_published.
     * Geometry and zeroed indices above are visible to whoever sees the
     * magic; before this store, an attaching process sees no ring. */
    nc_store_release(&r->magic, NC_RING_MAGIC);
    return 0;
}

/* 1 when r holds an initialised ring of this layout (for a process that
 * attaches to a ring another one created, e.g. Channel.attach_shared);
 * only then may it read size, mask and the indices. */
NC_INLINE int nc_ring_published(const struct nc_ring *r)
{
    /* acquire: pairs with the release store of magic at the end of
     * nc_ring_init; everything nc_ring_init wrote before it is visible. */
    return nc_load_acquire(&r->magic) == NC_RING_MAGIC;
}

/* ---- producer side ---------------------------------------------------- */

/* Free slots as the producer sees them; refreshes prod_seen when the cached
 * view shows fewer than `want` free. */
NC_INLINE uint32_t nc_ring__prod_room(struct nc_ring *r, uint32_t tail, uint32_t want)
{
    uint32_t room = r->size - (tail - r->prod_seen);
    if (room < want) {
        /* acquire: pairs with the consumer's release store of cons_head in
         * nc_ring__cons_publish. Once we see the new head, the consumer's
         * reads of those slots have completed, so overwriting them is safe. */
        r->prod_seen = nc_load_acquire(&r->cons_head);
        room = r->size - (tail - r->prod_seen);
    }
    return room;
}

NC_INLINE void nc_ring__prod_copy_publish(struct nc_ring *r, uint32_t tail,
                                          const uint32_t *objs, uint32_t n)
{
    uint32_t *slots = nc_ring_slots(r);
    uint32_t mask = r->mask;
    for (uint32_t i = 0; i < n; i++)
        slots[(tail + i) & mask] = objs[i];
    /* release: pairs with the consumer's acquire load of prod_tail in
     * nc_ring__cons_avail. The slot writes above become visible no later
     * than the new tail that announces them. */
    nc_store_release(&r->prod_tail, tail + n);
}

/* Enqueue up to n indices; returns how many were enqueued (0..n). */
NC_INLINE uint32_t nc_ring_enqueue_burst(struct nc_ring *r, const uint32_t *objs, uint32_t n)
{
    uint32_t tail = r->prod_tail; /* only we write it: a plain read is exact */
    uint32_t room = nc_ring__prod_room(r, tail, n);
    if (n > room)
        n = room;
    if (n)
        nc_ring__prod_copy_publish(r, tail, objs, n);
    return n;
}

/* Enqueue all n indices or none; returns n or 0. */
NC_INLINE uint32_t nc_ring_enqueue_bulk(struct nc_ring *r, const uint32_t *objs, uint32_t n)
{
    uint32_t tail = r->prod_tail;
    if (nc_ring__prod_room(r, tail, n) < n)
        return 0;
    nc_ring__prod_copy_publish(r, tail, objs, n);
    return n;
}

/* Enqueue one index; returns 1 on success, 0 when full. */
NC_INLINE uint32_t nc_ring_enqueue(struct nc_ring *r, uint32_t obj)
{
    return nc_ring_enqueue_bulk(r, &obj, 1);
}

/* ---- consumer side ---------------------------------------------------- */

NC_INLINE uint32_t nc_ring__cons_avail(struct nc_ring *r, uint32_t head, uint32_t want)
{
    uint32_t avail = r->cons_seen - head;
    if (avail < want) {
        /* acquire: pairs with the producer's release store of prod_tail in
         * nc_ring__prod_copy_publish; the slots it announces are readable. */
        r->cons_seen = nc_load_acquire(&r->prod_tail);
        avail = r->cons_seen - head;
    }
    return avail;
}

NC_INLINE void nc_ring__cons_copy(const struct nc_ring *r, uint32_t head,
                                  uint32_t *objs, uint32_t n)
{
    const uint32_t *slots = nc_ring_slots((struct nc_ring *)r);
    uint32_t mask = r->mask;
    for (uint32_t i = 0; i < n; i++)
        objs[i] = slots[(head + i) & mask];
}

NC_INLINE void nc_ring__cons_publish(struct nc_ring *r, uint32_t head, uint32_t n)
{
    /* release: pairs with the producer's acquire load of cons_head in
     * nc_ring__prod_room. Our slot reads complete before the producer can
     * see these slots as free and reuse them. */
    nc_store_release(&r->cons_head, head + n);
}

NC_INLINE void nc_ring__cons_copy_publish(struct nc_ring *r, uint32_t head,
                                          uint32_t *objs, uint32_t n)
{
    nc_ring__cons_copy(r, head, objs, n);
    nc_ring__cons_publish(r, head, n);
}

/* Dequeue up to n indices into objs; returns how many (0..n). */
NC_INLINE uint32_t nc_ring_dequeue_burst(struct nc_ring *r, uint32_t *objs, uint32_t n)
{
    uint32_t head = r->cons_head; /* only we write it */
    uint32_t avail = nc_ring__cons_avail(r, head, n);
    if (n > avail)
        n = avail;
    if (n)
        nc_ring__cons_copy_publish(r, head, objs, n);
    return n;
}

/* Dequeue exactly n indices or none; returns n or 0. */
NC_INLINE uint32_t nc_ring_dequeue_bulk(struct nc_ring *r, uint32_t *objs, uint32_t n)
{
    uint32_t head = r->cons_head;
    if (nc_ring__cons_avail(r, head, n) < n)
        return 0;
    nc_ring__cons_copy_publish(r, head, objs, n);
    return n;
}

/* Dequeue one index; returns 1 and sets *obj, or 0 when empty. */
NC_INLINE uint32_t nc_ring_dequeue(struct nc_ring *r, uint32_t *obj)
{
    return nc_ring_dequeue_bulk(r, obj, 1);
}

/* ---- consumer side: peek, then consume --------------------------------
 * Read what is at the head without taking it (rte_ring_peek.h's
 * dequeue_start/finish, in the SPSC case): a consumer that must look at the
 * next entries to decide whether to take them. The slots stay the
 * consumer's: the producer cannot reuse them until nc_ring_consume
 * publishes a new head. Consumer only. */

/* Copy up to n indices from the head into objs without dequeuing them;
 * returns how many (0..n). */
NC_INLINE uint32_t nc_ring_peek_burst(struct nc_ring *r, uint32_t *objs, uint32_t n)
{
    uint32_t head = r->cons_head; /* only we write it */
    /* the acquire load of prod_tail inside (when the cached view is short)
     * pairs with the producer's release in nc_ring__prod_copy_publish, as
     * for a dequeue: the slots copied below are the producer's writes. */
    uint32_t avail = nc_ring__cons_avail(r, head, n);
    if (n > avail)
        n = avail;
    if (n)
        nc_ring__cons_copy(r, head, objs, n);
    return n;
}

/* The i-th index from the head (0 = the next one a dequeue returns):
 * returns 1 and sets *obj, or 0 when fewer than i + 1 are waiting. */
NC_INLINE uint32_t nc_ring_peek(struct nc_ring *r, uint32_t i, uint32_t *obj)
{
    uint32_t head = r->cons_head;
    /* acquire inside: as in nc_ring_peek_burst. i + 1 cannot wrap: i < size. */
    if (i >= r->size || nc_ring__cons_avail(r, head, i + 1) <= i)
        return 0;
    nc_ring__cons_copy(r, head + i, obj, 1);
    return 1;
}

/* Take the first n entries (after peeking at them): they are the producer's
 * to reuse from now on. Returns how many were taken: n, or fewer if fewer
 * are waiting (never more than a peek could have shown). */
NC_INLINE uint32_t nc_ring_consume(struct nc_ring *r, uint32_t n)
{
    uint32_t head = r->cons_head;
    uint32_t avail = nc_ring__cons_avail(r, head, n);
    if (n > avail)
        n = avail;
    if (n)
        nc_ring__cons_publish(r, head, n);   /* release: see there */
    return n;
}

/* ---- either side (snapshots; exact only when the other side is idle) --- */

NC_INLINE uint32_t nc_ring_count(const struct nc_ring *r)
{
    /* Read head first: tail only grows, so tail - head never underflows
     * even if the producer advances between the two loads. A third party
     * (neither side) can still see more than size when the consumer drains
     * and the producer refills between the loads: clamp, so that the count
     * stays a fill level and nc_ring_free_count cannot underflow. */
    uint32_t head = nc_load_acquire(&r->cons_head);
    uint32_t tail = nc_load_acquire(&r->prod_tail);
    uint32_t n = tail - head;
    return n > r->size ? r->size : n;
}

NC_INLINE uint32_t nc_ring_free_count(const struct nc_ring *r)
{
    return r->size - nc_ring_count(r);
}

NC_INLINE int nc_ring_empty(const struct nc_ring *r)
{
    return nc_ring_count(r) == 0;
}

#endif /* NETCHAN_RING_H */
