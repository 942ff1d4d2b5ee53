"""netchan.config: every Stack setting checked, with a message that says what
to fix, before anything reaches C (pure Python: no stack is made)."""
import ipaddress

import pytest

from netchan import config
from netchan.config import parse_address, stack_config


def test_defaults_are_accepted_and_normalised():
    c = stack_config()
    assert (c.ip, c.prefixlen, c.netmask) == ("198.18.0.1", 15, "255.254.0.0")
    assert c.interface == ipaddress.IPv4Interface("198.18.0.1/15")
    assert c.msl_ns == 30_000_000_000 and c.delayed_ack_ns == 40_000_000
    assert c.rto_min_ns == c.rto_initial_ns == 1_000_000_000 and c.rto_max_ns == 60 * 10**9
    assert c.busy_poll_ns == 50_000 and c.frag_timeout_ns == 30 * 10**9
    assert (c.cc, c.cc_id) == ("cubic", 1)
    assert c.seed is None and c.ttl == 64 and c.mtu is None and c.keepalive is None
    assert c.rcvbuf is None and c.sndbuf is None
    assert c.max_conns == 4096 and c.memory_estimate == 4096 * config.BYTES_PER_CONN_SLOT


def test_every_option_is_documented_on_stack():
    """Stack(**options) passes its options to stack_config, whose DEFAULTS
    are the one place they live: Stack's docstring must name each of them
    with its default."""
    import netchan
    doc = " ".join((netchan.Stack.__doc__ or "").split())
    missing = [f"{k}={v!r}" for k, v in config.DEFAULTS.items() if f"{k}={v!r}" not in doc]
    assert not missing, f"Stack's docstring does not document: {missing}"


def test_normalisation():
    c = stack_config("10.1.2.3/8", mtu=9000, rcvbuf=5000, sndbuf=1 << 20, msl=1,
                     keepalive=(7200, 75, 9), seed=0, delayed_ack=0, busy_poll=0,
                     cc="newreno", ttl=255, max_conns=1 << 20)
    assert c.ip == "10.1.2.3" and c.prefixlen == 8 and c.mtu == 9000
    assert c.rcvbuf == 8192 and c.sndbuf == 1 << 20
    assert c.msl_ns == 10**9 and c.delayed_ack_ns == 0 and c.busy_poll_ns == 0
    assert c.keepalive == (7200 * 10**9, 75 * 10**9, 9)
    assert c.seed == 0 and (c.cc, c.cc_id) == ("newreno", 0) and c.ttl == 255
    with pytest.raises(Exception):
        c.ttl = 1       # frozen


def test_ipv4_interface_object_and_slash_31():
    assert stack_config(ipaddress.IPv4Interface("198.18.0.7/24")).ip == "198.18.0.7"
    # RFC 3021: on a /31 both addresses are hosts
    assert stack_config("198.18.0.0/31").ip == "198.18.0.0"
    assert stack_config("198.18.0.1/31").ip == "198.18.0.1"


def assert_ip_refused(ip, words):
    """stack_config(ip) raises ValueError naming ip= and every word."""
    with pytest.raises(ValueError) as e:
        stack_config(ip)
    msg = str(e.value)
    assert f"ip={ip!r}" in msg
    for w in words:
        assert w in msg, msg


@pytest.mark.parametrize("ip, words", [
    ("198.18.0.1", ["add a prefix length", "198.18.0.1/15"]),
    ("198.18.0.0/15", ["network address", "198.18.0.1/15"]),
    ("198.19.255.255/15", ["broadcast address", "198.19.255.254"]),
    ("224.0.0.1/4", ["multicast"]),
    ("239.1.2.3/24", ["multicast"]),
    ("127.0.0.1/8", ["loopback"]),
    ("0.0.0.0/8", ["0.0.0.0/8"]),
    ("0.1.2.3/24", ["0.0.0.0/8"]),
    ("240.0.0.1/8", ["reserved", "class E"]),
    ("255.255.255.255/8", ["reserved"]),
    ("198.18.0.1/32", ["/32", "1 to 31"]),
    ("198.18.0.1/0", ["/0"]),
    ("198.18.0.1/33", ["prefix length"]),
    ("hello/15", ["expected an IPv4 address"]),
    ("example.com", ["expected an IPv4 address"]),
    ("", ["expected an IPv4 address"]),
])
def test_bad_addresses(ip, words):
    assert_ip_refused(ip, words)


def test_ip_must_be_a_string():
    with pytest.raises(TypeError, match="expected a string like '198.18.0.1/15'"):
        stack_config(3324510209)


