"""Checking a Stack's settings before any of them reaches C.

    cfg = stack_config("198.18.0.1/15", mtu=None, msl=1.0, seed=7)
    cfg.ip, cfg.prefixlen, cfg.msl_ns, cfg.seed ...

stack_config() takes every keyword Stack() takes (same names, same defaults)
and returns a frozen StackConfig with the values normalised: durations in
integer nanoseconds, buffer sizes rounded up to a power of two, the address
split into host and prefix. A wrong value raises before anything is
allocated or claimed:

- TypeError when the kind is wrong (a string where a number goes, 1 where
  True or False goes, 4096.0 where a whole number goes);
- ValueError when the value is out of range or not a usable address.

Every message names the setting, the value given and what to give instead.

parse_address() does the same for the (host, port) of connect() and
sendto().
"""
from __future__ import annotations

import ipaddress
import math
import numbers
import operator
from dataclasses import dataclass

from netchan._core import CC_NAMES, RECOVERY_NAMES

MAX_CONNS = 1 << 20
# What one connection slot costs, in address space reserved when the stack
# starts (its control block, 680 B, flow-table slots and queues): pages are
# touched only as connections use them (measured: max_conns=2**20 made RSS
# grow by 25 bytes a slot at start; an idle connection costs ~0.85 KiB of
# resident memory besides its window pages, tests/api/idle_memory.py).
BYTES_PER_CONN_SLOT = 708
MIN_MTU, MAX_MTU = 576, 65535
MAX_TIME_WAIT = 1 << 22                 # 56 B + index each: 300 MiB at most
MIN_BUF, MAX_BUF = 4096, 1 << 30
MAX_SECONDS = 3600.0                    # msl, rto_*, frag_timeout, keepalive times
MAX_DELAYED_ACK = 0.5                   # RFC 1122 4.2.3.2 / RFC 9293 3.8.6.3: < 0.5 s
MAX_BUSY_POLL = 10.0
MAX_RETRIES = 255
MAX_SEED = 2 ** 128 - 2                 # the seed and seed + 1 become 16-byte keys
EXAMPLE_IP = "198.18.0.1/15"
EXAMPLE_IP6 = "2001:2::1/64"
MAX_IP4 = 4                     # IPv4 addresses of one stack (IP4_MAX_ADDRS in C)
MAX_IP6 = 4                     # given IPv6 addresses; C holds 8 (IP6_MAX_ADDRS): the
                                # link-local one and SLAAC's take the rest
DAD_MODES = ("optimistic", "wait", "off")
BUSY_POLL_MODES = ("answer", "always")

DEFAULTS = dict(
    max_conns=4096, max_time_wait=65536, rcvbuf=None, sndbuf=None, window_memory=None, msl=30.0, rto_min=1.0, rto_max=60.0,
    rto_initial=1.0, max_retries=15, syn_retries=6, delayed_ack=0.04, timestamps=True,
    sack=True, window_scaling=True, cc="cubic", recovery="rack", ecn=False, hystart=True, nodelay=False, keepalive=None,
    syncookies=True, challenge_ack_limit=1000, frag_timeout=30.0, frag_max_datagrams=16,
    frag_max_bytes=1 << 20, busy_poll=50e-6, busy_poll_mode="answer", background=False, export_stats=True,
    seed=None, ttl=64, gateway=None, dad="optimistic", dad_timeout=1.0,
)


