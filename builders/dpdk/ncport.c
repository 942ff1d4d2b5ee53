/* netchan's port vtable (include/netchan/port.h) over one DPDK ethdev queue
 * pair, and the index-addressable mbuf pool it needs. ncport.h has the pool
 * layout and the functions Python calls (builders/dpdk/ncport.py hands its
 * declarations to cffi).
 *
 * The vtable functions are compiled here, not reached through cffi, because
 * rte_eth_rx_burst and rte_eth_tx_burst are static inline: the stack calls
 * them through nc_port.ops (one indirect call per burst, from Cython, without
 * the GIL); Python only creates, inspects and retires the port. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* ppoll (the build passes it already) */
#endif
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/filter.h>
#include <time.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>
#include <rte_memzone.h>

#include "dpdk_shims.h"
#include "ncport.h"
#include "netchan/csum_partial.h"

_Static_assert(sizeof(struct nc_buf) == NETCHAN_DPDK_PRIV_SIZE,
               "struct nc_buf must fill the mbuf private area exactly");
_Static_assert(NETCHAN_DPDK_PRIV_SIZE % RTE_MBUF_PRIV_ALIGN == 0,
               "mbuf private area size must be a multiple of RTE_MBUF_PRIV_ALIGN");
_Static_assert(offsetof(struct nc_port, ops) == 0, "nc_port starts with ops");
_Static_assert(offsetof(struct netchan_dpdk_port, port) == 0,
               "an nc_port* is a netchan_dpdk_port*");

/* ---- the pool ------------------------------------------------------------ */

static inline struct nc_buf *netchan_mbuf_hdr(struct rte_mbuf *m)
{
    return (struct nc_buf *)(m + 1);    /* = rte_mbuf_to_priv(m) */
}

struct netchan_pool_walk {
    uint8_t *base;
    uint32_t stride;
    uint32_t count;
    uint32_t misplaced;
    uint32_t priv_room;   /* for init: nc_buf.room */
    int init;
};

/* rte_mempool_obj_iter callback: check that object i sits at base + i*stride
 * (and, on the first walk, format its nc_buf). */
static void netchan_pool_walk_obj(struct rte_mempool *mp, void *opaque, void *obj, unsigned idx)
{
    struct netchan_pool_walk *w = opaque;
    (void)mp;
    if (idx == 0)
        w->base = obj;
    if ((uint8_t *)obj != w->base + (size_t)idx * w->stride)
        w->misplaced++;
    w->count++;
    if (w->init) {
        struct nc_buf *h = netchan_mbuf_hdr(obj);
        memset(h, 0, sizeof(*h));
        h->slot = idx;
        h->room = w->priv_room;
        nc_buf_reset(h);
        h->flags = NC_BUF_F_FREE;
    }
}

static void netchan_pool_mz_free(struct rte_mempool_memhdr *memhdr, void *opaque)
{
    (void)memhdr;
    rte_memzone_free((const struct rte_memzone *)opaque);
}

static int netchan_pool_walk(struct rte_mempool *mp, struct netchan_pool_walk *w)
{
    w->stride = mp->header_size + mp->elt_size + mp->trailer_size;
    w->count = 0;
    w->misplaced = 0;
    w->base = NULL;
    rte_mempool_obj_iter(mp, netchan_pool_walk_obj, w);
    return w->misplaced == 0 && w->count == mp->size ? 0 : -1;
}

/* Check that mp can back a netchan port: pktmbuf pool, nc_buf-sized private
 * area, every object at base + i*stride. Fills info; 0 or -1 with err set. */
int netchan_dpdk_pool_check(struct rte_mempool *mp, struct netchan_dpdk_pool_info *info,
                                   char *err, size_t errlen)
{
    struct netchan_pool_walk w;
    const struct rte_memzone *mz;
    memset(info, 0, sizeof(*info));
    if (mp->private_data_size < sizeof(struct rte_pktmbuf_pool_private)) {
        snprintf(err, errlen, "mempool %s is not a pktmbuf pool", mp->name);
        return -1;
    }
    if (rte_pktmbuf_priv_size(mp) != NETCHAN_DPDK_PRIV_SIZE) {
        snprintf(err, errlen, "mempool %s has a %u-byte mbuf private area; netchan needs %u "
                 "(struct nc_buf lives there)", mp->name, rte_pktmbuf_priv_size(mp),
                 NETCHAN_DPDK_PRIV_SIZE);
        return -1;
    }
    memset(&w, 0, sizeof(w));
    if (netchan_pool_walk(mp, &w) != 0) {
        snprintf(err, errlen, "mempool %s: %u of %u mbufs are not at base + index * %u "
                 "(the pool spans %u memory chunks); netchan addresses buffers by index, so "
                 "the pool must be one virtually contiguous area: create it with "
                 "netchan_dpdk_pool_create", mp->name, w.misplaced, mp->size, w.stride,
                 mp->nb_mem_chunks);
        return -1;
    }
    info->base = (uintptr_t)w.base;
    info->stride = w.stride;
    info->count = w.count;
    info->buf_len = rte_pktmbuf_data_room_size(mp);
    info->data_room = info->buf_len > RTE_PKTMBUF_HEADROOM ? info->buf_len - RTE_PKTMBUF_HEADROOM : 0;
    info->chunks = mp->nb_mem_chunks;
    mz = rte_memzone_lookup(mp->name);   /* our pools name their memzone after themselves */
    info->page_size = mz != NULL ? mz->hugepage_sz : 0;
    return 0;
}

