"""The testbed's address plan and the shape of what `status` reports
(netchan.testbed makes and reads back the namespaces; see its docstring for
the topology). Address plan (198.18.0.0/15, reserved for benchmarking):

    host I, kernel   198.18.0.I/15   assigned to eth0
    host I, netchan  198.18.1.I/15   NOT assigned to the kernel
  with up(ipv6=True), from 2001:2::/48 (RFC 5180):
    host I, kernel   2001:2::I/64    assigned to eth0 (hex I)
    host I, netchan  2001:2::1:I/64  NOT assigned to the kernel
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

HOST_IFACE = "eth0"
BRIDGE = "br0"
PREFIXLEN = 15
KERNEL_NET = "198.18.0."
NETCHAN_NET = "198.18.1."
PREFIXLEN6 = 64               # with up(ipv6=True): the benchmarking prefix 2001:2::/48 (RFC 5180)
KERNEL_NET6 = "2001:2::"
NETCHAN_NET6 = "2001:2::1:"
LOSS_MODULUS = 1000           # loss resolution: 0.1%


def format_rate(bits: int | None) -> str:
    if bits is None:
        return "-"
    for unit, scale in (("gbit", 10**9), ("mbit", 10**6), ("kbit", 10**3)):
        if bits >= scale:
            return f"{bits / scale:g}{unit}"
    return f"{bits}bit"


# ---------------------------------------------------------------------------
# what status reports


@dataclass
class HostInfo:
    host: str                   # h1, h2, ...
    index: int
    netns: str
    iface: str
    mac: str | None
    mtu: int | None
    state: str | None           # the link's operstate (UP when both ends are up)
    kernel_ips: list            # addresses the kernel owns on eth0, "198.18.0.1/15"
    netchan_ip: str             # the address plan's address for netchan on this host
    rate_bits: int | None
    loss_per_mille: int | None
    loss_dropped: int | None    # packets the loss rule dropped so far
    tx_csum_offload: bool | None
    netchan_ip6: str | None = None  # with IPv6 on: the plan's IPv6 address for netchan

    @property
    def loss(self) -> float | None:
        return None if self.loss_per_mille is None else self.loss_per_mille / LOSS_MODULUS


@dataclass
class TestbedInfo:
    __test__ = False
    name: str
    topology: str               # "pair" (one veth pair) or "bridge"
    bridge_netns: str | None
    hosts: list = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        for h, hd in zip(self.hosts, d["hosts"]):
            hd["rate"] = format_rate(h.rate_bits) if h.rate_bits else None
            hd["loss"] = h.loss
        return d

    def format(self) -> str:
        n = len(self.hosts)
        how = ("one veth pair" if self.topology == "pair"
               else f"bridge {BRIDGE} in namespace {self.bridge_netns}")
        lines = [f"testbed {self.name}: {n} host{'s' if n != 1 else ''}, {how}"]
        rows = [("host", "netns", "iface", "mac", "mtu", "state", "kernel ip", "netchan ip",
                 "rate", "loss (dropped)", "tx csum")]
        for h in self.hosts:
            loss = "-" if h.loss_per_mille is None else \
                f"{h.loss_per_mille / 10:g}% ({h.loss_dropped})"
            csum = "-" if h.tx_csum_offload is None else ("on" if h.tx_csum_offload else "off")
            rows.append((h.host, h.netns, h.iface, h.mac or "(missing)", str(h.mtu or "-"),
                         h.state or "-", ",".join(h.kernel_ips) or "-",
                         ",".join(filter(None, (h.netchan_ip, h.netchan_ip6))),
                         format_rate(h.rate_bits), loss, csum))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        return "\n".join(lines)


def kernel_ip(index: int) -> str:
    """The address the kernel of host `index` owns (198.18.0.I)."""
    return f"{KERNEL_NET}{index}"


def netchan_ip(index: int) -> str:
    """The address netchan uses on host `index` (198.18.1.I, not the kernel's)."""
    return f"{NETCHAN_NET}{index}"


def kernel_ip6(index: int) -> str:
    """The IPv6 address the kernel of host `index` owns with ipv6=True (2001:2::I)."""
    return f"{KERNEL_NET6}{index:x}"


def netchan_ip6(index: int) -> str:
    """The IPv6 address netchan uses on host `index` (2001:2::1:I, not the kernel's)."""
    return f"{NETCHAN_NET6}{index:x}"