@dataclass(frozen=True)
class StackConfig:
    """A Stack's settings, checked and normalised (see stack_config)."""
    ip: str | None              # the first IPv4 address, e.g. "198.18.0.1" (None: IPv6 only)
    prefixlen: int | None       # its prefix, e.g. 15
    netmask: str | None         # e.g. "255.254.0.0"
    mtu: int | None             # None: the link's
    max_conns: int
    max_time_wait: int          # TIME_WAIT records; the oldest are recycled beyond
    rcvbuf: int | None          # bytes, a power of two; None: by the link's MTU
    sndbuf: int | None
    window_memory: int | None   # bytes of attached windows; None: no limit
    msl_ns: int
    rto_min_ns: int
    rto_max_ns: int
    rto_initial_ns: int
    max_retries: int
    syn_retries: int
    delayed_ack_ns: int         # 0: off
    timestamps: bool
    sack: bool
    window_scaling: bool
    cc: str                     # one of CC_NAMES
    cc_id: int                  # its index in CC_NAMES
    recovery: str               # one of RECOVERY_NAMES
    recovery_id: int            # its index in RECOVERY_NAMES
    ecn: bool                   # offer and accept ECN (RFC 3168)
    hystart: bool               # HyStart++ (RFC 9406) with CUBIC
    nodelay: bool
    keepalive: tuple | None     # (idle_ns, interval_ns, count) or None
    syncookies: bool
    challenge_ack_limit: int
    frag_timeout_ns: int
    frag_max_datagrams: int
    frag_max_bytes: int
    busy_poll_ns: int
    busy_poll_mode: str
    background: bool
    export_stats: bool
    seed: int | None
    ttl: int
    ip6: tuple = ()             # IPv6 addresses with prefix, e.g. ("2001:2::1/64",)
    ip4: tuple = ()             # every IPv4 address with prefix, the first is ip
    slaac: bool = False         # ip= had "slaac": addresses from router advertisements
    gateway: str | None = None  # IPv4 default gateway
    dad: str = "optimistic"     # one of DAD_MODES (RFC 4429 / RFC 4862 / none)
    dad_timeout_ns: int = 1_000_000_000     # RetransTimer: how long DAD listens

    @property
    def interface(self) -> ipaddress.IPv4Interface | None:
        return None if self.ip is None else ipaddress.IPv4Interface(f"{self.ip}/{self.prefixlen}")

    @property
    def memory_estimate(self) -> int:
        """Bytes the connection slots take up front (windows not counted)."""
        return self.max_conns * BYTES_PER_CONN_SLOT


# ---- the pieces -----------------------------------------------------------------

def _human(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def check_bool(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name}={value!r}: expected True or False")
    return value


def check_int(value, name: str, lo: int | None = None, hi: int | None = None,
              hint: str = "") -> int:
    """A whole number (int or any integer type, not bool, not float) in lo..hi."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            raise TypeError(f"{name}={value!r}: expected a whole number, e.g. {int(value)}")
        raise TypeError(f"{name}={value!r}: expected a whole number"
                        + (f" ({hint})" if hint else ""))
    v = operator.index(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        if hi is None:
            rng = f"at least {lo}"
        elif lo is None:
            rng = f"at most {hi}"
        else:
            rng = f"between {lo} and {hi}"
        raise ValueError(f"{name}={v}: must be {rng}" + (f" ({hint})" if hint else ""))
    return v


def check_seconds(value, name: str, lo: float = 0.0, hi: float = MAX_SECONDS, *,
                  lo_open: bool = False, hint: str = "") -> int:
    """A duration in seconds (int or float) -> integer nanoseconds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}={value!r}: expected a number of seconds, e.g. 0.5")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name}={value!r}: expected a finite number of seconds")
    if (v <= lo if lo_open else v < lo) or v > hi:
        low = f"greater than {lo:g}" if lo_open else f"at least {lo:g}"
        raise ValueError(f"{name}={value!r}: must be {low} and at most {hi:g} seconds"
                         + (f" ({hint})" if hint else ""))
    return int(round(v * 1e9))


def check_buffer(value, name: str) -> int | None:
    """None, or bytes between 4 KiB and 1 GiB -> rounded up to a power of two."""
    if value is None:
        return None
    v = check_int(value, name, MIN_BUF, MAX_BUF, "bytes, 4096 to 1 GiB; rounded up to a "
                                                "power of two")
    return 1 << (v - 1).bit_length()


