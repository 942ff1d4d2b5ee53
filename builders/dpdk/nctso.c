/* TSO on a DPDK port: a run of TCP segments the stack built for one
 * connection, each following the one before in sequence, goes to the PMD as
 * one mbuf chain that the device (or the PMD's software GSO) cuts back into
 * segments. The first mbuf keeps the first segment whole (its headers become
 * the template); every following mbuf is moved past its own headers
 * (data_off/data_len only: no byte is copied), so the chain is
 * headers + payload + payload + ...
 *
 * What may be merged is what the afpacket port merges (afp_tso_merge in
 * pyx/ports/afpacket_offload.pxi): the same connection with the same headers
 * but for IP length, id and checksum and TCP sequence, PSH and FIN; every
 * segment but the last carrying exactly the first one's payload (the MSS), no
 * SYN/RST/URG/CWR/PSH/FIN before the last. Cut at that MSS, the super-packet
 * gives back exactly the segments the stack built.
 *
 * Ownership: every mbuf of a chain has refcount 1 and belongs to the chain
 * (the PMD frees the chain once, rte_pktmbuf_free walking it; a software GSO
 * such as net_tap's attaches indirect mbufs, which take their own reference
 * and give it back). A chain the PMD refused is taken apart again
 * (netchan_dpdk_tso_undo), so the buffers go back to the stack as it handed
 * them over: each freed on its own, never through a stale next pointer. */
#include <string.h>

#include <rte_ip.h>
#include <rte_mbuf.h>

#include "dpdk_shims.h"
#include "ncport.h"

#define ETH_HLEN 14u
#define IPV4_HLEN 20u
#define IPV6_HLEN 40u
#define TCP_HLEN 20u
#define TSO_PKT_MAX 65535u       /* pkt_len of one super-packet (and an IPv4 length) */

#define TCP_FIN 0x01u
#define TCP_PSH 0x08u
#define TCP_ACK 0x10u
#define TCP_ECE 0x40u

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

/* The TCP payload length of an IPv4 or IPv6 TCP frame TSO may carry (no
 * fragment, no extension header, no Ethernet padding, headers inside the
 * frame), else 0. *hdr: Ethernet + IP + TCP header length; *l3: IP's. */
static uint32_t tso_tcp_payload(const uint8_t *f, uint32_t len, uint32_t *hdr, uint32_t *l3)
{
    uint32_t ihl, tot, thl;
    if (len >= ETH_HLEN + IPV6_HLEN + TCP_HLEN && rd16(f + 12) == 0x86dd) {
        if ((f[ETH_HLEN] >> 4) != 6 || f[ETH_HLEN + 6] != 6)
            return 0;
        ihl = IPV6_HLEN;
        tot = IPV6_HLEN + rd16(f + ETH_HLEN + 4);
    } else {
        if (len < ETH_HLEN + IPV4_HLEN + TCP_HLEN || rd16(f + 12) != 0x0800)
            return 0;
        if ((f[ETH_HLEN] >> 4) != 4 || f[ETH_HLEN + 9] != 6)
            return 0;
        ihl = (uint32_t)(f[ETH_HLEN] & 0x0f) * 4;
        tot = rd16(f + ETH_HLEN + 2);
        if (ihl < IPV4_HLEN || (rd16(f + ETH_HLEN + 6) & 0x3fff))
            return 0;
    }
    if (ETH_HLEN + tot != len || ETH_HLEN + ihl + TCP_HLEN > len)
        return 0;
    thl = (uint32_t)(f[ETH_HLEN + ihl + 12] >> 4) * 4;
    if (thl < TCP_HLEN || ihl + thl >= tot)
        return 0;
    *hdr = ETH_HLEN + ihl + thl;
    *l3 = ihl;
    return len - *hdr;
}

/* g continues f (same connection, same headers but for IP length, id and
 * checksum, TCP sequence and checksum, PSH and FIN); hdr and ihl are f's. */
static int tso_same_headers(const uint8_t *f, const uint8_t *g, uint32_t hdr, uint32_t ihl,
                            int v6)
{
    const uint32_t th = ETH_HLEN + ihl;
    if (v6) {
        /* Ethernet + version..flow label; next header..addresses */
        if (memcmp(f, g, ETH_HLEN + 4) != 0 ||
            memcmp(f + ETH_HLEN + 6, g + ETH_HLEN + 6, IPV6_HLEN - 6) != 0)
            return 0;
    } else {
        /* Ethernet + version..tos; flags..protocol; addresses and options */
        if (memcmp(f, g, ETH_HLEN + 2) != 0 ||
            memcmp(f + ETH_HLEN + 6, g + ETH_HLEN + 6, 4) != 0 ||
            memcmp(f + ETH_HLEN + 12, g + ETH_HLEN + 12, ihl - 12) != 0)
            return 0;
    }
    /* ports; ack + data offset; window; urgent pointer + options */
    return memcmp(f + th, g + th, 4) == 0 &&
           memcmp(f + th + 8, g + th + 8, 5) == 0 &&
           memcmp(f + th + 14, g + th + 14, 2) == 0 &&
           memcmp(f + th + 18, g + th + 18, hdr - th - 18) == 0;
}

uint32_t netchan_dpdk_tso_merge(struct netchan_dpdk_port *dp, struct rte_mbuf **m, uint32_t n,
                                struct netchan_dpdk_tso_undo *undo)
{
    const uint8_t *f, *g;
    uint8_t *ip, *th;
    uint32_t hdr, ghdr, ihl, gihl, mss, segsz, pay, total, k, seq, limit;
    uint8_t flags, gflags, last_flags;
    uint64_t ol;
    uint16_t phdr;
    int v6;

