"""rte_eal.h, rte_dev.h, rte_log.h, rte_version.h: environment abstraction
layer start-up and shut-down, device hot-plug, logging, version.

netchan's wrappers and flags are C in dpdk_shims.h/.c (EAL section)."""

INCLUDES = """
#include <stdio.h>
#include <rte_eal.h>
#include <rte_version.h>
#include <rte_errno.h>
#include <rte_dev.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include "dpdk_shims.h"
"""

TYPES = """
enum rte_iova_mode { RTE_IOVA_DC, RTE_IOVA_PA, RTE_IOVA_VA, ... };
enum rte_proc_type_t { RTE_PROC_AUTO, RTE_PROC_PRIMARY, RTE_PROC_SECONDARY,
                       RTE_PROC_INVALID, ... };

static const int NETCHAN_HAS_RUNTIME_DIR;
static const char NETCHAN_EAL_PMD_PATH[];
"""

FUNCTIONS = """
const char *rte_version(void);
int rte_eal_init(int argc, char **argv);
int rte_eal_cleanup(void);
int rte_eal_has_hugepages(void);
enum rte_iova_mode rte_eal_iova_mode(void);
enum rte_proc_type_t rte_eal_process_type(void);
unsigned int rte_socket_id(void);
unsigned int rte_lcore_id(void);
const char *rte_strerror(int errnum);

int rte_eal_hotplug_add(const char *busname, const char *devname, const char *drvargs);
int rte_eal_hotplug_remove(const char *busname, const char *devname);

int netchan_rte_errno(void);
int netchan_log_to_stderr(void);
const char *netchan_runtime_dir(void);
"""

SOURCES = ["dpdk_shims.c"]