@pytest.mark.parametrize("ip", ["169.254.1.1/16", "10.0.0.1/8", "192.168.1.254/24",
                                "198.19.255.254/15"])
def test_good_addresses(ip):
    assert stack_config(ip).ip == ip.split("/")[0]


@pytest.mark.parametrize("option, value, words", [
    ("ttl", 0, ["ttl=0", "between 1 and 255"]),
    ("ttl", 300, ["ttl=300", "between 1 and 255"]),
    ("seed", -1, ["seed=-1", "between 0"]),
    ("seed", 2 ** 128, ["seed=", "2**128"]),
    ("syn_retries", -1, ["syn_retries=-1", "between 0 and 255"]),
    ("syn_retries", 256, ["syn_retries=256"]),
    ("max_retries", -1, ["max_retries=-1", "between 0 and 255"]),
    ("msl", -1, ["msl=-1", "at least 0"]),
    ("msl", 1e9, ["msl=", "at most 3600"]),
    ("delayed_ack", -1, ["delayed_ack=-1", "at least 0"]),
    ("delayed_ack", 0.6, ["delayed_ack=0.6", "at most 0.5", "RFC 1122"]),
    ("busy_poll", -1, ["busy_poll=-1", "at least 0"]),
    ("busy_poll", float("nan"), ["busy_poll=nan", "finite"]),
    ("msl", float("inf"), ["msl=inf", "finite"]),
    ("rto_min", 0, ["rto_min=0", "greater than 0"]),
    ("rto_min", 2.0, ["rto_min <= rto_initial <= rto_max"]),
    ("rto_max", 0.5, ["rto_min <= rto_initial <= rto_max"]),
    ("max_conns", 0, ["max_conns=0", "at least 1"]),
    ("max_conns", 2 ** 24, ["max_conns=16777216", "at most 1048576", "GiB"]),
    ("rcvbuf", 10, ["rcvbuf=10", "between 4096"]),
    ("sndbuf", 2 ** 31, ["sndbuf=", "between 4096"]),
    ("cc", "reno", ["cc='reno'", "newreno, cubic"]),
    ("keepalive", (0, 75, 9), ["keepalive idle"]),
    ("keepalive", (7200, 75, 0), ["keepalive count"]),
    ("frag_timeout", 0, ["frag_timeout=0"]),
    ("frag_max_datagrams", 0, ["frag_max_datagrams=0"]),
    ("frag_max_bytes", 1000, ["frag_max_bytes=1000"]),
    ("challenge_ack_limit", -1, ["challenge_ack_limit=-1"]),
])
def test_out_of_range(option, value, words):
    with pytest.raises(ValueError) as e:
        stack_config(**{option: value})
    for w in words:
        assert w in str(e.value), str(e.value)


def test_max_conns_message_states_the_memory():
    with pytest.raises(ValueError) as e:
        stack_config(max_conns=2 ** 24)
    # 2**24 slots x 708 bytes = 11.1 GiB; 2**20 = 708.0 MiB
    assert "11.1 GiB" in str(e.value) and "708.0 MiB" in str(e.value)


@pytest.mark.parametrize("option, value, words", [
    ("ttl", 64.0, ["ttl=64.0", "whole number, e.g. 64"]),
    ("ttl", "64", ["ttl='64'", "whole number"]),
    ("max_conns", True, ["max_conns=True", "whole number"]),
    ("seed", 1.5, ["seed=1.5", "whole number"]),
    ("msl", "30", ["msl='30'", "number of seconds"]),
    ("delayed_ack", True, ["delayed_ack=True", "number of seconds"]),
    ("timestamps", 1, ["timestamps=1", "True or False"]),
    ("sack", "yes", ["sack='yes'", "True or False"]),
    ("window_scaling", None, ["window_scaling=None", "True or False"]),
    ("nodelay", 0, ["nodelay=0"]),
    ("syncookies", 1, ["syncookies=1"]),
    ("background", "no", ["background='no'"]),
    ("export_stats", 0, ["export_stats=0"]),
    ("cc", 1, ["cc=1", "newreno, cubic"]),
    ("keepalive", 7200, ["keepalive=7200", "(7200, 75, 9)"]),
    ("keepalive", "7200,75,9", ["keepalive="]),
    ("rcvbuf", "1M", ["rcvbuf='1M'"]),
])
def test_wrong_kinds_are_type_errors(option, value, words):
    with pytest.raises(TypeError) as e:
        stack_config(**{option: value})
    for w in words:
        assert w in str(e.value), str(e.value)


