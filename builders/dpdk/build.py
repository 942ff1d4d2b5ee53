"""cffi builder for netchan._dpdk, in the style of pyca/cryptography's:
one module per DPDK header area (eal.py, ...), each offering INCLUDES, TYPES,
FUNCTIONS and CUSTOMIZATIONS, assembled here into one out-of-line API-mode
module compiled against `pkg-config libdpdk`.

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

MODULES = [eal]


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
        extra_compile_args=cflags + ["-O2", "-Wno-deprecated-declarations"],
        extra_link_args=libs,
    )
    return ffi


ffibuilder = build_ffi()

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