    if (n < 2)
        return 0;
    f = rte_pktmbuf_mtod(m[0], const uint8_t *);
    mss = tso_tcp_payload(f, m[0]->data_len, &hdr, &ihl);
    if (mss == 0)
        return 0;
    v6 = rd16(f + 12) == 0x86dd;
    if (v6 && !dp->tso_ipv6)
        return 0;
    flags = f[ETH_HLEN + ihl + 13];
    if (flags & ~(TCP_ACK | TCP_ECE))
        return 0;                   /* SYN, FIN, RST, URG, PSH, CWR: not a middle segment */
    /* The size the device cuts at: the MSS, unless the PMD takes less (net_tap
     * wants header + segment <= its MTU: then the cuts fall elsewhere than
     * the stack's, each piece spanning up to two mbufs). */
    segsz = mss;
    if (dp->tso_frame_max && hdr + segsz > dp->tso_frame_max) {
        if (dp->tso_frame_max <= hdr + 64)
            return 0;
        segsz = dp->tso_frame_max - hdr;
    }
    if (dp->tso_mtu_seg_max < (segsz == mss ? 1u : 2u))
        return 0;
    limit = n < dp->tso_seg_max ? n : dp->tso_seg_max;
    seq = rd32(f + ETH_HLEN + ihl + 4) + mss;
    total = m[0]->data_len;
    last_flags = flags;
    k = 1;
    while (k < limit && total + mss <= TSO_PKT_MAX) {
        g = rte_pktmbuf_mtod(m[k], const uint8_t *);
        pay = tso_tcp_payload(g, m[k]->data_len, &ghdr, &gihl);
        if (pay == 0 || pay > mss || ghdr != hdr || gihl != ihl || (rd16(g + 12) == 0x86dd) != v6)
            break;
        gflags = g[ETH_HLEN + ihl + 13];
        if ((gflags & ~(TCP_PSH | TCP_FIN)) != flags || rd32(g + ETH_HLEN + ihl + 4) != seq)
            break;
        if (!tso_same_headers(f, g, hdr, ihl, v6))
            break;
        total += pay;
        seq += pay;
        last_flags = gflags;
        k++;
        if (pay < mss || (gflags & (TCP_PSH | TCP_FIN)))
            break;
    }
    if (k < 2)
        return 0;

    /* the chain: first segment whole, then the others' payloads */
    for (uint32_t i = 1; i < k; i++) {
        struct rte_mbuf *s = m[i];
        s->data_off = (uint16_t)(s->data_off + hdr);
        s->data_len = (uint16_t)(s->data_len - hdr);
        s->pkt_len = s->data_len;
        s->nb_segs = 1;
        s->ol_flags = 0;
        s->next = NULL;
        m[i - 1]->next = s;
    }
    m[0]->nb_segs = (uint16_t)k;
    m[0]->pkt_len = total;

    ip = rte_pktmbuf_mtod(m[0], uint8_t *) + ETH_HLEN;
    th = ip + ihl;
    undo->segs = (uint16_t)k;
    undo->hdr = (uint16_t)hdr;
    undo->l3 = (uint16_t)ihl;
    undo->tcp_flags = th[13];
    memcpy(&undo->ip_len, v6 ? ip + 4 : ip + 2, 2);
    memcpy(&undo->ip_csum, ip + 10, 2);
    memcpy(&undo->tcp_csum, th + 16, 2);

    th[13] = last_flags;
    if (v6) {
        wr16(ip + 4, (uint16_t)(total - ETH_HLEN - IPV6_HLEN));
        ol = RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_TCP_CKSUM;
        phdr = rte_ipv6_phdr_cksum((const struct rte_ipv6_hdr *)ip, ol);
    } else {
        /* the device writes each segment's length, id and header checksum */
        wr16(ip + 2, (uint16_t)(total - ETH_HLEN));
        ip[10] = ip[11] = 0;
        ol = RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM |
             RTE_MBUF_F_TX_TCP_CKSUM;
        phdr = rte_ipv4_phdr_cksum((const struct rte_ipv4_hdr *)ip, ol);
    }
    /* the pseudo-header sum without the length (DPDK's TSO convention) */
    memcpy(th + 16, &phdr, 2);
    m[0]->ol_flags = ol;
    m[0]->l2_len = ETH_HLEN;
    m[0]->l3_len = ihl;
    m[0]->l4_len = hdr - ETH_HLEN - ihl;
    m[0]->tso_segsz = (uint16_t)segsz;
    dp->tx_tso_packets++;
    dp->tx_tso_segments += k;
    return k;
}

void netchan_dpdk_tso_undo(struct rte_mbuf *head, const struct netchan_dpdk_tso_undo *undo)
{
    uint8_t *ip = rte_pktmbuf_mtod(head, uint8_t *) + ETH_HLEN;
    uint8_t *th = ip + undo->l3;
    struct rte_mbuf *s = head->next;
    int v6 = (ip[0] >> 4) == 6;
    memcpy(v6 ? ip + 4 : ip + 2, &undo->ip_len, 2);
    if (!v6)
        memcpy(ip + 10, &undo->ip_csum, 2);
    memcpy(th + 16, &undo->tcp_csum, 2);
    th[13] = undo->tcp_flags;
    head->pkt_len = head->data_len;
    head->nb_segs = 1;
    head->next = NULL;
    head->ol_flags = 0;
    head->tx_offload = 0;
    while (s != NULL) {
        struct rte_mbuf *next = s->next;
        s->data_off = (uint16_t)(s->data_off - undo->hdr);
        s->data_len = (uint16_t)(s->data_len + undo->hdr);
        s->pkt_len = s->data_len;
        s->next = NULL;
        s = next;
    }
}