def test_mtu():
    assert stack_config(mtu=576).mtu == 576 and stack_config(mtu=65535).mtu == 65535
    with pytest.raises(ValueError, match="mtu=100: must be between 576 and 65535"):
        stack_config(mtu=100)
    with pytest.raises(TypeError, match="mtu='1500'"):
        stack_config(mtu="1500")


def test_unknown_option_lists_the_valid_ones():
    with pytest.raises(TypeError) as e:
        stack_config(mss=1460)
    assert "unknown Stack option mss" in str(e.value) and "max_conns" in str(e.value)


def test_integer_subclasses_are_accepted():
    class Hops(int):
        pass
    assert stack_config(ttl=Hops(7)).ttl == 7 and type(stack_config(ttl=Hops(7)).ttl) is int


# ---- (host, port) ---------------------------------------------------------------------

def test_parse_address_good():
    assert parse_address(("198.18.0.2", 80)) == ("198.18.0.2", 80)
    assert parse_address(["198.18.0.2", 65535]) == ("198.18.0.2", 65535)


def test_parse_address_from_a_string_shows_the_tuple():
    with pytest.raises(TypeError) as e:
        parse_address("198.18.0.2:80")
    assert "expected a (host, port) tuple, e.g. ('198.18.0.2', 80)" in str(e.value)
    assert "address='198.18.0.2:80'" in str(e.value)
    with pytest.raises(TypeError, match=r"e\.g\. \('198\.18\.0\.2', 80\)"):
        parse_address("198.18.0.2")


@pytest.mark.parametrize("address, exc, words", [
    (("198.18.0.2", 0), ValueError, ["port 0 is not in 1..65535"]),
    (("198.18.0.2", 65536), ValueError, ["port 65536"]),
    (("198.18.0.2", "80"), TypeError, ["whole number"]),
    (("198.18.0.2", True), TypeError, ["whole number"]),
    (("example.com", 80), ValueError, ["no name lookups"]),
    ((b"198.18.0.2", 80), TypeError, ["host must be a string"]),
    (("198.18.0.2", 80, 0), TypeError, ["(host, port) tuple"]),
    (80, TypeError, ["(host, port) tuple"]),
    (None, TypeError, ["(host, port) tuple"]),
])
def test_parse_address_bad(address, exc, words):
    with pytest.raises(exc) as e:
        parse_address(address, "connect")
    for w in words:
        assert w in str(e.value), str(e.value)


@pytest.mark.parametrize("kwargs, exc, words", [
    ({"ip": "198.18.0.1"}, ValueError, "add a prefix length"),
    ({"ip": "198.18.0.0/15"}, ValueError, "network address"),
    ({"ttl": 300}, ValueError, "ttl"),
    ({"seed": -1}, ValueError, "seed"),
    ({"msl": -1}, ValueError, "msl"),
    ({"max_conns": 2 ** 24}, ValueError, "max_conns"),
    ({"timestamps": 1}, TypeError, "timestamps"),
])
def test_stack_refuses_before_it_opens_anything(kwargs, exc, words):
    """Stack() checks its settings first: nothing is claimed (no link file,
    no stats segment) when one is wrong."""
    import os

    import netchan
    from conftest import unique
    name = unique("refused")
    with pytest.raises(exc, match=words):
        netchan.Stack(f"shm:{name}", **kwargs)
    assert not os.path.exists(f"/dev/shm/netchan-link-{name}")
    assert not [f for f in os.listdir("/dev/shm") if f.startswith(f"netchan-stats.{os.getpid()}.")]


def test_stats_segment_is_private_to_its_owner(vclock):
    import os
    import stat

    import netchan
    from conftest import unique
    with netchan.Stack(f"pair:{unique('mode')}", ip="198.18.0.1/15", clock=vclock) as s:
        assert stat.S_IMODE(os.stat(s.stats_path).st_mode) == 0o600


# ---- several addresses (IPv4 and IPv6) ---------------------------------------------

