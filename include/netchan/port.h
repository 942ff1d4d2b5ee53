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
 * `now` is the stack's clock in nanoseconds (virtual in tests). */
#ifndef NETCHAN_PORT_H
#define NETCHAN_PORT_H

#include "netchan/buf.h"

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

/* Capabilities a port offers (caps field). */
#define NC_CAP_SLEEP        0x1u  /* wait() sleeps on a doorbell rather than returning */
#define NC_CAP_VIRTUAL_TIME 0x2u  /* frames move only when polled; safe with a virtual clock */

struct nc_port_stats {
    uint64_t rx_packets, rx_bytes;
    uint64_t tx_packets, tx_bytes;
    uint64_t rx_dropped;      /* dropped by the port (fault loss, link down) */
    uint64_t tx_dropped;      /* refused by the port (ring full, link down) */
    uint64_t alloc_failed;    /* alloc_burst returned fewer than asked */
    uint64_t double_free;     /* free_burst saw a slot already free: a bug, counted */
    /* fault wrapper */
    uint64_t fault_lost, fault_duplicated, fault_reordered, fault_corrupted, fault_delayed;
    /* pcap wrapper */
    uint64_t pcap_written, pcap_errors;
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
};

NC_INLINE struct nc_buf *nc_port_buf(const struct nc_port *p, uint32_t idx)
{
    return nc_pool_buf(&p->pools[idx >> 31], idx & NC_BUF_SLOT_MASK);
}

#endif /* NETCHAN_PORT_H */
