/* Packet buffers and the pools they come from.
 *
 * A buffer is named by a 32-bit index, never by a pointer: indices are what
 * channels carry, and an index means the same buffer in both processes of a
 * shm link even though each maps the segment at its own address.
 *
 * A port exposes up to two pools (its own and, on a shm/pair link, the
 * peer's); bit 31 of an index selects the pool, the low 31 bits the slot.
 * Every slot of a pool is `stride` bytes; the buffer header sits `hdr_off`
 * bytes into the slot (0 for netchan's own pools; after the rte_mbuf for
 * DPDK, whose mbuf private area holds it). The data starts `data_off` bytes
 * after the header, so headers can be prepended into the headroom.
 *
 * struct nc_buf and struct nc_pool (between "cffi-cdef: begin" and
 * "cffi-cdef: end") are also the cffi binding's declarations, read from here
 * by builders/dpdk/netchan_types.py: keep them plain. */
#ifndef NETCHAN_BUF_H
#define NETCHAN_BUF_H

#include "netchan/compat.h"

#define NC_BUF_POOL_BIT   0x80000000u
#define NC_BUF_SLOT_MASK  0x7fffffffu
#define NC_BUF_NONE       0xffffffffu   /* "no buffer" in lists */

/* Default headroom in front of the data: room for Ethernet + IPv4 + TCP
 * with every option, so a reply can be built in place. */
#define NC_BUF_HEADROOM   128u

/* cffi-cdef: begin */
/* The header in front of every buffer's data. 64 bytes, one cache line. */
struct nc_buf {
    uint32_t slot;       /* own slot number in its pool (no pool bit) */
    uint32_t data_off;   /* first data byte, counted from this header */
    uint32_t len;        /* data bytes */
    uint32_t room;       /* bytes from this header to the end of the slot */
    uint32_t flags;      /* NC_BUF_F_* */
    uint32_t next;       /* link for queues inside the stack (index or NC_BUF_NONE) */
    uint64_t stamp;      /* rx time, or release time in the fault port's delay line */
    uint64_t user[4];    /* owner-defined scratch (e.g. queued destination IP) */
};
/* cffi-cdef: end */

_Static_assert(sizeof(struct nc_buf) == 64, "struct nc_buf is one cache line");

#define NC_BUF_F_CSUM_OK  0x1u         /* the port verified L3/L4 checksums */
#define NC_BUF_F_TX_REF   0x2u         /* a TCP super-frame whose payload is not in the
                                          buffer: len counts the headers (Ethernet, IP
                                          with the whole frame's length, TCP with the
                                          pseudo-header sum), user[0] is the payload's
                                          address, user[1] its length, user[2] the
                                          segment size (only to a port with NC_CAP_TX_REF) */
#define NC_BUF_F_PAYLOAD_REF 0x4u      /* a TCP segment to the shm peer whose payload is in
                                          the sender's send window, which the peer maps
                                          (pyx/mem/peer_windows.pxi): len counts the headers,
                                          user[0] is the payload's address in the sender,
                                          user[1] its length, user[2] the sender's window
                                          board epoch, user[3] the slot's generation */
#define NC_BUF_F_FREE     0x80000000u  /* on a free stack: a second free is a bug */

/* cffi-cdef: begin */
/* Process-local description of one pool. */
struct nc_pool {
    uint8_t *base;       /* address of slot 0 in this process */
    uint32_t stride;     /* bytes between consecutive slots */
    uint32_t hdr_off;    /* struct nc_buf offset inside a slot */
    uint32_t count;      /* number of slots */
    uint32_t data_room;  /* usable data bytes after the default headroom */
};
/* cffi-cdef: end */

NC_INLINE struct nc_buf *nc_pool_buf(const struct nc_pool *p, uint32_t slot)
{
    return (struct nc_buf *)(p->base + (size_t)slot * p->stride + p->hdr_off);
}

NC_INLINE uint8_t *nc_buf_data(struct nc_buf *b)
{
    return (uint8_t *)b + b->data_off;
}

/* The bytes a frame stands for: its buffer's, plus a payload it names in
 * the sender's memory (NC_BUF_F_TX_REF, NC_BUF_F_PAYLOAD_REF). */
NC_INLINE uint64_t nc_buf_frame_bytes(const struct nc_buf *b)
{
    return b->len + ((b->flags & (NC_BUF_F_TX_REF | NC_BUF_F_PAYLOAD_REF)) ? b->user[1] : 0);
}

/* Reset a buffer for transmit: empty, default headroom. */
NC_INLINE void nc_buf_reset(struct nc_buf *b)
{
    b->data_off = (uint32_t)sizeof(struct nc_buf) + NC_BUF_HEADROOM;
    b->len = 0;
    b->flags = 0;
    b->next = NC_BUF_NONE;
}