def check_ip(ip) -> ipaddress.IPv4Interface:
    """'198.18.0.1/15' -> IPv4Interface, refusing what no host may use."""
    if isinstance(ip, ipaddress.IPv4Interface):
        iface = ip
        text = str(ip)
    else:
        if not isinstance(ip, str):
            raise TypeError(f"ip={ip!r}: expected a string like {EXAMPLE_IP!r}")
        text = ip.strip()
        if "/" not in text:
            try:
                ipaddress.IPv4Address(text)
            except ValueError:
                raise ValueError(f"ip={ip!r}: expected an IPv4 address with a prefix length, "
                                 f"e.g. {EXAMPLE_IP}") from None
            raise ValueError(f"ip={ip!r}: add a prefix length, e.g. {text}/15 (the link's "
                             f"network: which addresses are reached directly)")
        try:
            iface = ipaddress.IPv4Interface(text)
        except ValueError:
            raise ValueError(f"ip={ip!r}: expected an IPv4 address with a prefix length, "
                             f"e.g. {EXAMPLE_IP}") from None
    addr, net = iface.ip, iface.network
    p = net.prefixlen
    if p == 0 or p == 32:
        raise ValueError(f"ip={ip!r}: a /{p} prefix leaves no neighbour on the link; use a "
                         f"prefix length from 1 to 31, e.g. {addr}/15" if p == 32 else
                         f"ip={ip!r}: a /0 prefix puts every address on the link; use the "
                         f"link's prefix, e.g. {addr}/15")
    kinds = (
        (ipaddress.IPv4Network("0.0.0.0/8"), "in 0.0.0.0/8 ('this network', RFC 1122: never "
                                             "a host's address)"),
        (ipaddress.IPv4Network("127.0.0.0/8"), "a loopback address (127.0.0.0/8 belongs to the "
                                               "kernel's lo; netchan cannot answer there)"),
        (ipaddress.IPv4Network("224.0.0.0/4"), "a multicast address (224.0.0.0/4: a group, not "
                                               "a host)"),
        (ipaddress.IPv4Network("240.0.0.0/4"), "a reserved address (240.0.0.0/4, class E, and "
                                               "255.255.255.255)"),
    )
    for block, what in kinds:
        if addr in block:
            raise ValueError(f"ip={ip!r}: {addr} is {what}; use a unicast host address, e.g. "
                             f"{EXAMPLE_IP}")
    if p <= 30:     # /31: both addresses are hosts (RFC 3021)
        first, last = net.network_address + 1, net.broadcast_address - 1
        if addr == net.network_address:
            raise ValueError(f"ip={ip!r}: {addr} is the network address of {net}; use a host "
                             f"address from {first} to {last}, e.g. {first}/{p}")
        if addr == net.broadcast_address:
            raise ValueError(f"ip={ip!r}: {addr} is the broadcast address of {net}; use a host "
                             f"address from {first} to {last}, e.g. {first}/{p}")
    return iface


def check_ip6(ip, whole=None) -> ipaddress.IPv6Interface:
    """'2001:2::1/64' -> IPv6Interface, refusing what no host may use.
    `whole` is the ip= value the address came from (for the message)."""
    shown = f"ip={whole!r}" if whole is not None else f"ip={ip!r}"
    text = ip.strip()
    if "/" not in text:
        raise ValueError(f"{shown}: add a prefix length to {text}, e.g. {text}/64 (the "
                         f"link's prefix: which addresses are reached directly)")
    try:
        iface = ipaddress.IPv6Interface(text)
    except ValueError:
        raise ValueError(f"{shown}: {text!r} is not an IPv6 address with a prefix length, "
                         f"e.g. {EXAMPLE_IP6}") from None
    addr, p = iface.ip, iface.network.prefixlen
    if p == 0 or p == 128:
        raise ValueError(f"{shown}: {text} has a /{p} prefix, which "
                         f"{'leaves no neighbour on' if p == 128 else 'puts every address on'} "
                         f"the link; use the link's prefix, e.g. {addr}/64")
    kinds = (
        (addr.is_unspecified, "the unspecified address (::)"),
        (addr.is_loopback, "the loopback address (::1 belongs to the kernel's lo)"),
        (addr.is_multicast, "a multicast address (ff00::/8: a group, not a host)"),
        (addr.ipv4_mapped is not None, "an IPv4-mapped address (::ffff:0:0/96); give the "
                                       "IPv4 address itself"),
    )
    for bad, what in kinds:
        if bad:
            raise ValueError(f"{shown}: {addr} is {what}; use a unicast address, e.g. "
                             f"{EXAMPLE_IP6}")
    return iface


