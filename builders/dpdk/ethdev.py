"""rte_ethdev.h, rte_ether.h: Ethernet devices (ports) and their queues,
link, statistics, MAC and MTU.

netchan's wrappers and flags are C in dpdk_shims.h/.c (ethdev section)."""

from netchan_types import cdef_regions

INCLUDES = """
#include <string.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include "dpdk_shims.h"
"""

TYPES = """
#define RTE_MAX_ETHPORTS ...
#define RTE_ETH_NAME_MAX_LEN ...
#define RTE_ETH_XSTATS_NAME_SIZE ...
#define RTE_ETH_RX_OFFLOAD_IPV4_CKSUM ...
#define RTE_ETH_RX_OFFLOAD_UDP_CKSUM ...
#define RTE_ETH_RX_OFFLOAD_TCP_CKSUM ...
#define RTE_ETH_TX_OFFLOAD_IPV4_CKSUM ...
#define RTE_ETH_TX_OFFLOAD_UDP_CKSUM ...
#define RTE_ETH_TX_OFFLOAD_TCP_CKSUM ...
#define RTE_ETH_TX_OFFLOAD_TCP_TSO ...

static const int NETCHAN_HAS_LINK_TO_STR;
static const int NETCHAN_HAS_RXMODE_MTU;
static const int NETCHAN_ETH_LINK_UP;

struct rte_ether_addr { uint8_t addr_bytes[6]; ...; };

""" + cdef_regions("dpdk_shims.h") + """

struct rte_eth_stats {
    uint64_t ipackets;
    uint64_t opackets;
    uint64_t ibytes;
    uint64_t obytes;
    uint64_t imissed;
    uint64_t ierrors;
    uint64_t oerrors;
    uint64_t rx_nombuf;
    ...;
};

struct rte_eth_xstat { uint64_t id; uint64_t value; };
struct rte_eth_xstat_name { char name[...]; };

struct rte_eth_rxmode { uint64_t offloads; ...; };
struct rte_eth_txmode { uint64_t offloads; ...; };
struct rte_eth_conf {
    uint32_t link_speeds;
    struct rte_eth_rxmode rxmode;
    struct rte_eth_txmode txmode;
    ...;
};
struct rte_eth_rxconf { ...; };
struct rte_eth_txconf { ...; };

struct rte_eth_desc_lim {
    uint16_t nb_max;
    uint16_t nb_min;
    uint16_t nb_align;
    uint16_t nb_seg_max;       /* mbufs per packet (a TSO chain) */
    uint16_t nb_mtu_seg_max;   /* mbufs per MTU-sized segment of it */
};

struct rte_eth_dev_info {
    const char *driver_name;
    unsigned int if_index;
    uint16_t min_mtu;
    uint16_t max_mtu;
    uint32_t min_rx_bufsize;
    uint32_t max_rx_pktlen;
    uint16_t max_rx_queues;
    uint16_t max_tx_queues;
    uint64_t rx_offload_capa;
    uint64_t tx_offload_capa;
    uint32_t speed_capa;
    uint16_t nb_rx_queues;
    uint16_t nb_tx_queues;
    struct rte_eth_desc_lim tx_desc_lim;
    ...;
};
"""

FUNCTIONS = """
uint16_t rte_eth_dev_count_avail(void);
uint16_t rte_eth_find_next(uint16_t port_id);
int rte_eth_dev_is_valid_port(uint16_t port_id);
int rte_eth_dev_get_port_by_name(const char *name, uint16_t *port_id);
int rte_eth_dev_get_name_by_port(uint16_t port_id, char *name);
int rte_eth_dev_info_get(uint16_t port_id, struct rte_eth_dev_info *dev_info);
int rte_eth_dev_socket_id(uint16_t port_id);

int rte_eth_dev_configure(uint16_t port_id, uint16_t nb_rx_queue, uint16_t nb_tx_queue,
                          const struct rte_eth_conf *eth_conf);
int rte_eth_dev_adjust_nb_rx_tx_desc(uint16_t port_id, uint16_t *nb_rx_desc,
                                     uint16_t *nb_tx_desc);
int rte_eth_rx_queue_setup(uint16_t port_id, uint16_t rx_queue_id, uint16_t nb_rx_desc,
                           unsigned int socket_id, const struct rte_eth_rxconf *rx_conf,
                           struct rte_mempool *mb_pool);
int rte_eth_tx_queue_setup(uint16_t port_id, uint16_t tx_queue_id, uint16_t nb_tx_desc,
                           unsigned int socket_id, const struct rte_eth_txconf *tx_conf);
int rte_eth_dev_start(uint16_t port_id);
int rte_eth_dev_stop(uint16_t port_id);
int rte_eth_dev_close(uint16_t port_id);

int rte_eth_promiscuous_enable(uint16_t port_id);
int rte_eth_promiscuous_disable(uint16_t port_id);
int rte_eth_promiscuous_get(uint16_t port_id);

int rte_eth_macaddr_get(uint16_t port_id, struct rte_ether_addr *mac_addr);
int rte_eth_dev_default_mac_addr_set(uint16_t port_id, struct rte_ether_addr *mac_addr);
int rte_eth_dev_get_mtu(uint16_t port_id, uint16_t *mtu);
int rte_eth_dev_set_mtu(uint16_t port_id, uint16_t mtu);

int netchan_eth_link_get(uint16_t port_id, struct netchan_eth_link *out);
void netchan_eth_conf_set_mtu(struct rte_eth_conf *conf, uint32_t mtu);

int rte_eth_stats_get(uint16_t port_id, struct rte_eth_stats *stats);
int rte_eth_stats_reset(uint16_t port_id);
int rte_eth_xstats_get_names(uint16_t port_id, struct rte_eth_xstat_name *xstats_names,
                             unsigned int size);
int rte_eth_xstats_get(uint16_t port_id, struct rte_eth_xstat *xstats, unsigned int n);
int rte_eth_xstats_reset(uint16_t port_id);
"""

SOURCES = ["dpdk_shims.c"]
