"""Each shared C struct is written once, in its header, and every other view
of it agrees: Cython's extern declarations (pyx/includes/netchan.pxd), the
cffi binding (declared from the headers by builders/dpdk/netchan_types.py)
and PORT_STAT_FIELDS (expanded by the C compiler from NC_PORT_STATS in
include/netchan/port.h). A counter added to the header but not to the pxd,
or a struct edited on one side only, fails here.

Also: builders/dpdk/*.py hold declarations only, and the C files there
compile cleanly with warnings on."""
import glob
import os
import re
import subprocess
import sys

import pytest

import netchan
from conftest import require

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILDERS = os.path.join(ROOT, "builders", "dpdk")
PXD = os.path.join(ROOT, "pyx", "includes", "netchan.pxd")
SHARED = ["nc_buf", "nc_pool", "nc_port_ops", "nc_port_stats", "nc_port"]

sys.path.insert(0, BUILDERS)
import netchan_types  # noqa: E402


def header_structs():
    """{struct: [(field, C type), ...]} as the headers declare them, parsed
    by cffi from the regions the builder reads (no compiler involved)."""
    from cffi import FFI
    ffi = FFI()
    ffi.cdef(netchan_types.TYPES)
    out = {}
    for name in SHARED:
        out[name] = [(f, t.type.cname) for f, t in ffi.typeof(f"struct {name}").fields]
    return out


def pxd_structs():
    """{struct: [field, ...]} from the `struct X:` blocks in netchan.pxd."""
    text = open(PXD).read()
    out = {}
    for m in re.finditer(r"^    struct (\w+):\n((?:        .*\n)+)", text, re.M):
        fields = []
        for line in m.group(2).splitlines():
            line = line.split("#")[0].strip()
            if not line:
                continue
            fp = re.match(r".*?\(\*(\w+)\)\(", line)         # function pointer
            if fp:
                fields.append(fp.group(1))
                continue
            decl = re.sub(r"^(const\s+)?\w+\s*", "", line)  # drop the type
            for item in decl.split(","):
                item = item.strip().lstrip("*")
                fields.append(re.match(r"\w+", item).group(0))
        out[m.group(1)] = fields
    return out


def test_port_stats_listed_once_and_everyone_agrees():
    listed = netchan_types.port_stat_fields()              # the NC_PORT_STATS list
    assert listed and len(listed) == len(set(listed))
    from netchan import _core
    assert list(_core.PORT_STAT_FIELDS) == listed           # expanded by the C compiler
    assert header_structs()["nc_port_stats"] == [(n, "uint64_t") for n in listed]
    assert pxd_structs()["nc_port_stats"] == listed, (
        "pyx/includes/netchan.pxd must declare struct nc_port_stats with the fields of "
        "NC_PORT_STATS in include/netchan/port.h, in that order")


@pytest.mark.parametrize("name", SHARED)
def test_pxd_declares_the_headers_fields(name):
    """Cython's extern view may leave out padding (_pad...), nothing else."""
    header = [f for f, _ in header_structs()[name] if not f.startswith("_")]
    assert pxd_structs()[name] == header


def test_cffi_regions_hold_only_plain_declarations():
    for h in ["netchan/buf.h", "netchan/port.h", "ncport.h", "dpdk_shims.h"]:
        text = netchan_types.cdef_regions(h)
        assert not re.search(r"\)\s*\{", text), f"{h}: a function body in a cffi-cdef region"
        assert "NC_INLINE" not in text and "_Static_assert" not in text


def test_builder_modules_hold_no_c_function_bodies():
    for path in glob.glob(os.path.join(BUILDERS, "*.py")):
        text = open(path).read()
        # a C function body: a parameter list's ")" followed by "{" (in a
        # Python string); struct declarations are "struct x {", not ") {"
        bodies = re.findall(r"\w+\([^()]*\)\s*\n?\s*\{", text)
        assert not bodies, f"{os.path.basename(path)} holds C function bodies: {bodies[:3]}"
        assert "CUSTOMIZATIONS" not in text


def _have_libdpdk():
    try:
        return subprocess.run(["pkg-config", "--exists", "libdpdk"]).returncode == 0
    except OSError:
        return False


def test_binding_structs_match_the_headers():
    require(netchan.HAS_DPDK, "netchan was built without DPDK (pkg-config libdpdk missing)")
    from netchan import dpdk
    from netchan._dpdk import ffi
    assert set(f"struct {n}" for n in SHARED) <= set(dpdk.SHARED_STRUCTS)  # checked at import
    header = header_structs()
    for name in SHARED:
        # cffi compares each complete struct's offsets with the C compiler's
        # when the type is first used (a mismatch raises ffi.error here)
        t = ffi.typeof(f"struct {name}")
        assert ffi.sizeof(t) > 0
        assert [(f, ft.type.cname) for f, ft in t.fields] == header[name]
    assert ffi.sizeof("struct nc_port_stats") == 8 * len(netchan_types.port_stat_fields())
    assert ffi.sizeof("struct nc_buf") == 64


@pytest.mark.parametrize("src", ["ncport.c", "nctso.c", "dpdk_shims.c"])
def test_builder_c_compiles_without_warnings(src):
    require(_have_libdpdk(), "needs libdpdk (pkg-config libdpdk) to compile the DPDK port")
    cflags = subprocess.run(["pkg-config", "--cflags", "libdpdk"], check=True,
                            capture_output=True, text=True).stdout.split()
    cc = os.environ.get("CC", "cc")
    res = subprocess.run([cc, "-fsyntax-only", "-std=gnu11", "-Wall", "-Wextra", "-Werror",
                          # experimental DPDK calls (rte_eth_link_to_str) warn by design
                          "-Wno-deprecated-declarations", "-D_GNU_SOURCE",
                          "-I", os.path.join(ROOT, "include"), "-I", BUILDERS, *cflags,
                          os.path.join(BUILDERS, src)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
