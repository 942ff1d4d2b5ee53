/* DPDK as netchan's cffi binding sees it, across DPDK versions: wrappers for
 * what cffi cannot call (static inline functions, per-lcore macros), and
 * NETCHAN_HAS_* flags for what an older DPDK lacks (0 with a stub, read by
 * netchan.dpdk.FEATURES, never a build failure). One section per header
 * area, as builders/dpdk/{eal,mempool,mbuf,ethdev}.py; bodies in dpdk_shims.c.
 *
 * What lies between "cffi-cdef: begin" and "cffi-cdef: end" is also the cffi
 * binding's declaration (builders/dpdk/ethdev.py reads it from here). */
#ifndef NETCHAN_DPDK_SHIMS_H
#define NETCHAN_DPDK_SHIMS_H

#include <stdint.h>

#include <rte_version.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

/* ---- EAL: rte_eal.h, rte_log.h, rte_version.h (eal.py) ------------------- */

/* rte_errno is a per-lcore macro, not a symbol cffi can read. */
int netchan_rte_errno(void);
/* The Linux EAL logs to stdout (and syslog) by default; a library must not
 * write into its host program's stdout. Call before rte_eal_init. */
int netchan_log_to_stderr(void);

/* Where the EAL keeps its runtime files (/var/run/dpdk/PREFIX for root);
 * NULL before 18.05. */
#if RTE_VERSION >= RTE_VERSION_NUM(18, 5, 0, 0)
#define NETCHAN_HAS_RUNTIME_DIR 1
#else
#define NETCHAN_HAS_RUNTIME_DIR 0
#endif
const char *netchan_runtime_dir(void);

/* Where a shared-library DPDK (Debian's) loads its drivers from; "" when the
 * drivers are linked in. */
extern const char NETCHAN_EAL_PMD_PATH[];

/* ---- mempool: rte_mempool.h (mempool.py) ---------------------------------- */

#ifndef RTE_MEMPOOL_F_NO_SPREAD            /* the name before 21.11 */
#define RTE_MEMPOOL_F_NO_SPREAD MEMPOOL_F_NO_SPREAD
#endif

const char *netchan_mempool_name(const struct rte_mempool *mp);

/* ---- mbuf: rte_mbuf.h (mbuf.py) ------------------------------------------- */

#define NETCHAN_SIZEOF_MBUF ((unsigned int)sizeof(struct rte_mbuf))

#ifndef RTE_MBUF_F_RX_IP_CKSUM_MASK        /* the names before 21.11 */
#define RTE_MBUF_F_RX_IP_CKSUM_MASK PKT_RX_IP_CKSUM_MASK
#define RTE_MBUF_F_RX_IP_CKSUM_GOOD PKT_RX_IP_CKSUM_GOOD
#define RTE_MBUF_F_RX_L4_CKSUM_MASK PKT_RX_L4_CKSUM_MASK
#define RTE_MBUF_F_RX_L4_CKSUM_GOOD PKT_RX_L4_CKSUM_GOOD
#endif

/* rte_pktmbuf_free_bulk arrived in 19.11; older DPDK frees one by one. */
#if RTE_VERSION >= RTE_VERSION_NUM(19, 11, 0, 0)
#define NETCHAN_HAS_PKTMBUF_FREE_BULK 1
#define netchan_pktmbuf_free_bulk rte_pktmbuf_free_bulk
#else
#define NETCHAN_HAS_PKTMBUF_FREE_BULK 0
void netchan_pktmbuf_free_bulk(struct rte_mbuf **m, unsigned int n);
#endif

/* static inline in rte_mbuf.h: wrapped so cffi can call them. */
uint16_t netchan_pktmbuf_data_room_size(struct rte_mempool *mp);
uint16_t netchan_pktmbuf_priv_size(struct rte_mempool *mp);

/* ---- ethdev: rte_ethdev.h (ethdev.py) ------------------------------------- */

#ifdef RTE_ETH_LINK_UP                     /* the name since 21.11 */
#define NETCHAN_ETH_LINK_UP RTE_ETH_LINK_UP
#else
#define NETCHAN_ETH_LINK_UP ETH_LINK_UP
#endif

#if RTE_VERSION >= RTE_VERSION_NUM(20, 11, 0, 0)
#define NETCHAN_HAS_LINK_TO_STR 1
#else
#define NETCHAN_HAS_LINK_TO_STR 0
#endif

/* rxmode.mtu replaced max_rx_pkt_len in 21.11 (before, setting it is a no-op). */
#if RTE_VERSION >= RTE_VERSION_NUM(21, 11, 0, 0)
#define NETCHAN_HAS_RXMODE_MTU 1
#else
#define NETCHAN_HAS_RXMODE_MTU 0
#endif

/* Offload capability bits: RTE_ETH_*_OFFLOAD_* since 21.11, DEV_*_OFFLOAD_*
 * before. */
#ifndef RTE_ETH_TX_OFFLOAD_TCP_CKSUM
#define RTE_ETH_RX_OFFLOAD_IPV4_CKSUM DEV_RX_OFFLOAD_IPV4_CKSUM
#define RTE_ETH_RX_OFFLOAD_UDP_CKSUM DEV_RX_OFFLOAD_UDP_CKSUM
#define RTE_ETH_RX_OFFLOAD_TCP_CKSUM DEV_RX_OFFLOAD_TCP_CKSUM
#define RTE_ETH_TX_OFFLOAD_IPV4_CKSUM DEV_TX_OFFLOAD_IPV4_CKSUM
#define RTE_ETH_TX_OFFLOAD_UDP_CKSUM DEV_TX_OFFLOAD_UDP_CKSUM
#define RTE_ETH_TX_OFFLOAD_TCP_CKSUM DEV_TX_OFFLOAD_TCP_CKSUM
#define RTE_ETH_TX_OFFLOAD_TCP_TSO DEV_TX_OFFLOAD_TCP_TSO
#endif
#ifndef RTE_MBUF_F_TX_TCP_CKSUM             /* mbuf flag names before 21.11 */
#define RTE_MBUF_F_TX_IPV4 PKT_TX_IPV4
#define RTE_MBUF_F_TX_IPV6 PKT_TX_IPV6
#define RTE_MBUF_F_TX_TCP_CKSUM PKT_TX_TCP_CKSUM
#define RTE_MBUF_F_TX_TCP_SEG PKT_TX_TCP_SEG
#define RTE_MBUF_F_TX_IP_CKSUM PKT_TX_IP_CKSUM
#define RTE_MBUF_F_TX_L4_MASK PKT_TX_L4_MASK
#define RTE_MBUF_F_RX_IP_CKSUM_BAD PKT_RX_IP_CKSUM_BAD
#define RTE_MBUF_F_RX_L4_CKSUM_BAD PKT_RX_L4_CKSUM_BAD
#endif

/* cffi-cdef: begin */
/* struct rte_eth_link has bit-fields (which cffi cannot mix with "...;"):
 * read through netchan_eth_link_get into this plain struct instead. */
struct netchan_eth_link {
    uint32_t speed_mbps;
    int full_duplex;
    int autoneg;
    int up;
    char text[64];
};
/* cffi-cdef: end */

/* Link state without waiting (rte_eth_link_get may block up to 9 s). */
int netchan_eth_link_get(uint16_t port_id, struct netchan_eth_link *out);
void netchan_eth_conf_set_mtu(struct rte_eth_conf *conf, uint32_t mtu);

#endif /* NETCHAN_DPDK_SHIMS_H */
