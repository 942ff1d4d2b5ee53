"""rte_mempool.h, rte_memzone.h: object pools and the memory zones under them.

netchan's own index-addressable mbuf pool is built from these in ncport.c;
here only what DPDK offers, for the control plane (counts, lookup, free).
netchan's wrapper is C in dpdk_shims.h/.c (mempool section)."""

INCLUDES = """
#include <rte_mempool.h>
#include <rte_memzone.h>
#include <rte_memory.h>
#include "dpdk_shims.h"
"""

TYPES = """
#define RTE_MEMPOOL_NAMESIZE ...
#define RTE_MEMZONE_NAMESIZE ...
#define SOCKET_ID_ANY ...

struct rte_mempool {
    uint32_t size;
    uint32_t cache_size;
    uint32_t elt_size;
    uint32_t header_size;
    uint32_t trailer_size;
    uint32_t populated_size;
    uint32_t nb_mem_chunks;
    int socket_id;
    unsigned int flags;
    ...;
};

struct rte_memzone {
    size_t len;
    uint64_t hugepage_sz;
    int32_t socket_id;
    ...;
};
"""

FUNCTIONS = """
struct rte_mempool *rte_mempool_lookup(const char *name);
unsigned int rte_mempool_avail_count(const struct rte_mempool *mp);
unsigned int rte_mempool_in_use_count(const struct rte_mempool *mp);
void rte_mempool_free(struct rte_mempool *mp);
const char *netchan_mempool_name(const struct rte_mempool *mp);

const struct rte_memzone *rte_memzone_lookup(const char *name);
"""

SOURCES = ["dpdk_shims.c"]
