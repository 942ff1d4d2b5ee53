"""Build netchan's extensions.

- netchan._core: one Cython extension assembled from the layer folders of
  pyx/ (the index is pyx/netchan/_core.pyx, the declarations
  pyx/netchan/_core.pxd), compiled with optimisation on.
- netchan._testing: the test hooks (connections built in any state, the wire
  code driven from Python); it cimports netchan._core and is not needed to use
  netchan (NETCHAN_NO_TESTING=1 skips it).
- netchan._dpdk: the cffi binding to DPDK, built only where
  `pkg-config libdpdk` succeeds (builders/dpdk/); its absence is the flag
  netchan.HAS_DPDK, never a build failure.
- netchan._xdp: the cffi binding of netchan's own AF_XDP port, built only
  where `pkg-config libxdp libbpf` succeeds (builders/xdp/); without it
  netchan.HAS_XDP is False and an `xdp:` port says which packages to install.

Generated C goes to build/, never next to the sources.
"""
import os
import subprocess
import sys

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def _have_libdpdk():
    if os.environ.get("NETCHAN_NO_DPDK"):
        return False
    try:
        subprocess.run(["pkg-config", "--exists", "libdpdk"], check=True)
        return True
    except (OSError, subprocess.CalledProcessError):
        return False


def _have_libxdp():
    if os.environ.get("NETCHAN_NO_XDP"):
        return False
    try:
        subprocess.run(["pkg-config", "--exists", "libxdp", "libbpf"], check=True)
        return True
    except (OSError, subprocess.CalledProcessError):
        return False


def _core_extension():
    from Cython.Build import cythonize

    debug = bool(os.environ.get("NETCHAN_DEBUG"))
    cflags = ["-O0", "-g"] if debug else ["-O3", "-g1"]
    cflags += ["-fno-strict-aliasing", "-Wno-unused-function", "-Wno-unreachable-code"]
    sources = {"netchan._core": "pyx/netchan/_core.pyx",
               "netchan._testing": "pyx/netchan/_testing.pyx"}
    if os.environ.get("NETCHAN_NO_TESTING"):
        del sources["netchan._testing"]
    exts = [
        Extension(name, sources=[source], include_dirs=["include", "pyx"],
                  extra_compile_args=cflags, define_macros=[("_GNU_SOURCE", "1")])
        for name, source in sources.items()
    ]
    return cythonize(
        exts,
        build_dir="build/cython",
        include_path=["pyx"],
        language_level=3,
        annotate=bool(os.environ.get("NETCHAN_ANNOTATE")),
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "embedsignature": True,
            "profile": False,
        },
    )


kwargs = {"ext_modules": _core_extension()}
cffi_modules = []
if _have_libdpdk():
    cffi_modules.append("builders/dpdk/build.py:ffibuilder")
if _have_libxdp():
    cffi_modules.append("builders/xdp/build.py:ffibuilder")
if cffi_modules:
    sys.path.insert(0, os.path.join(HERE, "builders"))
    kwargs["cffi_modules"] = cffi_modules
    kwargs["setup_requires"] = ["cffi>=1.15"]

setup(**kwargs)
