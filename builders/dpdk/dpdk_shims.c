/* Bodies of the wrappers declared in dpdk_shims.h, one section per header
 * area. */
#include <stdio.h>
#include <string.h>

#include <rte_log.h>

#include "dpdk_shims.h"

/* ---- EAL ------------------------------------------------------------------ */

int netchan_rte_errno(void)
{
    return rte_errno;
}

int netchan_log_to_stderr(void)
{
    return rte_openlog_stream(stderr);
}

const char *netchan_runtime_dir(void)
{
#if NETCHAN_HAS_RUNTIME_DIR
    return rte_eal_get_runtime_dir();
#else
    return NULL;
#endif
}

#ifdef RTE_EAL_PMD_PATH
const char NETCHAN_EAL_PMD_PATH[] = RTE_EAL_PMD_PATH;
#else
const char NETCHAN_EAL_PMD_PATH[] = "";
#endif

/* ---- mempool -------------------------------------------------------------- */

const char *netchan_mempool_name(const struct rte_mempool *mp)
{
    return mp->name;
}

/* ---- mbuf ----------------------------------------------------------------- */

#if !NETCHAN_HAS_PKTMBUF_FREE_BULK
void netchan_pktmbuf_free_bulk(struct rte_mbuf **m, unsigned int n)
{
    for (unsigned int i = 0; i < n; i++)
        rte_pktmbuf_free(m[i]);
}
#endif

uint16_t netchan_pktmbuf_data_room_size(struct rte_mempool *mp)
{
    return rte_pktmbuf_data_room_size(mp);
}

uint16_t netchan_pktmbuf_priv_size(struct rte_mempool *mp)
{
    return rte_pktmbuf_priv_size(mp);
}

/* ---- ethdev --------------------------------------------------------------- */

int netchan_eth_link_get(uint16_t port_id, struct netchan_eth_link *out)
{
    struct rte_eth_link link;
    int ret;
    memset(&link, 0, sizeof(link));
    memset(out, 0, sizeof(*out));
    ret = rte_eth_link_get_nowait(port_id, &link);
    if (ret != 0)
        return ret;
    out->speed_mbps = link.link_speed;
    out->full_duplex = link.link_duplex;
    out->autoneg = link.link_autoneg;
    out->up = link.link_status == NETCHAN_ETH_LINK_UP;
#if NETCHAN_HAS_LINK_TO_STR
    rte_eth_link_to_str(out->text, sizeof(out->text), &link);
#else
    snprintf(out->text, sizeof(out->text), "Link %s", out->up ? "up" : "down");
#endif
    return 0;
}

void netchan_eth_conf_set_mtu(struct rte_eth_conf *conf, uint32_t mtu)
{
#if NETCHAN_HAS_RXMODE_MTU
    conf->rxmode.mtu = mtu;
#else
    (void)conf;
    (void)mtu;
#endif
}
