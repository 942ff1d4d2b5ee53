"""rte_mbuf.h, rte_mbuf_pool_ops.h: packet buffers.

Only the constants and pool functions the control plane needs: the data
path touches mbufs in ncport.py's C code, never from Python."""

INCLUDES = """
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
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
 * ports use netchan_dpdk_pool_create in ncport.py instead). */
struct rte_mempool *rte_pktmbuf_pool_create(const char *name, unsigned int n,
        unsigned int cache_size, uint16_t priv_size, uint16_t data_room_size,
        int socket_id);
uint16_t netchan_pktmbuf_data_room_size(struct rte_mempool *mp);
uint16_t netchan_pktmbuf_priv_size(struct rte_mempool *mp);
"""

CUSTOMIZATIONS = """
static const unsigned int NETCHAN_SIZEOF_MBUF = sizeof(struct rte_mbuf);

/* static inline in the header: wrapped so cffi can call them. */
static uint16_t netchan_pktmbuf_data_room_size(struct rte_mempool *mp)
{ return rte_pktmbuf_data_room_size(mp); }
static uint16_t netchan_pktmbuf_priv_size(struct rte_mempool *mp)
{ return rte_pktmbuf_priv_size(mp); }

/* rte_pktmbuf_free_bulk arrived in 19.11; older DPDK frees one by one. */
#if RTE_VERSION >= RTE_VERSION_NUM(19, 11, 0, 0)
static const int NETCHAN_HAS_PKTMBUF_FREE_BULK = 1;
#define netchan_pktmbuf_free_bulk rte_pktmbuf_free_bulk
#else
static const int NETCHAN_HAS_PKTMBUF_FREE_BULK = 0;
static inline void netchan_pktmbuf_free_bulk(struct rte_mbuf **m, unsigned int n)
{
    for (unsigned int i = 0; i < n; i++)
        rte_pktmbuf_free(m[i]);
}
#endif
"""
