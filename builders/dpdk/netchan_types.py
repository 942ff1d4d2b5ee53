"""include/netchan/buf.h, port.h: netchan's own structs (nc_buf, nc_pool,
nc_port_ops, nc_port_stats, nc_port), declared to cffi from the headers
themselves, never retyped.

Each header marks what cffi may read with "cffi-cdef: begin" / "cffi-cdef:
end" comments (plain structs and integer #defines); the one X-macro there,
NC_PORT_STATS (the port counters, listed once), is expanded here as the C
preprocessor would. The structs come out complete (no "...;"), so cffi's
API mode checks every field's offset and size against the C compiler's when
the module loads (and the field types when it compiles): a header and a
binding that disagree cannot be built into a working module.
"""
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
INCLUDE_DIR = os.path.join(os.path.dirname(os.path.dirname(HERE)), "include")
HEADERS = ["netchan/buf.h", "netchan/port.h"]

_REGION = re.compile(r"/\* cffi-cdef: begin \*/\n(.*?)/\* cffi-cdef: end \*/", re.S)


def read_header(name):
    """A header of include/ ("netchan/port.h") or of this folder ("ncport.h")."""
    path = os.path.join(HERE, name)
    if not os.path.exists(path):
        path = os.path.join(INCLUDE_DIR, name)
    with open(path) as f:
        return f.read()


def xmacro_names(text, macro):
    """The names a `#define MACRO(X) X(a) X(b) ...` list holds, in order."""
    m = re.search(r"^#define %s\(X\)((?:.*\\\n)*.*)$" % re.escape(macro), text, re.M)
    if m is None:
        raise ValueError(f"no #define {macro}(X) list")
    body = re.sub(r"/\*.*?\*/", " ", m.group(1), flags=re.S)
    return re.findall(r"\bX\((\w+)\)", body)


def port_stat_fields():
    """struct nc_port_stats field by field (all uint64_t), from port.h."""
    return xmacro_names(read_header("netchan/port.h"), "NC_PORT_STATS")


def cdef_regions(name):
    """The cffi-readable declarations of one header, X-macros expanded."""
    text = read_header(name)
    out = []
    for region in _REGION.findall(text):
        for macro, item in re.findall(r"\b(NC_\w+)\((NC_\w+)\)", region):
            if item != "NC_PORT_STAT_FIELD" or macro != "NC_PORT_STATS":
                raise ValueError(f"{name}: cannot expand {macro}({item}) for cffi")
            fields = "".join(f"    uint64_t {n};\n" for n in xmacro_names(text, macro))
            region = re.sub(r"[ \t]*\b%s\(%s\)\s*\n" % (macro, item), fields, region)
        out.append(region)
    if not out:
        raise ValueError(f"{name} has no cffi-cdef region")
    return "".join(out)


INCLUDES = """
#include "netchan/buf.h"
#include "netchan/port.h"
"""

TYPES = "\n".join(cdef_regions(h) for h in HEADERS)

FUNCTIONS = ""
