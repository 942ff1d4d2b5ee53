"""cffi builder for netchan._dpdk, in the style of pyca/cryptography's:
one module per DPDK header area (eal.py, ethdev.py, mempool.py, mbuf.py),
plus ncport.py (netchan's port vtable over an ethdev queue, include/netchan/
port.h), each offering INCLUDES, TYPES, FUNCTIONS and CUSTOMIZATIONS,
assembled here into one out-of-line API-mode module compiled against
`pkg-config libdpdk` and netchan's include/ directory.

Features that an older DPDK lacks are NETCHAN_HAS_* constants (0 with a
stub), read by netchan.dpdk.FEATURES, never build failures.

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

# Order matters for CUSTOMIZATIONS: later modules use what earlier ones define.
MODULES = [eal, mempool, mbuf, ethdev, ncport]

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
    source += "\n" + "\n".join(mod.CUSTOMIZATIONS for mod in MODULES)
    cflags = _pkg_config("--cflags")
    # Debian's flags carry -march=corei7; keep them, DPDK's headers expect SSE4.2.
    libs = _pkg_config("--libs")
    ffi.set_source(
        "netchan._dpdk",
        source,
        include_dirs=[os.path.join(ROOT, "include")],
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
