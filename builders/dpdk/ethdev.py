"""rte_ethdev.h, rte_ether.h: Ethernet devices (ports) and their queues,
link, statistics, MAC and MTU."""

INCLUDES = """
#include <string.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
"""

TYPES = """
#define RTE_MAX_ETHPORTS ...
#define RTE_ETH_NAME_MAX_LEN ...
#define RTE_ETH_XSTATS_NAME_SIZE ...

static const int NETCHAN_HAS_LINK_TO_STR;
static const int NETCHAN_HAS_RXMODE_MTU;
static const int NETCHAN_ETH_LINK_UP;

struct rte_ether_addr { uint8_t addr_bytes[6]; ...; };

/* struct rte_eth_link has bit-fields (which cffi cannot mix with '...;'):
 * read through netchan_eth_link_get into this plain struct instead. */
struct netchan_eth_link {
    uint32_t speed_mbps;
    int full_duplex;
    int autoneg;
    int up;
    char text[64];
};

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

CUSTOMIZATIONS = """
/* Names that DPDK renamed or added over time: each missing one is a flag
 * (netchan.dpdk.FEATURES), never a build failure. */
#ifdef RTE_ETH_LINK_UP
static const int NETCHAN_ETH_LINK_UP = RTE_ETH_LINK_UP;
#else
static const int NETCHAN_ETH_LINK_UP = ETH_LINK_UP;
#endif

struct netchan_eth_link {
    uint32_t speed_mbps;
    int full_duplex;
    int autoneg;
    int up;
    char text[64];
};

#if RTE_VERSION >= RTE_VERSION_NUM(20, 11, 0, 0)
static const int NETCHAN_HAS_LINK_TO_STR = 1;
#else
static const int NETCHAN_HAS_LINK_TO_STR = 0;
#endif

/* Link state without waiting (rte_eth_link_get may block up to 9 s). */
static int netchan_eth_link_get(uint16_t port_id, struct netchan_eth_link *out)
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
#if RTE_VERSION >= RTE_VERSION_NUM(20, 11, 0, 0)
    rte_eth_link_to_str(out->text, sizeof(out->text), &link);
#else
    snprintf(out->text, sizeof(out->text), "Link %s", out->up ? "up" : "down");
#endif
    return 0;
}

/* rxmode.mtu replaced max_rx_pkt_len in 21.11. */
#if RTE_VERSION >= RTE_VERSION_NUM(21, 11, 0, 0)
static const int NETCHAN_HAS_RXMODE_MTU = 1;
static void netchan_eth_conf_set_mtu(struct rte_eth_conf *conf, uint32_t mtu)
{ conf->rxmode.mtu = mtu; }
#else
static const int NETCHAN_HAS_RXMODE_MTU = 0;
static void netchan_eth_conf_set_mtu(struct rte_eth_conf *conf, uint32_t mtu)
{ (void)conf; (void)mtu; }
#endif
"""
