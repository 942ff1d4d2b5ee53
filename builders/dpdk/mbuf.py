"""rte_mbuf.h, rte_mbuf_pool_ops.h: packet buffers.

Only the constants and pool functions the control plane needs: the data
path touches mbufs in ncport.c, never from Python. netchan's wrappers and
flags are C in dpdk_shims.h/.c (mbuf section)."""

INCLUDES = """
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include "dpdk_shims.h"
"""

TYPES = """
#define RTE_PKTMBUF_HEADROOM ...
#define RTE_MBUF_DEFAULT_DATAROOM ...
#define RTE_MBUF_PRIV_ALIGN ...

static const unsigned int NETCHAN_SIZEOF_MBUF;
static const int NETCHAN_HAS_PKTMBUF_FREE_BULK;
"""

FUNCTIONS = """
const char *rte_mbuf_best_mempool_ops(void);
/* DPDK's own pool (objects not necessarily index-addressable: netchan's
 * ports use netchan_dpdk_pool_create in ncport.c instead). */
struct rte_mempool *rte_pktmbuf_pool_create(const char *name, unsigned int n,
        unsigned int cache_size, uint16_t priv_size, uint16_t data_room_size,
        int socket_id);
uint16_t netchan_pktmbuf_data_room_size(struct rte_mempool *mp);
uint16_t netchan_pktmbuf_priv_size(struct rte_mempool *mp);
"""

SOURCES = ["dpdk_shims.c"]
