"""A testbed of hosts on private links, made of Linux network namespaces.

    netchan testbed up --hosts 3 --rate 1gbit --loss 1%
    netchan testbed status
    netchan testbed exec h1 -- ping -c 1 198.18.0.2
    netchan testbed down

or from Python:

    with Testbed("demo").up(hosts=2, loss="1%") as tb:
        tb.exec("h1", ["ping", "-c", "1", tb.kernel_ip(2)], check=True)

Topology. Every host is a namespace `nc-NAME-hI` with one interface, eth0.
Two hosts: one veth pair, h1's eth0 <-> h2's eth0. More than two: a bridge
namespace `nc-NAME-br` holds bridge br0 and one veth per host (hI in the
bridge namespace <-> eth0 in host I). Both ends of every veth live in
namespaces the testbed made; nothing is added to the root namespace and no
host has a route out (only the on-link 198.18.0.0/15).

Address plan (198.18.0.0/15, reserved for benchmarking):
    host I, kernel   198.18.0.I/15   assigned to eth0 (ping, iperf3, curl use it)
    host I, netchan  198.18.1.I/15   NOT assigned to the kernel
  and with up(ipv6=True) / `up --ipv6` (IPv6 stays off on the links otherwise):
    host I, kernel   2001:2::I/64    assigned to eth0 (hex I; ping -6, curl -6)
    host I, netchan  2001:2::1:I/64  NOT assigned to the kernel
A netchan stack on an AF_PACKET or DPDK port shares eth0 with the kernel; if
the kernel also owned netchan's address it would answer netchan's peers with
RSTs. So netchan uses 198.18.1.I, which the kernel of host I does not own
(it drops those packets silently: forwarding is off) and which every host can
reach on-link. `up --no-kernel-ip` leaves the kernel with no address at all.

Link conditions: rate with tbf on each host's eth0 (and, with a bridge, on
the bridge side of each host's veth, so that both directions are shaped);
random loss with nftables (`numgen random mod 1000 < N counter drop` on the
ingress hook of each host's eth0, IPv4 only so that ARP keeps working). The
rule drops packets as the kernel holds them: with offloads on, a TCP sender's
GSO packet of up to 64 KB is one packet; `--offload off` makes every packet
one wire frame.
There is no delay, reorder, duplication or corruption: those need the netem
qdisc, absent from the kernels netchan is developed on (`up --delay` checks:
see netem_status), and the testbed would not read it back. netchan's fault
port does them on the netchan side: afpacket:eth0?delay=5ms&reorder=2%.

Everything is read back from the kernel (namespaces, links, addresses, tc,
nftables): `status` needs no state file, and `up` converges to what it is
asked, so running it twice is harmless. `down` ends any process still
running in the testbed's namespaces, then removes them, which removes every
link with them.

Namespaces, links and addresses are made through netlink with pyroute2;
tc, nft, ethtool and sysctl run inside the namespace (`ip netns exec`).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import time

from netchan.congestion import CannotWiden, allowed_cc, allowing_cc, check_congestion_control
from netchan.netem import NETEM_NOT_DRIVEN, NETEM_ONLY, NO_NETEM, netem_status  # noqa: F401

# the address plan, the topology's names and what status reports (HostInfo,
# TestbedInfo) live in testbed_plan; re-exported here, where users look
from netchan.testbed_plan import (BRIDGE, HOST_IFACE, LOSS_MODULUS, PREFIXLEN,  # noqa: F401
                                  PREFIXLEN6, HostInfo, TestbedInfo, format_rate, kernel_ip,
                                  kernel_ip6, netchan_ip, netchan_ip6)

NS_PREFIX = "nc-"
NFT_TABLE = "netchan_testbed"
NETNS_DIR = "/run/netns"
DEFAULT_NAME = "tb"
MAX_HOSTS = 250
TBF_LATENCY = "50ms"          # how long a packet may wait in tbf before it is dropped

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
_NS_RE = re.compile(r"^nc-(?P<name>.+)-(?P<role>h[1-9][0-9]*|br)$")
_RATE_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(bit|bps)\s*$", re.IGNORECASE)
_RATE_SCALE = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}

CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21

class TestbedError(RuntimeError):
    """Something the user can fix: the message says what."""

    __test__ = False            # not a pytest test class despite the name


class NeedsRoot(TestbedError, PermissionError):
    pass


# ---------------------------------------------------------------------------
# parsing of user input


def parse_rate(value) -> int | None:
    """'1gbit' -> 1000000000 bits/s; '10mbps' -> 80000000 (tc's units: bit =
    bits/s, bps = bytes/s); an int is bits/s; None stays None."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        bits = value
    else:
        m = _RATE_RE.match(str(value))
        if not m:
            raise TestbedError(f"rate {value!r}: expected a rate like 1gbit, 100mbit, 500kbit "
                               f"(bits/s) or 10mbps (bytes/s)")
        bits = float(m.group(1)) * _RATE_SCALE[m.group(2).lower()]
        if m.group(3).lower() == "bps":
            bits *= 8
        bits = int(bits)
    if not 8000 <= bits <= 400 * 10**9:
        raise TestbedError(f"rate {value!r}: must be between 8kbit and 400gbit")
    return bits