@pytest.mark.parametrize("ip, words", [
    ([f"198.18.0.{i}/15" for i in range(1, 6)], ["at most 4 IPv4 addresses (found 5)"]),
    (["198.18.0.1/15", "198.18.0.1/24"], ["198.18.0.1 is given with two prefixes",
                                          "/15 and /24"]),
    (["2001:2::1/64", "2001:2::1/48"], ["2001:2::1 is given with two prefixes"]),
    (["198.18.0.1/15", "198.18.0.1/15"], ["198.18.0.1 is given twice"]),
    (["slaac", "slaac"], ["'slaac' is given twice"]),
    (["198.18.0.1/15", "2001:2::1"], ["add a prefix length to 2001:2::1", "2001:2::1/64"]),
    (["198.18.0.1/15", "2001:2::1/128"], ["/128", "no neighbour"]),
    (["198.18.0.1/15", "2001:2::1/0"], ["/0", "every address"]),
    (["198.18.0.1/15", "::/64"], ["unspecified"]),
    (["198.18.0.1/15", "::1/64"], ["loopback"]),
    (["198.18.0.1/15", "ff02::1/64"], ["multicast"]),
    (["198.18.0.1/15", "::ffff:198.18.0.1/96"], ["IPv4-mapped"]),
    (["198.18.0.1/15", "2001:2::zz/64"], ["not an IPv6 address"]),
    (["198.18.0.1/15", "2001:2::1/64", "2001:2::1/64"], ["given twice"]),
    (["198.18.0.1/15"] + [f"2001:2::{i}/64" for i in range(1, 6)], ["at most 4 IPv6"]),
    (["198.18.0.0/15", "2001:2::1/64"], ["'198.18.0.0/15'", "network address"]),
    ([], ["at least one address"]),
])
def test_bad_address_lists(ip, words):
    assert_ip_refused(ip, words)


def test_address_list_kinds():
    with pytest.raises(TypeError, match="is not an address string"):
        stack_config(["198.18.0.1/15", 5])
    with pytest.raises(TypeError, match="or a list like"):
        stack_config({"198.18.0.1/15"})


def test_good_address_lists():
    cfg = stack_config(["2001:2::1/64", "198.18.0.1/15", "fe80::1/64"])
    assert cfg.ip == "198.18.0.1" and cfg.ip6 == ("2001:2::1/64", "fe80::1/64")
    assert stack_config("198.18.0.1/15").ip6 == ()
    assert stack_config(("198.18.0.1/15",)).ip == "198.18.0.1"


def test_ipv6_only_and_several_ipv4_addresses():
    cfg = stack_config(["2001:2::1/64"])
    assert (cfg.ip, cfg.ip4, cfg.ip6, cfg.interface) == (None, (), ("2001:2::1/64",), None)
    assert stack_config("2001:2::1/64").ip6 == ("2001:2::1/64",)          # one string too
    cfg = stack_config(["198.18.0.1/15", "198.18.0.3/15", "2001:2::1/64", "2001:2::3/64"])
    assert cfg.ip == "198.18.0.1" and cfg.ip4 == ("198.18.0.1/15", "198.18.0.3/15")
    assert cfg.ip6 == ("2001:2::1/64", "2001:2::3/64") and not cfg.slaac
    cfg = stack_config(["198.18.0.1/15", "slaac"])
    assert cfg.slaac and cfg.ip6 == () and stack_config(["SLAAC"]).ip is None


@pytest.mark.parametrize("kwargs, words", [
    (dict(gateway="198.18.0.1"), ["own address"]),
    (dict(gateway="10.0.0.1"), ["not on this stack's network (198.18.0.0/15)"]),
    (dict(gateway="2001:2::ff"), ["router advertisements"]),
    (dict(ip=["2001:2::1/64"], gateway="198.18.0.254"), ["no IPv4 address"]),
    (dict(dad="fast"), ["'optimistic', 'wait', 'off'"]),
    (dict(dad_timeout=0), ["dad_timeout=0", "RetransTimer"]),
])
def test_bad_gateway_and_dad_say_what_to_fix(kwargs, words):
    with pytest.raises(ValueError) as e:
        stack_config(**{"ip": "198.18.0.1/15", **kwargs})
    for w in words:
        assert w in str(e.value), str(e.value)


def test_gateway_and_dad_settings():
    cfg = stack_config("198.18.0.1/15", gateway="198.18.0.254", dad="wait", dad_timeout=0.5)
    assert (cfg.gateway, cfg.dad, cfg.dad_timeout_ns) == ("198.18.0.254", "wait", 500_000_000)
    cfg = stack_config("198.18.0.1/15")
    assert (cfg.gateway, cfg.dad, cfg.dad_timeout_ns) == (None, "optimistic", 1_000_000_000)


def test_parse_address_takes_ipv6():
    assert parse_address(("2001:2::2", 80)) == ("2001:2::2", 80)
    with pytest.raises(ValueError, match="not an IPv4 or IPv6 address"):
        parse_address(("2001:2::zz", 80))