/* A pktmbuf pool whose mbufs are index-addressable: `count` objects of a
 * power-of-two stride in one memzone aligned to the stride, populated page
 * run by page run (so each object's IOVA is right even when the pages are
 * not physically contiguous) without a single gap, since a stride that
 * divides the page size never straddles a page. frame_room: the largest
 * frame (bytes after the headroom) one mbuf must hold. */
struct rte_mempool *netchan_dpdk_pool_create(const char *name, uint32_t count,
        uint32_t cache_size, uint32_t frame_room, int socket_id, char *err, size_t errlen)
{
    const unsigned flags = RTE_MEMPOOL_F_NO_SPREAD;   /* padding would break the power of two */
    struct rte_mempool_objsz sz;
    struct rte_pktmbuf_pool_private mbp;
    struct rte_mempool *mp = NULL;
    const struct rte_memzone *mz = NULL;
    struct netchan_pool_walk w;
    uint32_t need, stride, elt, total;
    size_t pg_sz;
    int ret;

    need = (uint32_t)sizeof(struct rte_mbuf) + NETCHAN_DPDK_PRIV_SIZE + RTE_PKTMBUF_HEADROOM
           + frame_room;
    rte_mempool_calc_obj_size(0, flags, &sz);
    need += sz.header_size + sz.trailer_size;
    for (stride = 64; stride < need; stride <<= 1)
        ;
    elt = stride - sz.header_size - sz.trailer_size;
    total = rte_mempool_calc_obj_size(elt, flags, &sz);
    if (total != stride) {
        snprintf(err, errlen, "mempool object layout of this DPDK build gives %u-byte objects "
                 "for %u-byte elements; netchan needs a power of two (%u)", total, elt, stride);
        return NULL;
    }
    if (elt - sizeof(struct rte_mbuf) - NETCHAN_DPDK_PRIV_SIZE > UINT16_MAX) {
        snprintf(err, errlen, "frames of %u bytes do not fit one mbuf (64 KiB at most)", frame_room);
        return NULL;
    }
    if (count < 64 || count > NC_BUF_SLOT_MASK) {
        snprintf(err, errlen, "buffer count %u out of range (64..%u)", count, NC_BUF_SLOT_MASK);
        return NULL;
    }

    mp = rte_mempool_create_empty(name, count, elt, cache_size,
                                  sizeof(struct rte_pktmbuf_pool_private), socket_id, flags);
    if (mp == NULL) {
        snprintf(err, errlen, "rte_mempool_create_empty(%s, %u x %u B): %s", name, count, stride,
                 rte_strerror(rte_errno));
        return NULL;
    }
    ret = rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), NULL);
    if (ret != 0) {
        snprintf(err, errlen, "mempool ops %s: %s (is the mempool_ring driver loaded?)",
                 rte_mbuf_best_mempool_ops(), rte_strerror(-ret));
        goto fail;
    }
    memset(&mbp, 0, sizeof(mbp));
    mbp.mbuf_data_room_size = (uint16_t)(elt - sizeof(struct rte_mbuf) - NETCHAN_DPDK_PRIV_SIZE);
    mbp.mbuf_priv_size = NETCHAN_DPDK_PRIV_SIZE;
    rte_pktmbuf_pool_init(mp, &mbp);

    mz = rte_memzone_reserve_aligned(name, (size_t)count * stride, socket_id, 0, stride);
    if (mz == NULL) {
        snprintf(err, errlen, "cannot reserve %zu MiB for %u mbufs: %s (reserve more hugepages "
                 "with `netchan hugepages --reserve SIZE`, raise EAL -m, or ask for fewer bufs=)",
                 ((size_t)count * stride) >> 20, count, rte_strerror(rte_errno));
        goto fail;
    }
    pg_sz = mz->hugepage_sz ? (size_t)mz->hugepage_sz : (size_t)sysconf(_SC_PAGESIZE);
    if (stride <= pg_sz && pg_sz % stride != 0) {
        snprintf(err, errlen, "page size %zu is not a multiple of the mbuf stride %u", pg_sz, stride);
        goto fail;
    }
    ret = rte_mempool_populate_virt(mp, mz->addr, mz->len, pg_sz, netchan_pool_mz_free, (void *)mz);
    if (ret < 0) {
        snprintf(err, errlen, "populating mempool %s: %s", name, rte_strerror(-ret));
        goto fail;
    }
    mz = NULL;   /* the pool owns it now: freed with the pool */
    if ((uint32_t)ret != count) {
        snprintf(err, errlen, "mempool %s: only %d of %u mbufs fit the reserved memory "
                 "(pages not contiguous?)", name, ret, count);
        goto fail;
    }
    rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);
    memset(&w, 0, sizeof(w));
    w.init = 1;
    w.priv_room = NETCHAN_DPDK_PRIV_SIZE + mbp.mbuf_data_room_size;
    if (netchan_pool_walk(mp, &w) != 0) {
        snprintf(err, errlen, "mempool %s: %u of %u mbufs are not at base + index * %u "
                 "(populated in %u chunks of %zu-byte pages); netchan cannot address them by "
                 "index", name, w.misplaced, count, stride, mp->nb_mem_chunks, pg_sz);
        goto fail;
    }
    return mp;

