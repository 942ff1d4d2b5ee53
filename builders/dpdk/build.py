"""cffi builder for netchan._dpdk, in the style of pyca/cryptography's:
one module per DPDK header area (eal.py, ethdev.py, mempool.py, mbuf.py),
plus netchan_types.py (netchan's own structs, read from include/netchan/)
and ncport.py (netchan's port vtable over an ethdev queue, include/netchan/
port.h), each offering INCLUDES, TYPES, FUNCTIONS and SOURCES, assembled
here into one out-of-line API-mode module compiled against
`pkg-config libdpdk` and netchan's include/ directory.

The Python modules hold declarations only. C bodies live in real C files
in this folder (dpdk_shims.c: wrappers for what cffi cannot call, one
section per header area; ncport.c: the port), compiled beside the
generated module (tests/ports/test_port_header.py compiles them alone with
-Wall -Wextra -Werror); their headers are included by the generated code,
so cffi checks every declaration against them.

Features that an older DPDK lacks are NETCHAN_HAS_* constants (0 with a
stub, in dpdk_shims.h), read by netchan.dpdk.FEATURES, never build failures.

Standalone build (from the repository root):
    python builders/dpdk/build.py        # -> python/netchan/_dpdk*.so

Built only when setup.py finds libdpdk; missing DPDK is the flag
netchan.HAS_DPDK = False, never a build failure.
"""
import os
import shlex
import subprocess
import sys

from cffi import FFI

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import eal  # noqa: E402
import ethdev  # noqa: E402
import mbuf  # noqa: E402
import mempool  # noqa: E402
import ncport  # noqa: E402
import netchan_types  # noqa: E402

# Order matters for TYPES: later modules use what earlier ones declare.
MODULES = [eal, mempool, mbuf, ethdev, netchan_types, ncport]

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def _pkg_config(*args):
    out = subprocess.run(["pkg-config", *args, "libdpdk"], check=True,
                         capture_output=True, text=True).stdout
    return shlex.split(out)


def build_ffi():
    ffi = FFI()
    cdefs = []
    for mod in MODULES:
        cdefs.append(mod.TYPES)
        cdefs.append(mod.FUNCTIONS)
    ffi.cdef("\n".join(cdefs))
    source = "\n".join(mod.INCLUDES for mod in MODULES)
    # absolute: cffi compiles from its own temporary directory
    sources = []
    for mod in MODULES:
        for name in getattr(mod, "SOURCES", []):
            path = os.path.join(HERE, name)
            if path not in sources:
                sources.append(path)
    cflags = _pkg_config("--cflags")
    # Debian's flags carry -march=corei7; keep them, DPDK's headers expect SSE4.2.
    libs = _pkg_config("--libs")
    ffi.set_source(
        "netchan._dpdk",
        source,
        sources=sources,
        include_dirs=[os.path.join(ROOT, "include"), HERE],
        define_macros=[("_GNU_SOURCE", "1")],
        extra_compile_args=cflags + ["-O2", "-Wno-deprecated-declarations",
                                     "-Wno-unused-function"],
        extra_link_args=libs,
    )
    return ffi


ffibuilder = build_ffi()

if __name__ == "__main__":
    # Generated C in build/cffi, the module next to the package's sources.
    import shutil
    tmp = os.path.join(ROOT, "build", "cffi")
    # abi3: the name setup.py gives it too (cffi modules use the limited API)
    so = ffibuilder.compile(tmpdir=tmp, verbose=True, target="_dpdk.abi3.so")
    pkg = os.path.join(ROOT, "python", "netchan")
    dest = os.path.join(pkg, os.path.basename(so))
    for old in os.listdir(pkg):     # one _dpdk module only: stale ones would shadow it
        if old.startswith("_dpdk.") and old.endswith(".so"):
            os.unlink(os.path.join(pkg, old))
    shutil.copy2(so, dest)
    print(f"built {dest}")
