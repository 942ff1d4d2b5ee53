"""include/netchan/port.h on DPDK: netchan's port vtable implemented over one
ethdev queue pair, and the index-addressable mbuf pool it needs.

The C is ncport.c and nctso.c (its TSO merge), compiled into the cffi module
beside the generated code, with their declarations in ncport.h; the pool layout is described there. The
stack calls rx_burst/tx_burst/alloc_burst/free_burst through the nc_port
vtable (one indirect call per burst, from Cython, without the GIL); Python
only creates, inspects and retires the port, through the functions below.

Declarations come from the headers (between their "cffi-cdef" markers), not
retyped here: netchan_types.py gives nc_buf, nc_pool, nc_port_ops,
nc_port_stats and nc_port, and ncport.h the port's own.
"""
from netchan_types import cdef_regions

INCLUDES = """
#include "ncport.h"
"""

TYPES = cdef_regions("ncport.h")

FUNCTIONS = ""

SOURCES = ["ncport.c", "nctso.c"]