def check_ips(ip) -> tuple:
    """ip= as one address or a list of them -> ((IPv4Interface, ...),
    (IPv6Interface, ...), slaac): up to MAX_IP4 IPv4 and MAX_IP6 IPv6
    addresses (either family may be absent, not both), no address twice,
    and "slaac" to take IPv6 addresses from router advertisements."""
    if isinstance(ip, (str, ipaddress.IPv4Interface)):
        items = [ip]
    elif isinstance(ip, (list, tuple)):
        items = list(ip)
        if not items:
            raise ValueError(f"ip={ip!r}: give at least one address, e.g. "
                             f"[{EXAMPLE_IP!r}, {EXAMPLE_IP6!r}]")
    else:
        raise TypeError(f"ip={ip!r}: expected a string like {EXAMPLE_IP!r} or a list like "
                        f"[{EXAMPLE_IP!r}, {EXAMPLE_IP6!r}]")
    v4, v6, slaac = [], [], False
    for item in items:
        if isinstance(item, str) and item.strip().lower() == "slaac":
            if slaac:
                raise ValueError(f"ip={ip!r}: 'slaac' is given twice; give it once")
            slaac = True
        elif isinstance(item, str) and ":" in item:
            v6.append(check_ip6(item, ip))
        elif isinstance(item, (str, ipaddress.IPv4Interface)):
            v4.append(check_ip(item) if len(items) == 1 else _check_ip_in_list(item, ip))
        else:
            raise TypeError(f"ip={ip!r}: {item!r} is not an address string like "
                            f"{EXAMPLE_IP!r} or {EXAMPLE_IP6!r} (or 'slaac')")
    if not v4 and not v6 and not slaac:
        raise ValueError(f"ip={ip!r}: give at least one address, e.g. {EXAMPLE_IP!r}")
    if len(v4) > MAX_IP4:
        raise ValueError(f"ip={ip!r}: at most {MAX_IP4} IPv4 addresses (found {len(v4)}); "
                         f"run another stack for more")
    if len(v6) > MAX_IP6:
        raise ValueError(f"ip={ip!r}: at most {MAX_IP6} IPv6 addresses (found {len(v6)})")
    seen = {}
    for a in (*v4, *v6):
        if a.ip in seen:
            if seen[a.ip] != a.network.prefixlen:
                raise ValueError(f"ip={ip!r}: {a.ip} is given with two prefixes "
                                 f"(/{seen[a.ip]} and /{a.network.prefixlen}); give it once, "
                                 f"with the link's prefix")
            raise ValueError(f"ip={ip!r}: {a.ip} is given twice; give each address once")
        seen[a.ip] = a.network.prefixlen
    return tuple(v4), tuple(v6), slaac


def check_gateway(gateway, v4) -> str | None:
    """The IPv4 default gateway: on the prefix of one of our addresses, not one of them."""
    if gateway is None:
        return None
    if not isinstance(gateway, str):
        raise TypeError(f"gateway={gateway!r}: expected an IPv4 address string like "
                        f"'198.18.0.254'")
    try:
        g = ipaddress.IPv4Address(gateway.strip())
    except ValueError:
        raise ValueError(f"gateway={gateway!r}: expected an IPv4 address like '198.18.0.254' "
                         f"(IPv6 routers are learned from router advertisements)") from None
    if not v4:
        raise ValueError(f"gateway={gateway!r}: this stack has no IPv4 address; add one to "
                         f"ip= or drop gateway=")
    if any(g == a.ip for a in v4):
        raise ValueError(f"gateway={gateway!r}: that is this stack's own address; give the "
                         f"router's address")
    if not any(g in a.network for a in v4):
        nets = ", ".join(str(a.network) for a in v4)
        raise ValueError(f"gateway={gateway!r}: not on this stack's network ({nets}); the "
                         f"gateway must be reachable on the link")
    return str(g)


def check_busy_poll_mode(value) -> str:
    if value not in BUSY_POLL_MODES:
        raise ValueError(f"busy_poll_mode={value!r}: choose one of "
                         f"{', '.join(map(repr, BUSY_POLL_MODES))} ('answer': spin only while "
                         f"an answer to what the stack sent is due; 'always': spin before "
                         f"every sleep, also when the stack only receives)")
    return value


def check_dad(value) -> str:
    if value not in DAD_MODES:
        raise ValueError(f"dad={value!r}: choose one of {', '.join(map(repr, DAD_MODES))} "
                         f"('optimistic': use IPv6 addresses at once while DAD listens, RFC "
                         f"4429; 'wait': not before DAD ends, RFC 4862; 'off': no DAD)")
    return value


def _check_ip_in_list(item, whole):
    try:
        return check_ip(item)
    except ValueError as e:
        raise ValueError(f"ip={whole!r}: {item!r}: {str(e).split(': ', 1)[1]}") from None


def check_keepalive(value) -> tuple | None:
    """None, or (idle seconds, interval seconds, probe count) -> (ns, ns, count)."""
    if value is None:
        return None
    example = "e.g. (7200, 75, 9) or None for off"
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 3:
        raise TypeError(f"keepalive={value!r}: expected (idle seconds, interval seconds, "
                        f"probe count), {example}")
    idle, interval, count = value
    return (check_seconds(idle, "keepalive idle", 0.0, 86400.0 * 7, lo_open=True),
            check_seconds(interval, "keepalive interval", 0.0, 86400.0, lo_open=True),
            check_int(count, "keepalive count", 1, 255))


