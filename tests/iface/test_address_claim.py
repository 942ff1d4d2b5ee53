"""A stack claims its address when it starts (RFC 5227 in brief): it probes
(ARP request from 0.0.0.0), refuses to start when another host on the link
answers, and then announces the address so that peers holding a previous
owner's MAC for it take the new one."""
import errno
import subprocess
import sys
import textwrap

import pytest
from scapy.layers.l2 import ARP, Ether

import netchan
from conftest import unique
from helpers import python_env
from netchan._testing import build_arp, debug_arp_add

A, B = "198.18.0.1", "198.18.0.2"


def test_a_second_stack_with_the_same_address_is_refused(vclock):
    name = unique("dup")
    first = netchan.Stack(f"pair:{name}", ip=f"{A}/15", clock=vclock)
    try:
        with pytest.raises(OSError) as info:
            netchan.Stack(f"pair:{name}", ip=f"{A}/15", clock=vclock)
        assert info.value.errno == errno.EADDRINUSE
        assert f"{A} is already in use on pair:{name}" in str(info.value)
        assert "give this stack another address" in str(info.value)
        # the refused stack gave its end back: a stack with its own address joins
        with netchan.Stack(f"pair:{name}", ip=f"{B}/15", clock=vclock) as second:
            assert second.stats()["arp_address_conflict"] == 0
        assert first.stats()["arp_address_conflict"] == 0      # it was only asked
    finally:
        first.close()


def test_the_probe_and_the_announcement_on_the_wire(vclock):
    name = unique("claim")
    peer = netchan.open_port(netchan.parse_port_uri(f"pair:{name}"))
    stack = netchan.Stack(f"pair:{name}", ip=f"{A}/15", clock=vclock)
    try:
        probe, announce = [Ether(f) for f in peer.recv()]
        for frame in (probe, announce):
            assert frame.dst == "ff:ff:ff:ff:ff:ff" and frame[ARP].op == 1
            assert frame[ARP].hwsrc == stack.mac and frame[ARP].pdst == A
        assert probe[ARP].psrc == "0.0.0.0"             # no cache may learn from a probe
        assert announce[ARP].psrc == A                  # every cache that knows A updates
        # a probe from another host for A is answered (the address is defended)
        peer.send(build_arp(1, "02:00:00:00:00:09", "0.0.0.0", "00:00:00:00:00:00", A))
        stack.poll()
        (reply,) = [Ether(f) for f in peer.recv()]
        assert reply[ARP].op == 2 and reply[ARP].psrc == A and reply.dst == "02:00:00:00:00:09"
        assert A not in stack.arp_table() and "0.0.0.0" not in stack.arp_table()
    finally:
        stack.close()
        peer.close()


def test_an_announcement_replaces_a_stale_mac(vclock):
    name = unique("moved")
    peer = netchan.open_port(netchan.parse_port_uri(f"pair:{name}"))
    stack = netchan.Stack(f"pair:{name}", ip=f"{A}/15", clock=vclock)
    try:
        debug_arp_add(stack, B, "02:00:00:00:00:0b")       # B's previous owner
        peer.send(build_arp(1, peer.mac, B, "00:00:00:00:00:00", B))
        stack.poll()
        assert stack.arp_table()[B] == peer.mac
    finally:
        stack.close()
        peer.close()


def test_a_host_claiming_our_address_later_is_counted(vclock):
    name = unique("late")
    peer = netchan.open_port(netchan.parse_port_uri(f"pair:{name}"))
    stack = netchan.Stack(f"pair:{name}", ip=f"{A}/15", clock=vclock)
    try:
        peer.send(build_arp(2, "02:00:00:00:00:0c", A, stack.mac, A))
        stack.poll()
        assert stack.stats()["arp_address_conflict"] == 1
    finally:
        stack.close()
        peer.close()


SERVER = textwrap.dedent("""
    import sys, netchan
    s = netchan.Stack(sys.argv[1], ip=sys.argv[2] + "/15", background=True)
    print("UP", flush=True)
    sys.stdin.read()                # the background thread answers meanwhile
    s.close()
""")


def test_same_address_across_processes_is_refused():
    name = unique("dupshm")
    proc = subprocess.Popen([sys.executable, "-c", SERVER, f"shm:{name}", A],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=python_env())
    try:
        assert proc.stdout.readline().strip() == "UP"
        with pytest.raises(OSError, match=f"{A} is already in use on shm:{name}"):
            netchan.Stack(f"shm:{name}", ip=f"{A}/15")
        with netchan.Stack(f"shm:{name}", ip=f"{B}/15") as ok:
            assert ok.port.link_up
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
