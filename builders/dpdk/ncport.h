/* netchan's port (include/netchan/port.h) on DPDK: one ethdev queue pair as
 * an nc_port, and the index-addressable mbuf pool it needs (ncport.c).
 *
 * Buffers are 32-bit indices into nc_port.pools[0]. The pool is built so that
 * mbuf i sits at base + i * stride in one virtually contiguous area:
 *
 *   slot i:  [mempool obj header][struct rte_mbuf][struct nc_buf][headroom|data]
 *            ^ base + i*stride - header_size
 *                                ^ base + i*stride (the mbuf; what DPDK hands out)
 *                                                 ^ hdr_off = sizeof(struct rte_mbuf)
 *
 * struct nc_buf lives in the mbuf's private area (priv_size 64), so an index
 * is (mbuf - base) / stride, the header is mbuf + sizeof(struct rte_mbuf), and
 * nc_buf.data_off = priv_size + mbuf->data_off (data_off counts from the header).
 * The stride is a power of two and the area is aligned to it, so no object
 * crosses a page boundary (DPDK requires that for IO) and none is skipped.
 *
 * What lies between "cffi-cdef: begin" and "cffi-cdef: end" is also the cffi
 * binding's declaration (builders/dpdk/ncport.py reads it from here). */
#ifndef NETCHAN_DPDK_NCPORT_H
#define NETCHAN_DPDK_NCPORT_H

#include <stddef.h>
#include <stdint.h>

#include "netchan/port.h"

struct rte_mempool;

/* cffi-cdef: begin */
#define NETCHAN_DPDK_PRIV_SIZE 64u   /* the mbuf private area holds struct nc_buf */
#define NETCHAN_DPDK_BURST 32u       /* mbufs handled per DPDK call */
#define NETCHAN_DPDK_TSO_WINDOW 64u  /* buffers prepared at once when merging for TSO */

struct netchan_dpdk_pool_info {
    uintptr_t base;      /* address of mbuf 0 */
    uint32_t stride;     /* bytes from one mbuf to the next */
    uint32_t count;
    uint32_t buf_len;    /* mbuf buf_len: headroom + data room */
    uint32_t data_room;  /* buf_len - RTE_PKTMBUF_HEADROOM */
    uint32_t chunks;     /* memory chunks the pool was populated with */
    uint64_t page_size;  /* page size of the memory under it */
};

struct netchan_dpdk_port {
    struct nc_port port;        /* first: an nc_port* is a netchan_dpdk_port* */
    uint16_t port_id;
    uint16_t queue;
    uint32_t buf_len;           /* mbuf buf_len (headroom + data room) */
    uint32_t stride_shift;      /* log2(pools[0].stride) */
    uint64_t span;              /* count * stride: mbufs lie in [base, base + span) */
    struct rte_mempool *mp;
    uint64_t rx_multiseg;       /* multi-segment frames dropped (netchan takes one mbuf per frame) */
    uint64_t rx_foreign;        /* mbufs from another pool dropped (cannot be named by index) */
    uint64_t tx_invalid;        /* frames whose data lay outside their mbuf, or bad indices */
    uint64_t rx_csum_partial;   /* frames recognised as carrying a local sender's partial checksum */
    int rx_partial_csum;        /* the driver hands over what a local kernel sent with checksum
                                   offload (af_xdp, af_packet, tap on a veth): recognise it */
    int retired;
    int wake_fd;                /* a file descriptor that turns readable when a frame waits
                                   (net_af_xdp's XSK socket), or -1: wait() sleeps on it */
    uint32_t wait_poll_failed;  /* ppoll errors other than EINTR (then wait() naps instead) */
    int tx_csum;                /* the PMD computes TCP checksums (RTE_ETH_TX_OFFLOAD_TCP_CKSUM):
                                   the stack leaves them out (NC_CAP_CSUM_TRUSTED) */
    uint64_t tx_csum_offloaded; /* frames whose TCP checksum the PMD was asked to compute */
    uint64_t rx_csum_good;      /* frames the PMD vouched for (IP and L4 checksum good) */
    uint64_t rx_csum_bad;       /* frames the PMD found bad (left to the stack to drop) */
    int tso;                    /* merge runs of segments into TSO mbuf chains (nctso.c) */
    int tso_ipv6;               /* ... IPv6 ones too (net_tap's software GSO has IPv4 only) */
    uint32_t tso_frame_max;     /* header + segment size the PMD cuts at most (0: no limit
                                   beyond the segments' own; net_tap: its MTU) */
    uint16_t tso_seg_max;       /* mbufs per chain (tx_desc_lim.nb_seg_max) */
    uint16_t tso_mtu_seg_max;   /* mbufs per cut segment (tx_desc_lim.nb_mtu_seg_max) */
    uint64_t tx_tso_packets;    /* super-packets handed to the PMD */
    uint64_t tx_tso_segments;   /* the stack's segments in them */
};

