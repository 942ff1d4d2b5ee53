"""cffi builder for netchan._xdp, netchan's own AF_XDP port, in the style of
builders/dpdk/build.py (pyca/cryptography's): declarations in Python modules
(ncxsk.py reads them from ncxsk.h; netchan's shared structs come from
builders/dpdk/netchan_types.py, which reads include/netchan/), C bodies in
real C files (ncxsk.c), one out-of-line API-mode module compiled against
`pkg-config libxdp libbpf`.

Built only when setup.py finds libxdp and libbpf (Debian: libxdp-dev,
libbpf-dev); without them netchan.HAS_XDP is False and opening an `xdp:`
port raises an error naming the packages, never a build failure.

Standalone build (from the repository root):
    python builders/xdp/build.py        # -> python/netchan/_xdp*.so
"""
import os
import shlex
import subprocess
import sys

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "builders", "dpdk"))

import ncxsk  # noqa: E402
import netchan_types  # noqa: E402

MODULES = [netchan_types, ncxsk]
PACKAGES = ("libxdp", "libbpf")


def _pkg_config(*args):
    out = subprocess.run(["pkg-config", *args, *PACKAGES], check=True,
                         capture_output=True, text=True).stdout
    return shlex.split(out)


def build_ffi():
    ffi = FFI()
    ffi.cdef("\n".join(mod.TYPES + "\n" + mod.FUNCTIONS for mod in MODULES))
    sources = [os.path.join(HERE, name) for mod in MODULES for name in getattr(mod, "SOURCES", [])]
    ffi.set_source(
        "netchan._xdp",
        "\n".join(mod.INCLUDES for mod in MODULES),
        sources=sources,
        include_dirs=[os.path.join(ROOT, "include"), HERE],
        define_macros=[("_GNU_SOURCE", "1")],
        extra_compile_args=_pkg_config("--cflags") + ["-O2", "-Wno-unused-function"],
        extra_link_args=_pkg_config("--libs"),
    )
    return ffi


ffibuilder = build_ffi()

if __name__ == "__main__":
    import shutil
    tmp = os.path.join(ROOT, "build", "cffi-xdp")
    so = ffibuilder.compile(tmpdir=tmp, verbose=True, target="_xdp.abi3.so")
    pkg = os.path.join(ROOT, "python", "netchan")
    for old in os.listdir(pkg):     # one _xdp module only: stale ones would shadow it
        if old.startswith("_xdp.") and old.endswith(".so"):
            os.unlink(os.path.join(pkg, old))
    dest = os.path.join(pkg, os.path.basename(so))
    shutil.copy2(so, dest)
    print(f"built {dest}")
