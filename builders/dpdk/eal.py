"""rte_eal.h / rte_version.h: environment abstraction layer start-up."""

INCLUDES = """
#include <rte_eal.h>
#include <rte_version.h>
#include <rte_errno.h>
"""

TYPES = """
"""

FUNCTIONS = """
const char *rte_version(void);
int rte_eal_init(int argc, char **argv);
int rte_eal_cleanup(void);
const char *rte_strerror(int errnum);
int netchan_rte_errno(void);
"""

CUSTOMIZATIONS = """
/* rte_errno is a per-lcore macro, not a symbol cffi can read. */
static int netchan_rte_errno(void) { return rte_errno; }
"""
