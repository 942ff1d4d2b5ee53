"""MLDv2 (RFC 3810): the stack reports its solicited-node groups at start
(a switch snooping MLD would otherwise stop forwarding solicitations to
it) and answers queries within their maximum response delay. scapy checks
every report."""
import ipaddress

import pytest
from scapy.layers.inet6 import (ICMPv6MLDMultAddrRec, ICMPv6MLQuery, ICMPv6MLQuery2,
                                ICMPv6MLReport2, IPv6,
                                IPv6ExtHdrHopByHop, RouterAlert)
from scapy.layers.l2 import Ether

import netchan
from conftest import unique

OURS = "2001:2::1"


@pytest.fixture
def six(vclock):
    name = unique("mld")
    port = netchan.open_port(netchan.parse_port_uri(f"pair:{name}"))
    stack = netchan.Stack(f"pair:{name}", ip=["198.18.0.1/15", f"{OURS}/64"], clock=vclock,
                          seed=1)
    yield stack, port, [Ether(f) for f in port.recv()]
    stack.close()
    port.close()


def groups_of(stack):
    """The solicited-node groups (ff02::1:ffXX:XXXX) of the stack's IPv6 addresses."""
    return {str(ipaddress.IPv6Address(bytes.fromhex("ff0200000000000000000001ff") +
                                      ipaddress.IPv6Address(a.split("/")[0]).packed[13:]))
            for a in stack.addresses if ":" in a}


def records(rep):
    """The report's address records (scapy nests each after the one before)."""
    out = []
    for r in rep.records:
        while isinstance(r, ICMPv6MLDMultAddrRec):
            out.append(r)
            r = r.payload
    return out


def check_report(f, stack, record_type):
    assert f.dst == "33:33:00:00:00:16"
    assert f[IPv6].dst == "ff02::16" and f[IPv6].hlim == 1 and f[IPv6].nh == 0
    hbh = f[IPv6ExtHdrHopByHop]
    assert any(isinstance(o, RouterAlert) and o.value == 0 for o in hbh.options)
    rep = f[ICMPv6MLReport2]
    assert {r.dst for r in records(rep)} == groups_of(stack) and rep.records_number == 2
    assert {r.rtype for r in records(rep)} == {record_type}
    assert all(r.sources_number == 0 for r in records(rep))
    again = Ether(bytes(f))
    del again[ICMPv6MLReport2].cksum
    assert Ether(bytes(again))[ICMPv6MLReport2].cksum == rep.cksum
    assert f[IPv6].src.startswith("fe80::") or f[IPv6].src == "::"


def test_a_report_at_start_joins_every_solicited_node_group(six):
    stack, port, start = six
    (report,) = [f for f in start if ICMPv6MLReport2 in f]
    check_report(report, stack, 4)          # CHANGE_TO_EXCLUDE_MODE: a join
    assert stack.stats()["tx_mld_report"] == 1


def query(port, dst="ff02::1", src="fe80::99", hlim=1, mrd=1000, group="::", v2=True):
    q = (ICMPv6MLQuery2(mrd=mrd, mladdr=group) if v2 else ICMPv6MLQuery(mrd=mrd, mladdr=group))
    mac = "33:33:" + ":".join(f"{b:02x}" for b in ipaddress.IPv6Address(dst).packed[12:])
    return (Ether(src=port.mac, dst=mac) / IPv6(src=src, dst=dst, hlim=hlim) /
            IPv6ExtHdrHopByHop(options=[RouterAlert()]) / q)


@pytest.mark.parametrize("v2", [True, False])
def test_a_general_query_is_answered_within_its_delay(six, vclock, v2):
    stack, port, _ = six
    assert port.send(bytes(query(port, mrd=1000, v2=v2)))
    stack.poll()
    sent = []
    for _ in range(11):
        sent += [Ether(f) for f in port.recv()]
        vclock.advance(100_000_000)
        stack.poll()
    (report,) = [f for f in sent if ICMPv6MLReport2 in f]
    check_report(report, stack, 2)          # MODE_IS_EXCLUDE: the current state
    s = stack.stats()
    assert s["rx_mld_query"] == 1 and s["tx_mld_report"] == 2


def test_a_query_for_our_group_is_answered_and_others_are_not(six, vclock):
    stack, port, _ = six
    other = "ff02::1:ff00:9"
    assert port.send(bytes(query(port, dst=other, group=other, mrd=10)))
    stack.poll()
    vclock.advance(20_000_000)
    stack.poll()
    assert [f for f in map(Ether, port.recv()) if ICMPv6MLReport2 in f] == []
    ours = "ff02::1:ff00:1"
    assert port.send(bytes(query(port, dst=ours, group=ours, mrd=10)))
    stack.poll()
    vclock.advance(20_000_000)
    stack.poll()
    assert len([f for f in map(Ether, port.recv()) if ICMPv6MLReport2 in f]) == 1


@pytest.mark.parametrize("bad", [dict(hlim=64), dict(src="2001:2::9")])
def test_a_query_not_from_a_link_local_router_at_hop_limit_1_is_ignored(six, vclock, bad):
    stack, port, _ = six
    assert port.send(bytes(query(port, mrd=10, **bad)))
    stack.poll()
    vclock.advance(20_000_000)
    stack.poll()
    assert [f for f in map(Ether, port.recv()) if ICMPv6MLReport2 in f] == []
    assert stack.stats()["rx_ndp_format"] == 1