def check_max_conns(value) -> int:
    v = check_int(value, "max_conns")
    if v < 1:
        raise ValueError(f"max_conns={v}: must be at least 1")
    if v > MAX_CONNS:
        raise ValueError(
            f"max_conns={v}: at most {MAX_CONNS} per stack; each slot reserves about "
            f"{BYTES_PER_CONN_SLOT} bytes, so {v} would reserve "
            f"{_human(v * BYTES_PER_CONN_SLOT)} ({MAX_CONNS} reserve "
            f"{_human(MAX_CONNS * BYTES_PER_CONN_SLOT)}, committed as connections use it); "
            f"run more stacks for more connections")
    return v


def check_window_memory(value) -> int | None:
    if value is None:
        return None
    return check_int(value, "window_memory", 4096, 2 ** 63 - 1,
                     "bytes of attached windows the stack may hold; None: no limit")


def check_cc(value) -> str:
    if not isinstance(value, str):
        raise TypeError(f"cc={value!r}: expected a name, one of {', '.join(CC_NAMES)}")
    if value not in CC_NAMES:
        raise ValueError(f"cc={value!r}: choose one of {', '.join(CC_NAMES)}")
    return value


def check_recovery(value) -> str:
    if not isinstance(value, str) or value not in RECOVERY_NAMES:
        raise ValueError(f"recovery={value!r}: choose one of {', '.join(RECOVERY_NAMES)} "
                         f"('rack': RFC 8985 time-based loss detection and tail-loss probes; "
                         f"'rfc6675': duplicate-ACK threshold only)")
    return value


def check_seed(value) -> int | None:
    if value is None:
        return None
    return check_int(value, "seed", 0, MAX_SEED, "None for random, or 0 <= seed < 2**128 - 1")


def check_mtu(value) -> int | None:
    if value is None:
        return None
    return check_int(value, "mtu", MIN_MTU, MAX_MTU, "None takes the link's")


# ---- the whole set ----------------------------------------------------------------