def parse_loss(value) -> int | None:
    """'1%' or 0.01 -> 10 (per mille, the nftables rule's threshold)."""
    if value is None:
        return None
    from netchan.uri import parse_probability
    try:
        p = value if isinstance(value, float) else parse_probability(value, "loss")
    except ValueError as e:
        raise TestbedError(str(e)) from None
    if not 0.0 <= p <= 1.0:
        raise TestbedError(f"loss={value!r}: must be between 0% and 100%")
    per_mille = round(p * LOSS_MODULUS)
    if p > 0 and per_mille == 0:
        raise TestbedError(f"loss={value!r}: the smallest loss the testbed makes is 0.1%")
    return per_mille or None


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise TestbedError(f"testbed name {name!r}: use 1-40 letters, digits, '.', '_' or '-', "
                           f"starting with a letter or digit")
    return name


# ---------------------------------------------------------------------------
# privileges and tools


def _effective_caps() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def check_privileges() -> None:
    """Raise NeedsRoot unless this process may make namespaces and links
    (root with CAP_SYS_ADMIN and CAP_NET_ADMIN)."""
    caps = _effective_caps()
    missing = [n for n, bit in (("CAP_SYS_ADMIN", CAP_SYS_ADMIN), ("CAP_NET_ADMIN", CAP_NET_ADMIN))
               if not caps >> bit & 1]
    what = ("the testbed needs root to make network namespaces, veth links, tc qdiscs "
            "and nftables rules")
    if os.geteuid() != 0:
        raise NeedsRoot(f"{what} (running as uid {os.geteuid()}): run it as root, "
                        f"e.g. sudo netchan testbed ...")
    if missing:
        raise NeedsRoot(f"{what}, and this root process lacks {' and '.join(missing)}: run it as "
                        f"root with those capabilities (in a container: --cap-add SYS_ADMIN "
                        f"--cap-add NET_ADMIN, or --privileged)")


_TOOLS = {"ip": "iproute2", "tc": "iproute2", "nft": "nftables", "ethtool": "ethtool",
          "sysctl": "procps"}


def _need_tool(tool: str) -> None:
    if shutil.which(tool) is None:
        raise TestbedError(f"{tool} not found: install it (Debian: apt-get install {_TOOLS[tool]})")


def _pyroute2():
    try:
        import pyroute2
        from pyroute2 import netns
    except ImportError:
        raise TestbedError("the testbed needs pyroute2: pip install pyroute2 "
                           "(or pip install 'netchan[testbed]')") from None
    return pyroute2, netns


def list_testbeds() -> list[str]:
    """Names of the testbeds whose namespaces exist."""
    names = set()
    for ns in _list_netns():
        m = _NS_RE.match(ns)
        if m:
            names.add(m.group("name"))
    return sorted(names)


def _list_netns() -> list[str]:
    try:
        return sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return []


def _run(argv, what, *, check=True):
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise TestbedError(f"{argv[0]} not found: install it (Debian: apt-get install "
                           f"{_TOOLS.get(argv[0], argv[0])})") from None
    if check and proc.returncode != 0:
        raise TestbedError(f"{what} failed: `{' '.join(argv)}` -> {proc.stderr.strip() or proc.returncode}")
    return proc


