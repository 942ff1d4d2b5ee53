"""netchan's own AF_XDP port: declarations of ncxsk.h for cffi.

The C is ncxsk.c (compiled into netchan._xdp beside the generated code);
the UMEM layout is described in ncxsk.h. Declarations are read from the
header between its "cffi-cdef" markers, never retyped; netchan's own structs
(nc_buf, nc_pool, nc_port, ...) come from the DPDK builder's netchan_types.py,
which reads include/netchan/ the same way.
"""
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
_REGION = re.compile(r"/\* cffi-cdef: begin \*/\n(.*?)/\* cffi-cdef: end \*/", re.S)


def _regions(name):
    with open(os.path.join(HERE, name)) as f:
        found = _REGION.findall(f.read())
    if not found:
        raise ValueError(f"{name} has no cffi-cdef region")
    return "".join(found)


INCLUDES = """
#include "ncxsk.h"
"""

TYPES = _regions("ncxsk.h")

FUNCTIONS = ""

SOURCES = ["ncxsk.c"]
