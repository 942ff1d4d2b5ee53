"""netchan: a kernel-bypass TCP/IP stack for Python on Van Jacobson's net channels.

    import netchan
    with netchan.Stack("shm:demo", ip="198.18.0.1/15") as stack:
        listener = stack.listen(8080)
        conn = listener.accept()
        data = conn.recv(65536)

See README.md and docs/architecture.md.
"""
from netchan._core import (  # noqa: F401
    AfPacketPort,
    COUNTER_NAMES,
    TCP_STATE_NAMES,
    WIRE_ERROR_NAMES,
    BufferPool,
    Channel,
    Connection,
    FaultPort,
    MappedRegion,
    PcapPort,
    Port,
    READABLE,
    Stack,
    TcpListener as Listener,
    UdpSocket,
    VirtualClock,
    WRITABLE,
    monotonic_ns,
    open_port,
    trace_read,
    trace_transitions,
)
from netchan.uri import parse_port_uri  # noqa: F401
from netchan.selector import NetchanSelector  # noqa: F401
from netchan.hugepages import free_bytes as hugepages_free_bytes, mount_for as hugetlbfs_mount  # noqa: F401

try:
    from netchan import _dpdk  # noqa: F401
    HAS_DPDK = True
except ImportError:
    HAS_DPDK = False

try:
    from netchan import _xdp  # noqa: F401
    HAS_XDP = True
except ImportError:
    HAS_XDP = False

def _version() -> str:
    """The installed distribution's version (pyproject.toml's, one source)."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("netchan")
    except PackageNotFoundError:     # run from a source tree that was never installed
        return "0+unknown"


def __getattr__(name):
    # __version__ is looked up when asked for: importlib.metadata costs as
    # much as the rest of `import netchan`
    if name == "__version__":
        return _version()
    raise AttributeError(f"module 'netchan' has no attribute {name!r}")