/* What netchan_dpdk_tso_probe saw (for tests: the merge rules without a
 * device that does TSO). */
struct netchan_dpdk_tso_view {
    uint32_t merged;            /* buffers in the chain (0: none merged) */
    uint32_t nb_segs;
    uint32_t pkt_len;
    uint32_t data_len;          /* of the first mbuf */
    uint32_t l2_len, l3_len, l4_len;
    uint32_t tso_segsz;
    int tcp_seg, tcp_cksum, ip_cksum, ipv4, ipv6;
    uint32_t frame_len;         /* bytes of the chain copied into frame */
};

/* A pktmbuf pool whose mbufs are index-addressable (see above); frame_room
 * is the largest frame one mbuf must hold. NULL with err set on failure. */
struct rte_mempool *netchan_dpdk_pool_create(const char *name, uint32_t count,
        uint32_t cache_size, uint32_t frame_room, int socket_id, char *err, size_t errlen);
/* Check that mp can back a port and describe it: 0, or -1 with err set. */
int netchan_dpdk_pool_check(struct rte_mempool *mp, struct netchan_dpdk_pool_info *info,
                            char *err, size_t errlen);

/* The nc_port for queue `queue` of started ethdev `port_id`, whose rx queue
 * takes mbufs from mp. Caller owns the result: netchan_dpdk_port_free. */
struct netchan_dpdk_port *netchan_dpdk_port_new(uint16_t port_id, uint16_t queue,
        struct rte_mempool *mp, char *err, size_t errlen);
/* Inert for good (the ethdev is closed, the pool may be gone). */
void netchan_dpdk_port_retire(struct netchan_dpdk_port *dp);
/* Inert while the ethdev is stopped; resume returns -1 once retired. */
void netchan_dpdk_port_pause(struct netchan_dpdk_port *dp);
int netchan_dpdk_port_resume(struct netchan_dpdk_port *dp);
void netchan_dpdk_port_free(struct netchan_dpdk_port *dp);
/* Let wait() sleep until fd is readable (NC_CAP_SLEEP); -1 turns that off. */
void netchan_dpdk_port_set_wake_fd(struct netchan_dpdk_port *dp, int fd);
/* tx_tcp_csum: the ethdev's tx queue computes TCP checksums (offload
 * enabled): the stack then leaves them out and the port asks the PMD. */
void netchan_dpdk_port_set_tx_csum(struct netchan_dpdk_port *dp, int tx_tcp_csum);
/* The address family (SO_DOMAIN) of socket fd, or -1. */
int netchan_socket_domain(int fd);
/* SO_ATTACH_FILTER with a classic BPF program of len bytes: 0 or -errno. */
int netchan_attach_filter(int fd, const uint8_t *code, uint32_t len);
/* Receive and free whatever waits in the rx queue; returns how many. */
uint32_t netchan_dpdk_port_drain(struct netchan_dpdk_port *dp);
/* The header of buffer idx, or NULL (for tests and tools). */
struct nc_buf *netchan_dpdk_buf(struct netchan_dpdk_port *dp, uint32_t idx);
/* on: merge runs of TCP segments into TSO chains (the tx queue has TSO and
 * checksum offloads on); the limits as in struct netchan_dpdk_port. */
void netchan_dpdk_port_set_tso(struct netchan_dpdk_port *dp, int on, int ipv6,
        uint32_t frame_max, uint32_t seg_max, uint32_t mtu_seg_max);
/* For tests: prepare bufs[0..n) for transmit as tx_burst does, merge from
 * bufs[0], describe the chain (and copy its bytes into frame, up to room),
 * then take it apart again: the buffers stay the caller's. Returns how many
 * were merged (0: bufs[0] would go alone). Counts as tx_burst would. */
uint32_t netchan_dpdk_tso_probe(struct netchan_dpdk_port *dp, const uint32_t *bufs, uint32_t n,
        struct netchan_dpdk_tso_view *view, uint8_t *frame, uint32_t room);
/* cffi-cdef: end */

struct rte_mbuf;

/* What a merge changed in the first segment's headers, to put back when
 * the PMD refuses the chain (nctso.c). */
struct netchan_dpdk_tso_undo {
    uint16_t segs, hdr, l3;
    uint16_t ip_len, ip_csum, tcp_csum;     /* as they were, network order */
    uint8_t tcp_flags;
};

/* Merge m[0] with the segments after it that continue it into one TSO
 * chain: returns how many (>= 2), or 0 when m[0] goes alone. m[] must be
 * prepared for transmit (data_off/data_len on the frame). */
uint32_t netchan_dpdk_tso_merge(struct netchan_dpdk_port *dp, struct rte_mbuf **m, uint32_t n,
                                struct netchan_dpdk_tso_undo *undo);
/* Take a chain the PMD did not take apart again. */
void netchan_dpdk_tso_undo(struct rte_mbuf *head, const struct netchan_dpdk_tso_undo *undo);

#endif /* NETCHAN_DPDK_NCPORT_H */