/* ---- a LIFO free stack of slot numbers --------------------------------
 * LIFO so that the buffer freed last (still warm in cache) is reused first.
 * Single-owner: only the process/thread that owns the pool touches it. */
struct nc_freestack {
    uint32_t count;      /* entries in use */
    uint32_t cap;        /* capacity (= pool count) */
    uint32_t _pad[14];
    /* uint32_t slots[cap] follow */
};

NC_INLINE uint32_t *nc_freestack_slots(struct nc_freestack *s)
{
    return (uint32_t *)(s + 1);
}

NC_INLINE size_t nc_freestack_memsize(uint32_t cap)
{
    size_t n = sizeof(struct nc_freestack) + (size_t)cap * 4;
    return (n + NC_CACHE_LINE - 1) & ~(size_t)(NC_CACHE_LINE - 1);
}

/* Fill with every slot 0..cap-1, lowest on top. */
NC_INLINE void nc_freestack_init_full(struct nc_freestack *s, uint32_t cap)
{
    uint32_t *v = nc_freestack_slots(s);
    s->cap = cap;
    s->count = cap;
    for (uint32_t i = 0; i < cap; i++)
        v[i] = cap - 1 - i;
}

/* Pop up to n slots; returns how many. */
NC_INLINE uint32_t nc_freestack_pop_burst(struct nc_freestack *s, uint32_t *out, uint32_t n)
{
    uint32_t *v = nc_freestack_slots(s);
    if (n > s->count)
        n = s->count;
    uint32_t top = s->count;
    for (uint32_t i = 0; i < n; i++)
        out[i] = v[top - 1 - i];
    s->count = top - n;
    return n;
}

/* Push n slots. The caller guarantees they came from this pool, so the stack
 * cannot overflow; a push past cap would mean a double free and is refused
 * (returns the number refused, counted by the caller). */
NC_INLINE uint32_t nc_freestack_push_burst(struct nc_freestack *s, const uint32_t *in, uint32_t n)
{
    uint32_t *v = nc_freestack_slots(s);
    uint32_t top = s->count;
    uint32_t refused = 0;
    if (top + n > s->cap) {
        refused = top + n - s->cap;
        n -= refused;
    }
    for (uint32_t i = 0; i < n; i++)
        v[top + i] = in[i];
    s->count = top + n;
    return refused;
}

/* ---- pool helpers ------------------------------------------------------ */

/* Bytes of one slot holding `data_room` data bytes after the default
 * headroom, rounded to a cache line. */
NC_INLINE uint32_t nc_pool_stride_for(uint32_t data_room)
{
    uint32_t n = (uint32_t)sizeof(struct nc_buf) + NC_BUF_HEADROOM + data_room;
    return (n + NC_CACHE_LINE - 1) & ~(uint32_t)(NC_CACHE_LINE - 1);
}

/* Write every slot's header: slot number, room, marked free. */
NC_INLINE void nc_pool_format(const struct nc_pool *p)
{
    for (uint32_t i = 0; i < p->count; i++) {
        struct nc_buf *b = nc_pool_buf(p, i);
        b->slot = i;
        b->room = p->stride - p->hdr_off;
        nc_buf_reset(b);
        b->flags = NC_BUF_F_FREE;
    }
}

/* Allocate up to n slots from a pool's free stack; returns how many.
 * The buffers come back reset (empty, default headroom). */
NC_INLINE uint32_t nc_pool_alloc_burst(const struct nc_pool *p, struct nc_freestack *fs,
                                       uint32_t *out, uint32_t n, uint32_t pool_bit)
{
    n = nc_freestack_pop_burst(fs, out, n);
    for (uint32_t i = 0; i < n; i++) {
        struct nc_buf *b = nc_pool_buf(p, out[i]);
        nc_buf_reset(b);
        out[i] |= pool_bit;
    }
    return n;
}

/* Return n slots (pool bit ignored) to a pool's free stack. Returns the
 * number refused as double frees. */
NC_INLINE uint32_t nc_pool_free_burst(const struct nc_pool *p, struct nc_freestack *fs,
                                      const uint32_t *in, uint32_t n)
{
    uint32_t *v = nc_freestack_slots(fs);
    uint32_t bad = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t slot = in[i] & NC_BUF_SLOT_MASK;
        struct nc_buf *b;
        if (slot >= p->count) {
            bad++;
            continue;
        }
        b = nc_pool_buf(p, slot);
        if (b->flags & NC_BUF_F_FREE || fs->count >= fs->cap) {
            bad++;
            continue;
        }
        b->flags = NC_BUF_F_FREE;
        v[fs->count++] = slot;
    }
    return bad;
}

/* Bytes that can be written after data start. */
NC_INLINE uint32_t nc_buf_tailroom(const struct nc_buf *b)
{
    return b->room - b->data_off - b->len;
}

#endif /* NETCHAN_BUF_H */