def _cpu_mask(bits: int) -> str:
    """A CPU mask as sysfs writes it: hex in 32-bit words, commas between
    (the kernel refuses a word longer than eight digits)."""
    words = []
    while True:
        words.append(f"{bits & 0xFFFFFFFF:08x}")
        bits >>= 32
        if not bits:
            return ",".join(reversed(words))


class Testbed:
    """One named testbed. Every method reads the kernel's state afresh, so two
    Testbed objects with the same name see the same testbed."""

    __test__ = False

    def __init__(self, name: str = DEFAULT_NAME):
        self.name = _check_name(name)

    # ---- names and addresses ----------------------------------------------

    def host_netns(self, host) -> str:
        return f"{NS_PREFIX}{self.name}-h{self._index(host)}"

    @property
    def bridge_netns(self) -> str:
        return f"{NS_PREFIX}{self.name}-br"

    kernel_ip = staticmethod(kernel_ip)
    netchan_ip = staticmethod(netchan_ip)

    def _index(self, host) -> int:
        """1, '1', 'h1' or 'nc-NAME-h1' -> 1."""
        s = str(host)
        prefix = f"{NS_PREFIX}{self.name}-"
        if s.startswith(prefix):
            s = s[len(prefix):]
        if s.startswith("h"):
            s = s[1:]
        if not s.isdigit() or not 1 <= int(s) <= MAX_HOSTS:
            raise TestbedError(f"host {host!r}: name a host as h1, h2, ... (or 1, 2, ...)")
        return int(s)

    def _namespaces(self) -> dict:
        """role -> namespace name, for this testbed's existing namespaces."""
        found = {}
        for ns in _list_netns():
            m = _NS_RE.match(ns)
            if m and m.group("name") == self.name:
                found[m.group("role")] = ns
        return found

    def hosts(self) -> list[str]:
        """Existing hosts, in order: ['h1', 'h2', ...]."""
        return sorted((r for r in self._namespaces() if r != "br"), key=lambda r: int(r[1:]))

    def exists(self) -> bool:
        return bool(self._namespaces())

    # ---- up ----------------------------------------------------------------

    def up(self, hosts: int = 2, rate=None, loss=None, *, mtu: int = 1500,
           kernel_ips: bool = True, offload: bool = True, ipv6: bool = False,
           cc: str | None = None,
           delay=None, reorder=None, duplicate=None, corrupt=None) -> "Testbed":
        """Make (or converge) the testbed: `hosts` namespaces, links, addresses,
        rate (e.g. '1gbit') and loss (e.g. '1%'); None removes a rate or loss
        set before. offload=False turns off checksum and segmentation offloads
        on every eth0 (AF_PACKET peers then see complete, MTU-sized frames).
        ipv6=True turns IPv6 on on every eth0 and gives the kernel of host I
        2001:2::I/64 (unless kernel_ips=False); netchan's is 2001:2::1:I/64.
        cc (e.g. 'cubic') sets every host's default TCP congestion control;
        None leaves it as it is (a new namespace inherits the machine's).
        Returns self."""
        for key, value in (("delay", delay), ("reorder", reorder), ("duplicate", duplicate),
                           ("corrupt", corrupt)):
            if value is not None:
                what, example = NETEM_ONLY[key]
                have, evidence = netem_status()
                text = NO_NETEM if have is False else NETEM_NOT_DRIVEN
                if have is None:
                    text = text.replace("this kernel has the netem qdisc", "netem on this "
                                        "kernel")
                raise TestbedError(text.format(what=what, example=example, evidence=evidence))
        try:
            hosts = int(hosts)
        except (TypeError, ValueError):
            raise TestbedError(f"hosts={hosts!r}: expected a number of hosts") from None
        if not 2 <= hosts <= MAX_HOSTS:
            raise TestbedError(f"hosts={hosts}: a testbed has 2 to {MAX_HOSTS} hosts")
        if not 68 <= int(mtu) <= 65535:
            raise TestbedError(f"mtu={mtu}: must be between 68 and 65535")
        rate_bits = parse_rate(rate)
        loss_pm = parse_loss(loss)
        check_congestion_control(cc, error=TestbedError)
        check_privileges()
        _, netns = _pyroute2()
        _need_tool("ip")
        _need_tool("sysctl")
        if rate_bits is not None:
            _need_tool("tc")
        if loss_pm is not None:
            _need_tool("nft")
        if not offload:
            _need_tool("ethtool")

        with self._lock():
            existing = self._namespaces()
            self._refuse_other_shape(existing, hosts)
            wanted = [f"h{i}" for i in range(1, hosts + 1)] + (["br"] if hosts > 2 else [])
            try:
                for role in wanted:
                    ns = f"{NS_PREFIX}{self.name}-{role}"
                    if role not in existing:
                        netns.create(ns)
                    self._prepare_netns(ns)
                if hosts == 2:
                    fresh = self._ensure_pair(int(mtu))
                else:
                    fresh = self._ensure_bridge(hosts, int(mtu))
                for i in range(1, hosts + 1):
                    self._ensure_host(i, int(mtu), kernel_ips)
                    self._ensure_ipv6(i, bool(ipv6), kernel_ips)
                    self._ensure_offload(i, offload)
                    self._ensure_cc(i, cc)
                    self._ensure_rate(self.host_netns(i), HOST_IFACE, rate_bits)
                    if hosts > 2:
                        self._ensure_rate(self.bridge_netns, f"h{i}", rate_bits)
                    self._ensure_loss(i, loss_pm, i in fresh)
            except (TestbedError, OSError) as e:
                # pyroute2's NetlinkError is an OSError. A testbed this call
                # began is removed again; one that was up before is left for
                # the user to inspect
                if not existing:
                    self._remove(list(self._namespaces().values()), grace=2.0)
                    raise TestbedError(f"{e} (nothing was left behind)") from e
                raise TestbedError(f"{e} (the testbed is half made; remove it with: "
                                   f"netchan testbed down --name {self.name})") from e
        return self

    def _refuse_other_shape(self, existing: dict, hosts: int) -> None:
        """A pair cannot become a bridge, nor a bridge lose hosts, in place."""
        have = sorted(int(r[1:]) for r in existing if r != "br")
        bridged = "br" in existing
        if (have and have[-1] > hosts) or (bridged and hosts == 2) or \
                (not bridged and hosts > 2 and len(have) >= 2):
            raise TestbedError(f"testbed {self.name!r} is already up with {len(have)} hosts "
                               f"({'a bridge' if bridged else 'one veth pair'}); to change the "
                               f"number of hosts, first run: netchan testbed down --name {self.name}")

    def _prepare_netns(self, ns: str) -> None:
        # IPv6 off unless asked (up(ipv6=True) turns it on for eth0 only): no
        # router solicitations, DAD or MLD on the test links otherwise (they
        # would be the only unsolicited frames AF_PACKET sees)
        _run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w",
              "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"],
             f"disabling IPv6 in {ns}")
        with self._ipr(ns) as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")

    @contextlib.contextmanager
    def _ipr(self, ns: str):
        """Netlink in namespace ns; never creates it (flags=0)."""
        pyroute2, _ = _pyroute2()
        if ns not in _list_netns():
            raise TestbedError(f"namespace {ns} does not exist")
        ipr = pyroute2.IPRoute(netns=ns, flags=0)
        try:
            yield ipr
        finally:
            ipr.close()

    @staticmethod
    def _lookup(ipr, ifname):
        found = ipr.link_lookup(ifname=ifname)
        return found[0] if found else None

    def _delete_link(self, ns: str, ifname: str) -> None:
        with self._ipr(ns) as ipr:
            idx = self._lookup(ipr, ifname)
            if idx is not None:
                ipr.link("del", index=idx)

    def _ensure_pair(self, mtu: int) -> set:
        """h1:eth0 <-> h2:eth0. Returns the hosts whose eth0 was (re)made."""
        a, b = self.host_netns(1), self.host_netns(2)
        with self._ipr(a) as ipa, self._ipr(b) as ipb:
            ok = self._lookup(ipa, HOST_IFACE) is not None and \
                self._lookup(ipb, HOST_IFACE) is not None
        if ok:
            return set()
        self._delete_link(a, HOST_IFACE)
        self._delete_link(b, HOST_IFACE)
        with self._ipr(a) as ipr:
            # made inside h1 with its peer placed straight into h2: the root
            # namespace never holds either end, not even for a moment
            ipr.link("add", ifname=HOST_IFACE, kind="veth", mtu=mtu,
                     peer={"ifname": HOST_IFACE, "net_ns_fd": b, "mtu": mtu})
        return {1, 2}

    def _ensure_bridge(self, hosts: int, mtu: int) -> set:
        br = self.bridge_netns
        fresh = set()
        with self._ipr(br) as ipr:
            if self._lookup(ipr, BRIDGE) is None:
                # STP off (the default) and no forwarding delay: ports forward at once
                ipr.link("add", ifname=BRIDGE, kind="bridge", br_forward_delay=0)
            bridge_idx = self._lookup(ipr, BRIDGE)
            ipr.link("set", index=bridge_idx, state="up")
        for i in range(1, hosts + 1):
            ns, port = self.host_netns(i), f"h{i}"
            with self._ipr(ns) as iph, self._ipr(br) as ipb:
                ok = self._lookup(iph, HOST_IFACE) is not None and \
                    self._lookup(ipb, port) is not None
            if not ok:
                self._delete_link(ns, HOST_IFACE)
                self._delete_link(br, port)
                with self._ipr(ns) as ipr:
                    ipr.link("add", ifname=HOST_IFACE, kind="veth", mtu=mtu,
                             peer={"ifname": port, "net_ns_fd": br, "mtu": mtu})
                fresh.add(i)
            with self._ipr(br) as ipr:
                idx = self._lookup(ipr, port)
                ipr.link("set", index=idx, master=bridge_idx, mtu=mtu, state="up")
        return fresh

    def _ensure_host(self, i: int, mtu: int, kernel_ips: bool) -> None:
        ns = self.host_netns(i)
        want = {(kernel_ip(i), PREFIXLEN)} if kernel_ips else set()
        with self._ipr(ns) as ipr:
            idx = self._lookup(ipr, HOST_IFACE)
            ipr.link("set", index=idx, mtu=mtu)
            have = {(a.get_attr("IFA_ADDRESS"), a["prefixlen"])
                    for a in ipr.get_addr(index=idx, family=2)}
            for addr, plen in have - want:
                ipr.addr("del", index=idx, address=addr, prefixlen=plen)
            for addr, plen in want - have:
                ipr.addr("add", index=idx, address=addr, prefixlen=plen)
            ipr.link("set", index=idx, state="up")

    def _ipv6_on(self, ns: str) -> bool:
        r = _run(["ip", "netns", "exec", ns, "sysctl", "-n",
                  f"net.ipv6.conf.{HOST_IFACE}.disable_ipv6"], "reading IPv6 state", check=False)
        return r.returncode == 0 and r.stdout.strip() == "0"

    def _ensure_ipv6(self, i: int, on: bool, kernel_ips: bool) -> None:
        """IPv6 on eth0 only when asked (no router solicitations: there is no
        router), with the kernel's address added without DAD (usable at once;
        a netchan stack's own DAD still asks for its address)."""
        ns = self.host_netns(i)
        dev = f"net.ipv6.conf.{HOST_IFACE}"
        if not on:
            _run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", f"{dev}.disable_ipv6=1"],
                 f"disabling IPv6 on {HOST_IFACE} in {ns}")
            return
        _run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", f"{dev}.disable_ipv6=0",
              f"{dev}.router_solicitations=0", f"{dev}.accept_ra=0"],
             f"enabling IPv6 on {HOST_IFACE} in {ns}")
        want = f"{kernel_ip6(i)}/{PREFIXLEN6}"
        have = self._kernel_ips6(ns)
        for a in have:
            if a != want or not kernel_ips:
                _run(["ip", "-n", ns, "-6", "addr", "del", a, "dev", HOST_IFACE],
                     f"removing {a} in {ns}")
        if kernel_ips and want not in have:
            _run(["ip", "-n", ns, "-6", "addr", "add", want, "dev", HOST_IFACE, "nodad"],
                 f"adding {want} in {ns}")

    def _kernel_ips6(self, ns: str) -> list:
        r = _run(["ip", "-n", ns, "-j", "-6", "addr", "show", "dev", HOST_IFACE, "scope",
                  "global"], "listing IPv6 addresses", check=False)
        if r.returncode != 0 or not r.stdout.strip():
            return []
        # (ip -j lists the addresses the filter left out as empty objects)
        return [f"{a['local']}/{a['prefixlen']}" for link in json.loads(r.stdout)
                for a in link.get("addr_info", []) if "local" in a]

    def _ensure_cc(self, i: int, cc: str | None) -> None:
        if cc is None:
            return
        argv = ["ip", "netns", "exec", self.host_netns(i), "sysctl", "-q", "-w",
                f"net.ipv4.tcp_congestion_control={cc}"]
        what = f"setting the congestion control of h{i} to {cc}"
        # A namespace other than the first may only default to a congestion
        # control the machine allows (the kernel says EPERM otherwise, e.g.
        # cubic where the list is "reno bbr"): allowing_cc widens the list
        # for that moment and puts it back
        try:
            with allowing_cc(cc):
                _run(argv, what)
        except CannotWiden as e:
            raise TestbedError(
                f"{what}: this machine allows only {' '.join(allowed_cc() or [])} as a "
                f"namespace's default (net.ipv4.tcp_allowed_congestion_control) and the list "
                f"could not be widened ({e.strerror}); add {cc} to it as root, or leave cc= "
                f"out") from None

    def _ensure_offload(self, i: int, offload: bool) -> None:
        ns = self.host_netns(i)
        if shutil.which("ethtool") is None or self._tx_csum(ns) == offload:
            return              # only offload=False needs ethtool (checked in up)
        state = "on" if offload else "off"
        # on = veth's defaults. tx is checksum offload (TSO depends on it);
        # GRO stays off, as veth has it, so that receivers see wire frames
        _run(["ip", "netns", "exec", ns, "ethtool", "-K", HOST_IFACE,
              "tx", state, "tso", state, "gso", state, "gro", "off"],
             f"setting offloads {state} on h{i}")

    def _ensure_rate(self, ns: str, dev: str, rate_bits: int | None) -> None:
        current = self._tbf_rate(ns, dev)
        if rate_bits is None:
            if current is not None:
                _run(["ip", "netns", "exec", ns, "tc", "qdisc", "del", "dev", dev, "root"],
                     f"removing the rate on {ns}/{dev}")
            return
        if current == rate_bits:
            return
        rate_bytes = rate_bits // 8
        # burst: 4 ms of traffic (a 250 Hz timer's tick), at least four full
        # frames; tbf segments GSO packets larger than the burst
        burst = max(rate_bytes // 250, 4 * 1514)
        _run(["ip", "netns", "exec", ns, "tc", "qdisc", "replace", "dev", dev, "root", "tbf",
              "rate", f"{rate_bits}bit", "burst", str(burst), "latency", TBF_LATENCY],
             f"setting rate {format_rate(rate_bits)} on {ns}/{dev}")

    def _tbf_rate(self, ns: str, dev: str) -> int | None:
        if shutil.which("tc") is None:
            return None
        proc = _run(["ip", "netns", "exec", ns, "tc", "-j", "qdisc", "show", "dev", dev, "root"],
                    f"reading the qdisc of {ns}/{dev}", check=False)
        if proc.returncode != 0 or not proc.stdout.strip():
            return None
        for q in json.loads(proc.stdout):
            if q.get("kind") == "tbf" and q.get("root"):
                return int(q["options"]["rate"]) * 8      # tc -j reports bytes/s
        return None

    def _nft_loss(self, ns: str) -> tuple[int, int] | None:
        """(per mille, packets dropped) of the loss rule in ns, or None."""
        if shutil.which("nft") is None:
            return None
        proc = _run(["ip", "netns", "exec", ns, "nft", "-j", "list", "table", "netdev", NFT_TABLE],
                    f"reading the loss rule in {ns}", check=False)
        if proc.returncode != 0:
            return None
        for item in json.loads(proc.stdout).get("nftables", []):
            rule = item.get("rule")
            if not rule:
                continue
            per_mille, dropped = None, 0
            for expr in rule.get("expr", []):
                match = expr.get("match")
                if match and isinstance(match.get("left"), dict) and "numgen" in match["left"]:
                    modulus = match["left"]["numgen"]["mod"]
                    per_mille = int(match["right"]) * LOSS_MODULUS // modulus
                if "counter" in expr:
                    dropped = int(expr["counter"]["packets"])
            if per_mille is not None:
                return per_mille, dropped
        return None

    def _ensure_loss(self, i: int, per_mille: int | None, link_is_new: bool) -> None:
        ns = self.host_netns(i)
        current = self._nft_loss(ns)
        if not link_is_new and (current[0] if current else None) == per_mille:
            return              # already so: keep the counter
        if shutil.which("nft") is not None:
            _run(["ip", "netns", "exec", ns, "nft", "delete", "table", "netdev", NFT_TABLE],
                 "removing the loss rule", check=False)
        if per_mille is None:
            return
        nft = ["ip", "netns", "exec", ns, "nft"]
        # one statement per command: table, then chain, then rule
        _run(nft + ["add", "table", "netdev", NFT_TABLE], f"adding the loss table in {ns}")
        _run(nft + ["add", "chain", "netdev", NFT_TABLE, "ingress",
                    f'{{ type filter hook ingress device "{HOST_IFACE}" priority 0 ; }}'],
             f"adding the loss chain in {ns}")
        # IPv4 only: ARP goes through, so loss never makes a host unreachable
        _run(nft + ["add", "rule", "netdev", NFT_TABLE, "ingress", "meta", "protocol", "ip",
                    "numgen", "random", "mod", str(LOSS_MODULUS), "<", str(per_mille),
                    "counter", "drop"],
             f"adding the loss rule in {ns}")

    # ---- status ------------------------------------------------------------

    def status(self) -> TestbedInfo | None:
        """What the kernel has for this testbed, or None if it is not up."""
        found = self._namespaces()
        if not found:
            return None
        check_privileges()
        bridged = "br" in found
        info = TestbedInfo(name=self.name, topology="bridge" if bridged else "pair",
                           bridge_netns=found.get("br"))
        for role in self.hosts():
            i = int(role[1:])
            ns = found[role]
            mac = mtu = state = None
            addrs = []
            with self._ipr(ns) as ipr:
                idx = self._lookup(ipr, HOST_IFACE)
                if idx is not None:
                    link = ipr.get_links(idx)[0]
                    mac = link.get_attr("IFLA_ADDRESS")
                    mtu = link.get_attr("IFLA_MTU")
                    state = link.get_attr("IFLA_OPERSTATE")
                    addrs = [f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}"
                             for a in ipr.get_addr(index=idx, family=2)]
            loss = self._nft_loss(ns) if idx is not None else None
            six = idx is not None and self._ipv6_on(ns)
            if six:
                addrs += self._kernel_ips6(ns)
            info.hosts.append(HostInfo(
                host=role, index=i, netns=ns, iface=HOST_IFACE, mac=mac, mtu=mtu, state=state,
                kernel_ips=addrs, netchan_ip=f"{netchan_ip(i)}/{PREFIXLEN}",
                rate_bits=self._tbf_rate(ns, HOST_IFACE) if idx is not None else None,
                loss_per_mille=loss[0] if loss else None,
                loss_dropped=loss[1] if loss else None,
                tx_csum_offload=self._tx_csum(ns) if idx is not None else None,
                netchan_ip6=f"{netchan_ip6(i)}/{PREFIXLEN6}" if six else None))
        return info

    def _tx_csum(self, ns: str) -> bool | None:
        if shutil.which("ethtool") is None:
            return None
        proc = _run(["ip", "netns", "exec", ns, "ethtool", "--json", "-k", HOST_IFACE],
                    "reading offloads", check=False)
        if proc.returncode != 0:
            return None
        try:
            return bool(json.loads(proc.stdout)[0]["tx-checksumming"]["active"])
        except (ValueError, KeyError, IndexError, TypeError):
            return None

    # ---- receive steering ----------------------------------------------------

    def set_rps(self, host, cpu: int | None) -> None:
        """Do host's receive work on `cpu` (RPS on its eth0), or, with None,
        where veth does it: on the CPU of whoever sent the frame, so a Linux
        sender also runs its receiver's TCP (or a packet socket's copy). One
        CPU per host is what a NIC's interrupts give each host of a real link."""
        n = os.cpu_count() or 1
        if cpu is not None and not 0 <= cpu < n:
            raise TestbedError(f"rps cpu {cpu}: this machine has CPUs 0 to {n - 1}")
        mask = _cpu_mask(0 if cpu is None else 1 << cpu)
        # /sys inside `ip netns exec` is the namespace's: its eth0
        _run(["ip", "netns", "exec", self.host_netns(host), "sh", "-c",
              f"for q in /sys/class/net/{HOST_IFACE}/queues/rx-*; do echo {mask} > $q/rps_cpus; done"],
             f"setting {host}'s receive CPU")

    def rps(self, host) -> set[int]:
        """The CPUs doing host's receive work (empty: veth's own way)."""
        out = _run(["ip", "netns", "exec", self.host_netns(host), "sh", "-c",
                    f"cat /sys/class/net/{HOST_IFACE}/queues/rx-*/rps_cpus"],
                   f"reading {host}'s receive CPUs").stdout
        mask = 0
        for line in out.split():
            mask |= int(line.replace(",", ""), 16)
        return {c for c in range(mask.bit_length()) if mask >> c & 1}

    # ---- exec --------------------------------------------------------------

    def _exec_argv(self, host, argv) -> list[str]:
        ns = self.host_netns(host)
        if ns not in _list_netns():
            have = ", ".join(self.hosts()) or "none: run netchan testbed up"
            raise TestbedError(f"testbed {self.name!r} has no host {host!r} (hosts: {have})")
        if isinstance(argv, str):
            raise TestbedError("give the command as a list of arguments, e.g. ['ping', '-c', '1', ...]")
        if not argv:
            raise TestbedError("exec needs a command to run")
        return ["ip", "netns", "exec", ns, *map(str, argv)]

    def exec(self, host, argv, **kwargs) -> subprocess.CompletedProcess:
        """Run argv in host's namespace and wait: subprocess.run's keyword
        arguments (check, capture_output, text, timeout, input ...) apply."""
        return subprocess.run(self._exec_argv(host, argv), **kwargs)

    def popen(self, host, argv, **kwargs) -> subprocess.Popen:
        """Start argv in host's namespace; the caller waits for it (or `down`
        ends it)."""
        return subprocess.Popen(self._exec_argv(host, argv), **kwargs)

    # ---- down --------------------------------------------------------------

    def down(self, grace: float = 2.0) -> list[str]:
        """End every process in the testbed's namespaces (SIGTERM, then SIGKILL
        after `grace` seconds) and remove the namespaces, which removes their
        links. Returns the removed namespaces; nothing to remove is fine."""
        found = self._namespaces()
        if not found:
            return []
        check_privileges()
        with self._lock():
            names = list(self._namespaces().values())
            self._remove(names, grace)
        return names

    def _remove(self, names: list[str], grace: float) -> None:
        _, netns = _pyroute2()
        self._end_processes(names, grace)
        for ns in names:
            try:
                netns.remove(ns)
            except FileNotFoundError:
                pass

    def _end_processes(self, names: list[str], grace: float) -> None:
        pids = self._pids(names)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and self._pids(names):
            time.sleep(0.05)
        for pid in self._pids(names):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    @staticmethod
    def _pids(names: list[str]) -> list[int]:
        """Processes whose network namespace is one of `names`."""
        inodes = {}
        for ns in names:
            with contextlib.suppress(OSError):
                st = os.stat(os.path.join(NETNS_DIR, ns))
                inodes[(st.st_dev, st.st_ino)] = ns
        pids = []
        me = os.getpid()
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == me:
                continue
            with contextlib.suppress(OSError):
                st = os.stat(f"/proc/{entry}/ns/net")
                if (st.st_dev, st.st_ino) in inodes:
                    pids.append(int(entry))
        return pids

    # ---- helpers -----------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self):
        """Serialise up/down between processes (flock on the netns directory,
        so no lock file is left behind)."""
        os.makedirs(NETNS_DIR, exist_ok=True)
        fd = os.open(NETNS_DIR, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.down()

    def __repr__(self):
        return f"Testbed({self.name!r})"


# ---------------------------------------------------------------------------
# command line (netchan testbed ...; the parser lives in netchan.cli)
