"""Duplicate address detection per RFC 4862 (dad="wait"), optimistic per
RFC 4429 (the default) and off: which addresses are used and answered for
while DAD listens, the RetransTimer (dad_timeout, 1 s) on the virtual
clock, and what a conflict does. scapy plays the other host."""
import errno

import pytest
from scapy.layers.inet import TCP
from scapy.layers.inet6 import (ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS,
                                ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr, IPv6)
from scapy.layers.l2 import Ether

import netchan
from conftest import unique
from helpers import to_stack

OURS = "2001:2::1"
PEER = "2001:2::2"
SOLICITED = "ff02::1:ff00:1"
SOLICITED_MAC = "33:33:ff:00:00:01"


@pytest.fixture
def make(vclock):
    made = []

    def make(**kw):
        name = unique("dad")
        port = netchan.open_port(netchan.parse_port_uri(f"pair:{name}"))
        stack = netchan.Stack(f"pair:{name}", ip=[f"{OURS}/64"], clock=vclock, seed=1, **kw)
        made.append((stack, port))
        return stack, port, [Ether(f) for f in port.recv()]
    yield make
    for stack, port in made:
        stack.close()
        port.close()


def solicit(stack, port):
    return to_stack(stack, port, Ether(src=port.mac, dst=SOLICITED_MAC) /
                    IPv6(src=PEER, dst=SOLICITED, hlim=255) / ICMPv6ND_NS(tgt=OURS) /
                    ICMPv6NDOptSrcLLAddr(lladdr=port.mac))


def advance(stack, port, vclock, ns):
    vclock.advance(ns)
    stack.poll()
    return [Ether(f) for f in port.recv()]


def test_wait_keeps_the_address_tentative_for_retrans_timer(make, vclock):
    """RFC 4862 5.4: a tentative address is probed, not answered for, not
    used as a source; after RetransTimer (1 s) with no answer it is ours
    and announced."""
    stack, port, start = make(dad="wait")
    assert [f[ICMPv6ND_NS].tgt for f in start if ICMPv6ND_NS in f][0] == OURS
    assert [f for f in start if ICMPv6ND_NA in f] == []
    assert stack.address_state(OURS) == "tentative"
    assert solicit(stack, port) == []                                   # not answered for
    assert to_stack(stack, port, Ether(src=port.mac, dst=stack.mac) / IPv6(src=PEER, dst=OURS) /
                    ICMPv6EchoRequest()) == []                          # not ours yet
    assert stack.stats()["rx_ip6_not_for_us"] == 1
    listener = stack.listen(80)  # noqa: F841 (kept: a collected listener closes)
    assert to_stack(stack, port, Ether(src=port.mac, dst=stack.mac) / IPv6(src=PEER, dst=OURS) /
                    TCP(dport=80, flags="S")) == []
    with pytest.raises(OSError) as info:
        stack.connect((PEER, 80), timeout=0)                            # no source to use
    assert info.value.errno == errno.EADDRNOTAVAIL and "tentative" in str(info.value)
    assert [f for f in advance(stack, port, vclock, 999_000_000) if ICMPv6ND_NA in f] == []
    assert stack.address_state(OURS) == "tentative"
    ann = [f for f in advance(stack, port, vclock, 1_000_000) if ICMPv6ND_NA in f]
    assert [(f[ICMPv6ND_NA].tgt, f[ICMPv6ND_NA].O, f[IPv6].dst) for f in ann][0] == \
        (OURS, 1, "ff02::1")
    assert stack.address_state(OURS) == "preferred"
    (na,) = solicit(stack, port)
    assert (na[ICMPv6ND_NA].tgt, na[ICMPv6ND_NA].S, na[ICMPv6ND_NA].O) == (OURS, 1, 1)
    c = stack.connect((PEER, 80), timeout=0)
    stack.poll()
    (syn,) = [Ether(f) for f in port.recv()]
    assert syn[IPv6].src == OURS and syn[TCP].flags == "S"
    c.close()


def test_dad_timeout_sets_retrans_timer(make, vclock):
    stack, port, _ = make(dad="wait", dad_timeout=0.25)
    advance(stack, port, vclock, 249_000_000)
    assert stack.address_state(OURS) == "tentative"
    advance(stack, port, vclock, 1_000_000)
    assert stack.address_state(OURS) == "preferred"


def test_optimistic_addresses_are_used_at_once(make, vclock):
    """RFC 4429: usable while DAD listens; answers carry no override."""
    stack, port, start = make()
    assert stack.address_state(OURS) == "optimistic"
    assert [f[ICMPv6ND_NS].tgt for f in start if ICMPv6ND_NS in f][0] == OURS
    (na,) = solicit(stack, port)
    assert (na[ICMPv6ND_NA].S, na[ICMPv6ND_NA].O) == (1, 0)
    stack.connect((PEER, 80), timeout=0)
    stack.poll()
    assert [Ether(f)[IPv6].src for f in port.recv()] == [OURS]   # resolving PEER, from OURS
    advance(stack, port, vclock, 1_000_000_000)
    assert stack.address_state(OURS) == "preferred"


def test_off_sends_no_probe_and_announces_at_start(make):
    stack, port, start = make(dad="off")
    assert [f for f in start if ICMPv6ND_NS in f] == []
    ann = [f for f in start if ICMPv6ND_NA in f]
    assert [f[ICMPv6ND_NA].tgt for f in ann][0] == OURS and ann[0][ICMPv6ND_NA].O == 1
    assert stack.address_state(OURS) == "preferred"


def test_an_advertisement_during_dad_makes_the_address_duplicate(make, vclock):
    """RFC 4862 5.4.4: another host has it; it is never used (the stack
    keeps running: the conflict came after start)."""
    stack, port, _ = make(dad="wait")
    na = (Ether(src=port.mac, dst="33:33:00:00:00:01") / IPv6(src=OURS, dst="ff02::1", hlim=255)
          / ICMPv6ND_NA(tgt=OURS, O=1) / ICMPv6NDOptDstLLAddr(lladdr=port.mac))
    assert to_stack(stack, port, na) == []
    assert stack.address_state(OURS) == "duplicate"
    assert OURS + "/64" not in stack.addresses
    assert stack.stats()["ndp_address_conflict"] == 1
    assert [f for f in advance(stack, port, vclock, 2_000_000_000) if ICMPv6ND_NA in f
            and f[ICMPv6ND_NA].tgt == OURS] == []                        # never announced
    assert stack.address_state(OURS) == "duplicate"


def test_a_simultaneous_probe_makes_a_tentative_address_duplicate(make):
    """RFC 4862 5.4.3: a probe from :: for an address we are still
    checking: both tried it, neither keeps it."""
    stack, port, _ = make(dad="wait")
    probe = (Ether(src=port.mac, dst=SOLICITED_MAC) / IPv6(src="::", dst=SOLICITED, hlim=255) /
             ICMPv6ND_NS(tgt=OURS))
    assert to_stack(stack, port, probe) == []
    assert stack.address_state(OURS) == "duplicate"


def test_an_optimistic_address_is_defended_without_override(make):
    """First come keeps it: an optimistic address is already in use."""
    stack, port, _ = make()
    probe = (Ether(src=port.mac, dst=SOLICITED_MAC) / IPv6(src="::", dst=SOLICITED, hlim=255) /
             ICMPv6ND_NS(tgt=OURS))
    (na,) = to_stack(stack, port, probe)
    assert (na[ICMPv6ND_NA].tgt, na[ICMPv6ND_NA].O, na[IPv6].dst) == (OURS, 0, "ff02::1")
    assert stack.address_state(OURS) == "optimistic"