fail:
    if (mz != NULL)
        rte_memzone_free(mz);
    rte_mempool_free(mp);
    return NULL;
}

/* ---- the port -------------------------------------------------------------- */

/* A Linux sender with checksum offload leaves only the pseudo-header sum in
 * a TCP/UDP checksum field; over a veth such a frame reaches an AF_XDP or
 * AF_PACKET socket with no metadata saying so (DPDK's af_packet PMD reads no
 * TP_STATUS_CSUMNOTREADY): netchan/csum_partial.h recognises it, the test the
 * xdp: port uses too. */
#define netchan_csum_is_partial nc_csum_is_partial

static inline struct rte_mbuf *netchan_dpdk_mbuf(const struct nc_port *p, uint32_t slot)
{
    return (struct rte_mbuf *)(p->pools[0].base + ((size_t)slot << ((const struct netchan_dpdk_port *)p)->stride_shift));
}

static uint32_t netchan_dpdk_rx_burst(struct nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now)
{
    struct netchan_dpdk_port *dp = (struct netchan_dpdk_port *)p;
    struct rte_mbuf *m[NETCHAN_DPDK_BURST];
    uint8_t *base = p->pools[0].base;
    uint32_t got = 0;
    while (got < n) {
        uint16_t want = (uint16_t)RTE_MIN(n - got, NETCHAN_DPDK_BURST);
        uint16_t k = rte_eth_rx_burst(dp->port_id, dp->queue, m, want);
        for (uint16_t i = 0; i < k; i++) {
            struct rte_mbuf *mb = m[i];
            uint64_t off = (uint64_t)((uintptr_t)mb - (uintptr_t)base);
            struct nc_buf *h;
            if (nc_unlikely(off >= dp->span || (off & (p->pools[0].stride - 1)) != 0)) {
                rte_pktmbuf_free(mb);
                dp->rx_foreign++;
                p->stats.rx_dropped++;
                continue;
            }
            if (nc_unlikely(mb->nb_segs != 1)) {
                rte_pktmbuf_free(mb);
                dp->rx_multiseg++;
                p->stats.rx_dropped++;
                continue;
            }
            h = netchan_mbuf_hdr(mb);
            h->slot = (uint32_t)(off >> dp->stride_shift);
            h->data_off = NETCHAN_DPDK_PRIV_SIZE + mb->data_off;
            h->len = mb->data_len;
            h->flags = ((mb->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD &&
                        (mb->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
                       ? NC_BUF_F_CSUM_OK : 0;
            /* good: the classifier skips its own pass; bad: the stack's
             * check finds it again, drops and counts it by protocol */
            if (h->flags)
                dp->rx_csum_good++;
            else if ((mb->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
                     (mb->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_BAD)
                dp->rx_csum_bad++;
            if (dp->rx_partial_csum && !h->flags &&
                netchan_csum_is_partial(rte_pktmbuf_mtod(mb, const uint8_t *), h->len)) {
                h->flags = NC_BUF_F_CSUM_OK;
                dp->rx_csum_partial++;
            }
            h->next = NC_BUF_NONE;
            h->stamp = now;
            bufs[got++] = h->slot;
            p->stats.rx_packets++;
            p->stats.rx_bytes += h->len;
        }
        if (k < want)
            break;
    }
    return got;
}

/* A TCP segment the stack left without its checksum (NC_BUF_F_CSUM_OK on
 * a port with NC_CAP_CSUM_TRUSTED): ask the PMD for it as DPDK wants it
 * (l2/l3/l4 lengths, TX_IPV4|TX_IPV6 and TX_TCP_CKSUM, the pseudo-header sum
 * in the checksum field: rte_ipv4_phdr_cksum/rte_ipv6_phdr_cksum). The IP
 * header checksum is the stack's, always. Anything else goes out as it is
 * (a buffer can carry CSUM_OK from receive, with its checksums in place). */
static inline void netchan_dpdk_tx_csum(struct netchan_dpdk_port *dp, struct rte_mbuf *mb)
{
    uint8_t *f = rte_pktmbuf_mtod(mb, uint8_t *);
    uint32_t len = mb->data_len, l3, l4;
    uint64_t ol;
    uint16_t phdr;
    if (len < 14 + 20 + 20)
        return;
    if (f[12] == 0x08 && f[13] == 0x00 && (f[14] >> 4) == 4 && f[14 + 9] == 6) {
        l3 = (uint32_t)(f[14] & 0xf) * 4;
        if (l3 < 20 || 14 + l3 + 20 > len)
            return;
        ol = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM;
        phdr = rte_ipv4_phdr_cksum((const struct rte_ipv4_hdr *)(f + 14), ol);
    } else if (f[12] == 0x86 && f[13] == 0xdd && len >= 14 + 40 + 20 && f[14 + 6] == 6) {
        l3 = 40;        /* netchan sends no extension headers */
        ol = RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_TCP_CKSUM;
        phdr = rte_ipv6_phdr_cksum((const struct rte_ipv6_hdr *)(f + 14), ol);
    } else {
        return;
    }
    l4 = (uint32_t)(f[14 + l3 + 12] >> 4) * 4;
    if (l4 < 20 || 14 + l3 + l4 > len)
        return;
    memcpy(f + 14 + l3 + 16, &phdr, 2);     /* network order already */
    mb->ol_flags = ol;
    mb->l2_len = 14;
    mb->l3_len = l3;
    mb->l4_len = l4;
    dp->tx_csum_offloaded++;
}

/* Check a buffer the stack hands over for transmit and point its mbuf at
 * the frame. Returns the mbuf, or NULL if the buffer cannot be sent. */
static inline struct rte_mbuf *netchan_dpdk_tx_prepare(struct netchan_dpdk_port *dp, uint32_t idx)
{
    struct nc_port *p = &dp->port;
    struct rte_mbuf *mb;
    struct nc_buf *h;
    uint32_t d;
    if (nc_unlikely(idx >= p->pools[0].count))     /* also refuses the pool bit */
        return NULL;
    mb = netchan_dpdk_mbuf(p, idx);
    h = netchan_mbuf_hdr(mb);
    if (nc_unlikely(h->flags & NC_BUF_F_FREE))
        return NULL;
    d = h->data_off - NETCHAN_DPDK_PRIV_SIZE;
    if (nc_unlikely(h->data_off < NETCHAN_DPDK_PRIV_SIZE || d > dp->buf_len ||
                    h->len > dp->buf_len - d))
        return NULL;
    mb->data_off = (uint16_t)d;
    mb->data_len = (uint16_t)h->len;
    mb->pkt_len = h->len;
    mb->nb_segs = 1;
    mb->next = NULL;
    mb->ol_flags = 0;
    mb->tx_offload = 0;
    mb->packet_type = 0;
    if ((h->flags & NC_BUF_F_CSUM_OK) && dp->tx_csum)
        netchan_dpdk_tx_csum(dp, mb);
    return mb;
}

/* Takes the first k buffers (sent, or dropped as invalid and counted); the
 * rest stay with the caller, as they were (the ring was full). With TSO on,
 * up to NETCHAN_DPDK_TSO_WINDOW buffers are prepared at a time and each run
 * that continues one connection goes out as one chain (nctso.c): a packet
 * handed to the PMD then stands for segs[i] of the caller's buffers. */
static uint32_t netchan_dpdk_tx_burst(struct nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now)
{
    struct netchan_dpdk_port *dp = (struct netchan_dpdk_port *)p;
    struct rte_mbuf *m[NETCHAN_DPDK_TSO_WINDOW];
    struct rte_mbuf *pk[NETCHAN_DPDK_TSO_WINDOW];
    struct netchan_dpdk_tso_undo undo[NETCHAN_DPDK_TSO_WINDOW];
    const uint32_t window = dp->tso ? NETCHAN_DPDK_TSO_WINDOW : NETCHAN_DPDK_BURST;
    uint32_t done = 0;
    (void)now;
    while (done < n) {
        uint32_t cnt = 0, np = 0, taken = 0;
        uint16_t sent;
        int bad = 0;
        while (done + cnt < n && cnt < window) {
            struct rte_mbuf *mb = netchan_dpdk_tx_prepare(dp, bufs[done + cnt]);
            if (mb == NULL) {
                bad = 1;
                break;
            }
            m[cnt++] = mb;
        }
        for (uint32_t i = 0; i < cnt; np++) {
            uint32_t k = dp->tso ? netchan_dpdk_tso_merge(dp, m + i, cnt - i, &undo[np]) : 0;
            if (k < 2) {
                k = 1;
                undo[np].segs = 1;
                undo[np].hdr = 0;
            }
            pk[np] = m[i];
            i += k;
        }
        sent = np ? rte_eth_tx_burst(dp->port_id, dp->queue, pk, (uint16_t)np) : 0;
        for (uint16_t i = 0; i < sent; i++) {
            /* the stack's frames: the chain's bytes plus the headers it shares */
            p->stats.tx_bytes += pk[i]->pkt_len + (uint64_t)(undo[i].segs - 1) * undo[i].hdr;
            taken += undo[i].segs;
        }
        p->stats.tx_packets += taken;
        done += taken;
        if (sent < np) {
            /* ring full: the rest is handed back, not dropped, and unchained
             * (the caller may free each buffer on its own) */
            for (uint32_t i = sent; i < np; i++) {
                if (undo[i].segs > 1) {
                    dp->tx_tso_packets--;
                    dp->tx_tso_segments -= undo[i].segs;
                    netchan_dpdk_tso_undo(pk[i], &undo[i]);
                }
            }
            break;
        }
        if (bad) {
            /* Taken and dropped: a buffer that cannot be sent would come back forever. */
            uint32_t idx = bufs[done];
            if (idx < p->pools[0].count) {
                struct rte_mbuf *mb = netchan_dpdk_mbuf(p, idx);
                struct nc_buf *h = netchan_mbuf_hdr(mb);
                if (!(h->flags & NC_BUF_F_FREE)) {
                    h->flags = NC_BUF_F_FREE;
                    rte_pktmbuf_free(mb);
                }
            }
            dp->tx_invalid++;
            p->stats.tx_dropped++;
            done++;
        }
    }
    return done;
}

static inline void netchan_dpdk_claim(struct netchan_dpdk_port *dp, struct rte_mbuf *mb, uint32_t *out)
{
    struct nc_buf *h = netchan_mbuf_hdr(mb);
    h->slot = (uint32_t)(((uintptr_t)mb - (uintptr_t)dp->port.pools[0].base) >> dp->stride_shift);
    /* data starts at the mbuf's headroom: NETCHAN_DPDK_PRIV_SIZE + RTE_PKTMBUF_HEADROOM
     * from the header (= nc_buf_reset's default when both are 64 and 128) */
    h->data_off = NETCHAN_DPDK_PRIV_SIZE + mb->data_off;
    h->len = 0;
    h->flags = 0;
    h->next = NC_BUF_NONE;
    *out = h->slot;
}

static uint32_t netchan_dpdk_alloc_burst(struct nc_port *p, uint32_t *bufs, uint32_t n)
{
    struct netchan_dpdk_port *dp = (struct netchan_dpdk_port *)p;
    struct rte_mbuf *m[NETCHAN_DPDK_BURST];
    uint32_t got = 0;
    while (got < n) {
        unsigned want = RTE_MIN(n - got, NETCHAN_DPDK_BURST);
        if (rte_pktmbuf_alloc_bulk(dp->mp, m, want) != 0) {
            /* all or nothing: take what is left one by one */
            struct rte_mbuf *one;
            while (got < n && (one = rte_pktmbuf_alloc(dp->mp)) != NULL)
                netchan_dpdk_claim(dp, one, &bufs[got++]);
            break;
        }
        for (unsigned i = 0; i < want; i++)
            netchan_dpdk_claim(dp, m[i], &bufs[got++]);
    }
    if (got < n)
        p->stats.alloc_failed += n - got;
    return got;
}

static void netchan_dpdk_free_burst(struct nc_port *p, const uint32_t *bufs, uint32_t n)
{
    struct rte_mbuf *m[NETCHAN_DPDK_BURST];
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct rte_mbuf *mb;
        struct nc_buf *h;
        if (nc_unlikely(bufs[i] >= p->pools[0].count)) {
            p->stats.double_free++;     /* not a buffer of this port: a bug, counted */
            continue;
        }
        mb = netchan_dpdk_mbuf(p, bufs[i]);
        h = netchan_mbuf_hdr(mb);
        if (nc_unlikely(h->flags & NC_BUF_F_FREE)) {
            p->stats.double_free++;
            continue;
        }
        h->flags = NC_BUF_F_FREE;
        m[k++] = mb;
        if (k == NETCHAN_DPDK_BURST) {
            netchan_pktmbuf_free_bulk(m, k);
            k = 0;
        }
    }
    if (k)
        netchan_pktmbuf_free_bulk(m, k);
}

static uint64_t netchan_dpdk_next_deadline(struct nc_port *p)
{
    (void)p;
    return UINT64_MAX;
}

/* Most poll-mode drivers have no doorbell: return at once (caps lacks
 * NC_CAP_SLEEP, so the stack naps briefly instead). net_af_xdp's XSK socket
 * is one: it turns readable as soon as the kernel puts a frame in its rx
 * ring, so an idle stack sleeps there and wakes for the next frame, not at
 * the end of a 1 ms nap (rr over net_af_xdp was bound by those naps). */
static void netchan_dpdk_wait(struct nc_port *p, uint64_t timeout_ns)
{
    struct netchan_dpdk_port *dp = (struct netchan_dpdk_port *)p;
    struct pollfd pfd;
    struct timespec ts;
    if (dp->wake_fd < 0)
        return;
    pfd.fd = dp->wake_fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    ts.tv_sec = (time_t)(timeout_ns / 1000000000u);
    ts.tv_nsec = (long)(timeout_ns % 1000000000u);
    if (ppoll(&pfd, 1, &ts, NULL) < 0 && errno != EINTR) {
        dp->wait_poll_failed++;
        ts.tv_sec = 0;
        ts.tv_nsec = timeout_ns < 1000000u ? (long)timeout_ns : 1000000L;
        nanosleep(&ts, NULL);       /* never spin hot on a broken descriptor */
    }
}

static int netchan_dpdk_link_up(struct nc_port *p)
{
    struct netchan_dpdk_port *dp = (struct netchan_dpdk_port *)p;
    struct rte_eth_link link;
    memset(&link, 0, sizeof(link));
    if (rte_eth_link_get_nowait(dp->port_id, &link) != 0)
        return 0;
    return link.link_status == NETCHAN_ETH_LINK_UP;
}

/* Stopping and closing the ethdev is the control plane's job (Python); the
 * vtable's close only makes the port inert. */
static void netchan_dpdk_close(struct nc_port *p);

static const struct nc_port_ops netchan_dpdk_ops = {
    .rx_burst = netchan_dpdk_rx_burst,
    .tx_burst = netchan_dpdk_tx_burst,
    .alloc_burst = netchan_dpdk_alloc_burst,
    .free_burst = netchan_dpdk_free_burst,
    .next_deadline = netchan_dpdk_next_deadline,
    .wait = netchan_dpdk_wait,
    .link_up = netchan_dpdk_link_up,
    .close = netchan_dpdk_close,
};

/* ---- a retired port: the ethdev is closed, the pool may be gone ---------- */

static uint32_t netchan_dpdk_dead_rx(struct nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now)
{ (void)p; (void)bufs; (void)n; (void)now; return 0; }
static uint32_t netchan_dpdk_dead_tx(struct nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now)
{ (void)bufs; (void)now; p->stats.tx_dropped += n; return n; }
static uint32_t netchan_dpdk_dead_alloc(struct nc_port *p, uint32_t *bufs, uint32_t n)
{ (void)bufs; p->stats.alloc_failed += n; return 0; }
static void netchan_dpdk_dead_free(struct nc_port *p, const uint32_t *bufs, uint32_t n)
{ (void)p; (void)bufs; (void)n; }
static int netchan_dpdk_dead_link_up(struct nc_port *p) { (void)p; return 0; }

static const struct nc_port_ops netchan_dpdk_dead_ops = {
    .rx_burst = netchan_dpdk_dead_rx,
    .tx_burst = netchan_dpdk_dead_tx,
    .alloc_burst = netchan_dpdk_dead_alloc,
    .free_burst = netchan_dpdk_dead_free,
    .next_deadline = netchan_dpdk_next_deadline,
    .wait = netchan_dpdk_wait,
    .link_up = netchan_dpdk_dead_link_up,
    .close = netchan_dpdk_close,
};

static void netchan_dpdk_close(struct nc_port *p)
{
    netchan_dpdk_port_retire((struct netchan_dpdk_port *)p);
}

/* ---- life cycle (control plane) ------------------------------------------- */

/* The nc_port for queue `queue` of started ethdev `port_id`, whose rx queue
 * takes mbufs from mp. Caller owns the result: netchan_dpdk_port_free. */
struct netchan_dpdk_port *netchan_dpdk_port_new(uint16_t port_id, uint16_t queue,
        struct rte_mempool *mp, char *err, size_t errlen)
{
    struct netchan_dpdk_pool_info info;
    struct netchan_dpdk_port *dp;
    struct rte_ether_addr mac;
    uint16_t mtu = 1500;
    int ret;
    if (netchan_dpdk_pool_check(mp, &info, err, errlen) != 0)
        return NULL;
    if ((info.stride & (info.stride - 1)) != 0) {
        snprintf(err, errlen, "mempool %s: stride %u is not a power of two", mp->name, info.stride);
        return NULL;
    }
    ret = rte_eth_macaddr_get(port_id, &mac);
    if (ret != 0) {
        snprintf(err, errlen, "port %u: cannot read its MAC address: %s", port_id, rte_strerror(-ret));
        return NULL;
    }
    rte_eth_dev_get_mtu(port_id, &mtu);
    dp = calloc(1, sizeof(*dp));
    if (dp == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    dp->port_id = port_id;
    dp->queue = queue;
    dp->mp = mp;
    dp->buf_len = info.buf_len;
    dp->stride_shift = (uint32_t)__builtin_ctz(info.stride);
    dp->span = (uint64_t)info.count * info.stride;
    dp->port.ops = &netchan_dpdk_ops;
    dp->port.pools[0].base = (uint8_t *)info.base;
    dp->port.pools[0].stride = info.stride;
    dp->port.pools[0].hdr_off = (uint32_t)sizeof(struct rte_mbuf);
    dp->port.pools[0].count = info.count;
    dp->port.pools[0].data_room = info.data_room;
    /* pools[1] stays empty: a DPDK port has one pool, indices never carry bit 31 */
    memcpy(dp->port.mac, mac.addr_bytes, 6);
    dp->port.mtu = mtu;
    dp->port.caps = 0;
    dp->wake_fd = -1;
    return dp;
}

/* Receive and free whatever is waiting (before stopping the device, so no
 * mbuf of a pool about to be freed stays queued in a ring). */
uint32_t netchan_dpdk_port_drain(struct netchan_dpdk_port *dp)
{
    struct rte_mbuf *m[NETCHAN_DPDK_BURST];
    uint32_t total = 0;
    for (int round = 0; round < 4096; round++) {
        uint16_t k = rte_eth_rx_burst(dp->port_id, dp->queue, m, NETCHAN_DPDK_BURST);
        if (k == 0)
            break;
        netchan_pktmbuf_free_bulk(m, k);
        total += k;
    }
    return total;
}

/* Make the port inert: every call returns at once, nothing touches the pool. */
void netchan_dpdk_port_retire(struct netchan_dpdk_port *dp)
{
    dp->port.ops = &netchan_dpdk_dead_ops;
    dp->retired = 1;
}

/* While the ethdev is stopped: inert like a retired port, but it can come back. */
void netchan_dpdk_port_pause(struct netchan_dpdk_port *dp)
{
    dp->port.ops = &netchan_dpdk_dead_ops;
}

int netchan_dpdk_port_resume(struct netchan_dpdk_port *dp)
{
    if (dp->retired)
        return -1;
    dp->port.ops = &netchan_dpdk_ops;
    return 0;
}

void netchan_dpdk_port_free(struct netchan_dpdk_port *dp)
{
    free(dp);
}

/* The address family of socket fd (SO_DOMAIN), or -1. Python's socket
 * module cannot wrap an AF_XDP socket (it has no getsockname), so the
 * control plane asks here which descriptor is the af_xdp PMD's XSK. */
int netchan_socket_domain(int fd)
{
    int dom = -1;
    socklen_t len = sizeof(dom);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &len) != 0)
        return -1;
    return dom;
}

void netchan_dpdk_port_set_tx_csum(struct netchan_dpdk_port *dp, int tx_tcp_csum)
{
    dp->tx_csum = tx_tcp_csum != 0;
    if (dp->tx_csum)
        dp->port.caps |= NC_CAP_CSUM_TRUSTED;
    else
        dp->port.caps &= ~NC_CAP_CSUM_TRUSTED;
}

/* Attach a classic BPF program (struct sock_filter[], len bytes) to socket
 * fd: 0 or -errno. For a queue of a per-core set (netchan.steer). */
int netchan_attach_filter(int fd, const uint8_t *code, uint32_t len)
{
    struct sock_fprog prog;
    prog.len = (unsigned short)(len / sizeof(struct sock_filter));
    prog.filter = (struct sock_filter *)(uintptr_t)code;
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) != 0)
        return -errno;
    return 0;
}

/* Sleep on fd in wait() (NC_CAP_SLEEP); -1: no doorbell. */
void netchan_dpdk_port_set_wake_fd(struct netchan_dpdk_port *dp, int fd)
{
    dp->wake_fd = fd;
    if (fd >= 0)
        dp->port.caps |= NC_CAP_SLEEP;
    else
        dp->port.caps &= ~NC_CAP_SLEEP;
}

void netchan_dpdk_port_set_tso(struct netchan_dpdk_port *dp, int on, int ipv6,
        uint32_t frame_max, uint32_t seg_max, uint32_t mtu_seg_max)
{
    dp->tso = on != 0 && dp->tx_csum;     /* the device must fill in the checksums */
    dp->tso_ipv6 = ipv6 != 0;
    dp->tso_frame_max = frame_max;
    dp->tso_seg_max = (uint16_t)RTE_MIN(seg_max, (uint32_t)NETCHAN_DPDK_TSO_WINDOW);
    dp->tso_mtu_seg_max = (uint16_t)RTE_MIN(mtu_seg_max, (uint32_t)UINT16_MAX);
}

uint32_t netchan_dpdk_tso_probe(struct netchan_dpdk_port *dp, const uint32_t *bufs, uint32_t n,
        struct netchan_dpdk_tso_view *view, uint8_t *frame, uint32_t room)
{
    struct rte_mbuf *m[NETCHAN_DPDK_TSO_WINDOW];
    struct netchan_dpdk_tso_undo undo;
    uint32_t k, cnt = 0;
    memset(view, 0, sizeof(*view));
    while (cnt < n && cnt < NETCHAN_DPDK_TSO_WINDOW) {
        m[cnt] = netchan_dpdk_tx_prepare(dp, bufs[cnt]);
        if (m[cnt] == NULL)
            break;
        cnt++;
    }
    k = netchan_dpdk_tso_merge(dp, m, cnt, &undo);
    if (k < 2)
        return 0;
    view->merged = k;
    view->nb_segs = m[0]->nb_segs;
    view->pkt_len = m[0]->pkt_len;
    view->data_len = m[0]->data_len;
    view->l2_len = m[0]->l2_len;
    view->l3_len = m[0]->l3_len;
    view->l4_len = m[0]->l4_len;
    view->tso_segsz = m[0]->tso_segsz;
    view->tcp_seg = (m[0]->ol_flags & RTE_MBUF_F_TX_TCP_SEG) != 0;
    view->tcp_cksum = (m[0]->ol_flags & RTE_MBUF_F_TX_L4_MASK) == RTE_MBUF_F_TX_TCP_CKSUM;
    view->ip_cksum = (m[0]->ol_flags & RTE_MBUF_F_TX_IP_CKSUM) != 0;
    view->ipv4 = (m[0]->ol_flags & RTE_MBUF_F_TX_IPV4) != 0;
    view->ipv6 = (m[0]->ol_flags & RTE_MBUF_F_TX_IPV6) != 0;
    for (struct rte_mbuf *s = m[0]; s != NULL; s = s->next) {
        uint32_t c = RTE_MIN((uint32_t)s->data_len, room - view->frame_len);
        memcpy(frame + view->frame_len, rte_pktmbuf_mtod(s, const uint8_t *), c);
        view->frame_len += c;
    }
    netchan_dpdk_tso_undo(m[0], &undo);
    return k;
}

/* The header of buffer idx (for tests and tools; the stack has nc_port_buf). */
struct nc_buf *netchan_dpdk_buf(struct netchan_dpdk_port *dp, uint32_t idx)
{
    if (idx >= dp->port.pools[0].count)
        return NULL;
    return nc_port_buf(&dp->port, idx);
}
