/* The port vtable: the one interface between the stack and every driver.
 *
 * Implementations: pair and shm (pyx/ports/link.pxi), the fault and pcap
 * wrappers (pyx/ports/fault.pxi, pyx/ports/pcap.pxi), AF_PACKET and DPDK
 * (issue 4; DPDK's functions are compiled in the cffi module and their
 * addresses stored here, so the hot path makes one indirect call per burst).
 *
 * All functions are called by the one thread that owns the stack, never
 * concurrently. Buffers are 32-bit indices (see buf.h). Ownership:
 *   rx_burst     hands received buffers to the caller
 *   alloc_burst  hands empty buffers (reset, default headroom) to the caller
 *   tx_burst     takes the first k buffers it reports as sent; the rest stay
 *                with the caller, who retries or frees them
 *   free_burst   takes any buffer the caller holds, from either pool
 * `now` is the stack's clock in nanoseconds (virtual in tests).
 *
 * The declarations between "cffi-cdef: begin" and "cffi-cdef: end" are also
 * the cffi binding's (builders/dpdk/netchan_types.py reads them from here),
 * so keep them plain: structs and integer #defines only. */
#ifndef NETCHAN_PORT_H
#define NETCHAN_PORT_H

#include "netchan/buf.h"

/* cffi-cdef: begin */
struct nc_port;

struct nc_port_ops {
    uint32_t (*rx_burst)(struct nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now);
    uint32_t (*tx_burst)(struct nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now);
    uint32_t (*alloc_burst)(struct nc_port *p, uint32_t *bufs, uint32_t n);
    void     (*free_burst)(struct nc_port *p, const uint32_t *bufs, uint32_t n);
    /* Earliest time the port itself needs a poll (a delayed frame coming due),
     * or UINT64_MAX. */
    uint64_t (*next_deadline)(struct nc_port *p);
    /* Sleep until a frame may be waiting or timeout_ns passes; returns at
     * once if one is. Ports that cannot sleep on an event return at once. */
    void     (*wait)(struct nc_port *p, uint64_t timeout_ns);
    /* Link state: 1 when frames can flow (the shm peer is attached). */
    int      (*link_up)(struct nc_port *p);
    void     (*close)(struct nc_port *p);
};

#define NC_PEER_LOST_NO_STACK 0xffffffffffffffff

/* Capabilities a port offers (caps field). */
#define NC_CAP_SLEEP        0x1u /* wait() sleeps on a doorbell rather than returning */
#define NC_CAP_VIRTUAL_TIME 0x2u /* frames move only when polled; safe with a virtual clock */
#define NC_CAP_PEER_HOST    0x4u /* link_up() going false means the one host at the other
                                    end died: its connections are gone for good */
#define NC_CAP_CSUM_TRUSTED 0x8u /* a sender may leave the TCP checksum out and mark the
                                    buffer NC_BUF_F_CSUM_OK: frames reach only a netchan
                                    peer in this host's memory (shm, as loopback in Linux),
                                    or the port has the device fill it in (dpdk: with the
                                    PMD's TX_TCP_CKSUM offload) */
#define NC_CAP_TX_REF       0x10u /* tx_burst takes TCP super-frames by reference
                                    (NC_BUF_F_TX_REF: the buffer holds the headers, the
                                    payload stays in the sender's memory) and is done with
                                    that memory when the call returns: it copies or sends
                                    the bytes in the call, and never holds such a frame
                                    (afpacket tx=sendmmsg with TSO). Wrappers that hold,
                                    copy out or rewrite frames (fault, pcap) drop the bit */
/* cffi-cdef: end */

/* The port's counters, all uint64_t, listed once: this list makes
 * struct nc_port_stats, the names nc_port_stat_name returns (Python's
 * PORT_STAT_FIELDS, the `port_fields` of the stats segment that `netchan
 * stats` reads) and the struct in the cffi binding. Add a counter here and
 * nowhere else (Cython's pxd lists the ones it uses; a test checks it). */
#define NC_PORT_STATS(X)                                                      \
    X(rx_packets)                                                             \
    X(rx_bytes)                                                               \
    X(tx_packets)                                                             \
    X(tx_bytes)                                                               \
    X(rx_dropped)       /* dropped by the port (fault loss, link down) */     \
    X(tx_dropped)       /* refused by the port (ring full, link down) */      \
    X(alloc_failed)     /* alloc_burst returned fewer than asked */           \
    X(double_free)      /* free_burst saw a slot already free: a bug */       \
    X(peer_lost)        /* the host at the other end died (NC_CAP_PEER_HOST) */ \
    X(fault_lost)       /* fault wrapper */                                   \
    X(fault_duplicated)                                                       \
    X(fault_reordered)                                                        \
    X(fault_corrupted)                                                        \
    X(fault_delayed)                                                          \
    X(pcap_written)     /* pcap wrapper */                                    \
    X(pcap_errors)

#define NC_PORT_STAT_FIELD(name) uint64_t name;
#define NC_PORT_STAT_NAME(name) #name,

/* cffi-cdef: begin */
struct nc_port_stats {
    NC_PORT_STATS(NC_PORT_STAT_FIELD)
};

struct nc_port {
    const struct nc_port_ops *ops;
    struct nc_pool pools[2];      /* index bit 31 selects */
    uint8_t mac[6];
    uint16_t _pad;
    uint32_t mtu;                 /* IP MTU: largest IPv4 packet, not counting Ethernet */
    uint32_t caps;
    struct nc_port_stats stats;
    struct nc_port *inner;        /* wrapped port, for wrappers */
    void *impl;                   /* implementation state */
    uint64_t peer_lost_handled;   /* stats.peer_lost the stack above has let go of
                                     (nothing of those peers' left in it), or
                                     NC_PEER_LOST_NO_STACK while no stack runs on it */
};
/* cffi-cdef: end */

#define NC_PORT_STAT_COUNT (sizeof(struct nc_port_stats) / sizeof(uint64_t))

/* Name of counter i in struct order, or NULL past the last. */
NC_INLINE const char *nc_port_stat_name(uint32_t i)
{
    static const char *const names[] = { NC_PORT_STATS(NC_PORT_STAT_NAME) };
    _Static_assert(sizeof(names) / sizeof(names[0]) == NC_PORT_STAT_COUNT,
                   "one name per counter");
    return i < NC_PORT_STAT_COUNT ? names[i] : NULL;
}

NC_INLINE struct nc_buf *nc_port_buf(const struct nc_port *p, uint32_t idx)
{
    return nc_pool_buf(&p->pools[idx >> 31], idx & NC_BUF_SLOT_MASK);
}

#endif /* NETCHAN_PORT_H */