def stack_config(ip="198.18.0.1/15", mtu=None, **options) -> StackConfig:
    """Check every Stack() setting (same keywords and defaults as Stack) and
    return them normalised. Raises TypeError or ValueError naming the setting."""
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown Stack option{'s' if len(unknown) > 1 else ''} "
                        f"{', '.join(sorted(unknown))}; valid: {', '.join(sorted(DEFAULTS))}")
    o = {**DEFAULTS, **options}
    ifaces4, ifaces6, slaac = check_ips(ip)
    iface = ifaces4[0] if ifaces4 else None
    rto_min = check_seconds(o["rto_min"], "rto_min", 0.0, MAX_SECONDS, lo_open=True)
    rto_initial = check_seconds(o["rto_initial"], "rto_initial", 0.0, MAX_SECONDS, lo_open=True)
    rto_max = check_seconds(o["rto_max"], "rto_max", 0.0, MAX_SECONDS, lo_open=True)
    if not rto_min <= rto_initial <= rto_max:
        raise ValueError(f"rto_min={o['rto_min']!r}, rto_initial={o['rto_initial']!r}, "
                         f"rto_max={o['rto_max']!r}: need rto_min <= rto_initial <= rto_max")
    background = check_bool(o["background"], "background")
    return StackConfig(
        ip=None if iface is None else str(iface.ip),
        ip6=tuple(str(a) for a in ifaces6),
        ip4=tuple(str(a) for a in ifaces4),
        slaac=slaac,
        gateway=check_gateway(o["gateway"], ifaces4),
        dad=check_dad(o["dad"]),
        dad_timeout_ns=check_seconds(o["dad_timeout"], "dad_timeout", 0.0, 60.0, lo_open=True,
                                     hint="RFC 4862's RetransTimer: how long DAD listens for "
                                          "another owner; 1 s by default"),
        prefixlen=None if iface is None else iface.network.prefixlen,
        netmask=None if iface is None else str(iface.network.netmask),
        mtu=check_mtu(mtu),
        max_conns=check_max_conns(o["max_conns"]),
        max_time_wait=check_int(o["max_time_wait"], "max_time_wait", 1, MAX_TIME_WAIT,
                                "TIME_WAIT records kept; when full the oldest is recycled"),
        rcvbuf=check_buffer(o["rcvbuf"], "rcvbuf"),
        sndbuf=check_buffer(o["sndbuf"], "sndbuf"),
        window_memory=check_window_memory(o["window_memory"]),
        msl_ns=check_seconds(o["msl"], "msl", 0.0, MAX_SECONDS,
                             hint="TIME_WAIT lasts 2 x msl; RFC 9293 suggests 120, tests use "
                                  "less"),
        rto_min_ns=rto_min,
        rto_max_ns=rto_max,
        rto_initial_ns=rto_initial,
        max_retries=check_int(o["max_retries"], "max_retries", 0, MAX_RETRIES,
                              "retransmissions of data before the connection is dropped"),
        syn_retries=check_int(o["syn_retries"], "syn_retries", 0, MAX_RETRIES,
                              "retransmissions of a SYN before connect() gives up"),
        delayed_ack_ns=check_seconds(o["delayed_ack"], "delayed_ack", 0.0, MAX_DELAYED_ACK,
                                     hint="0 turns delayed ACKs off; RFC 1122 and RFC 9293 "
                                          "allow at most 0.5 s"),
        timestamps=check_bool(o["timestamps"], "timestamps"),
        sack=check_bool(o["sack"], "sack"),
        window_scaling=check_bool(o["window_scaling"], "window_scaling"),
        cc=check_cc(o["cc"]),
        cc_id=CC_NAMES.index(o["cc"]),
        recovery=check_recovery(o["recovery"]),
        recovery_id=RECOVERY_NAMES.index(o["recovery"]),
        ecn=check_bool(o["ecn"], "ecn"),
        hystart=check_bool(o["hystart"], "hystart"),
        nodelay=check_bool(o["nodelay"], "nodelay"),
        keepalive=check_keepalive(o["keepalive"]),
        syncookies=check_bool(o["syncookies"], "syncookies"),
        challenge_ack_limit=check_int(o["challenge_ack_limit"], "challenge_ack_limit", 0,
                                      2 ** 32 - 1, "challenge ACKs per second (RFC 5961)"),
        frag_timeout_ns=check_seconds(o["frag_timeout"], "frag_timeout", 0.0, MAX_SECONDS,
                                      lo_open=True),
        frag_max_datagrams=check_int(o["frag_max_datagrams"], "frag_max_datagrams", 1, 1024),
        frag_max_bytes=check_int(o["frag_max_bytes"], "frag_max_bytes", 65536, MAX_BUF,
                                 "bytes held for reassembly, 64 KiB to 1 GiB"),
        busy_poll_ns=check_seconds(o["busy_poll"], "busy_poll", 0.0, MAX_BUSY_POLL,
                                   hint="seconds a blocking call spins before it sleeps; "
                                        "0 = never spin"),
        busy_poll_mode=check_busy_poll_mode(o["busy_poll_mode"]),
        background=background,
        export_stats=check_bool(o["export_stats"], "export_stats"),
        seed=check_seed(o["seed"]),
        ttl=check_int(o["ttl"], "ttl", 1, 255, "IPv4 time to live; Linux uses 64"),
    )


def parse_address(address, what: str = "address") -> tuple[str, int]:
    """(host, port) for connect() and sendto(): host an IPv4 or IPv6 address
    (no name lookups), port 1..65535. Returns (str host, int port)."""
    if isinstance(address, str):
        host, sep, port = address.rpartition(":")
        example = (f"({host!r}, {int(port)})" if sep and port.isdigit() and host
                   else "('198.18.0.2', 80)")
        raise TypeError(f"{what}={address!r}: expected a (host, port) tuple, e.g. {example}")
    if isinstance(address, (bytes, bytearray)) or not hasattr(address, "__len__") \
            or len(address) != 2:
        raise TypeError(f"{what}={address!r}: expected a (host, port) tuple, "
                        f"e.g. ('198.18.0.2', 80)")
    host, port = address
    if not isinstance(host, str):
        raise TypeError(f"{what}={address!r}: the host must be a string like '198.18.0.2'")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{what}={address!r}: {host!r} is not an IPv4 or IPv6 address "
                         f"(netchan does no name lookups)") from None
    if isinstance(port, bool) or not isinstance(port, numbers.Integral):
        raise TypeError(f"{what}={address!r}: the port must be a whole number, e.g. 80")
    port = operator.index(port)
    if not 1 <= port <= 65535:
        raise ValueError(f"{what}={address!r}: port {port} is not in 1..65535")
    return host, port
