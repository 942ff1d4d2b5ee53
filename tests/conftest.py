"""Shared fixtures. Every test that makes a link names it uniquely, so tests
can run in any order and in parallel; every stack a fixture makes is closed."""
import os
import uuid

import pytest

import netchan

IN_CI = os.environ.get("CI") == "true"

SERVER_IP = "198.18.0.1"
CLIENT_IP = "198.18.0.2"
PEER_IP = "198.18.0.2"


def unique(prefix="t"):
    return f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def require(condition, why):
    """Skip without a capability, except in CI, where a missing capability is
    a failure (the CI machine is root and has everything)."""
    if not condition:
        if IN_CI:
            pytest.fail(f"CI must be able to run this test: {why}")
        pytest.skip(why)


def require_root():
    require(os.geteuid() == 0, "needs root")


@pytest.fixture
def vclock():
    return netchan.VirtualClock()


@pytest.fixture
def link_name():
    return unique("link")


@pytest.fixture
def pair(vclock, link_name):
    """Two stacks wired back to back on a virtual clock: (server, client)."""
    a = netchan.Stack(f"pair:{link_name}", ip=f"{SERVER_IP}/15", clock=vclock, seed=1)
    b = netchan.Stack(f"pair:{link_name}", ip=f"{CLIENT_IP}/15", clock=vclock, seed=2)
    yield a, b
    b.close()
    a.close()


@pytest.fixture
def raw_peer(vclock, link_name):
    """A stack and the bare other end of its link: (stack, port). The test
    plays the peer by sending and receiving raw frames on `port`."""
    stack = netchan.Stack(f"pair:{link_name}", ip=f"{SERVER_IP}/15", clock=vclock, seed=1)
    port = netchan.open_port(netchan.parse_port_uri(f"pair:{link_name}"))
    yield stack, port
    port.close()
    stack.close()


@pytest.fixture(autouse=True, scope="session")
def _no_leftover_segments():
    """Each stack removes its stats segment and each link its file: check
    that nothing this test process created is left in /dev/shm."""
    yield
    mine = f"netchan-stats.{os.getpid()}."
    left = [f for f in os.listdir("/dev/shm") if f.startswith(mine)]
    assert not left, f"stats segments left behind: {left}"


@pytest.fixture
def peer(raw_peer, vclock):
    """A stack and a scripted remote TCP (tests/tcp_harness.py)."""
    from tcp_harness import Peer
    stack, port = raw_peer
    return Peer(stack, port, vclock)


@pytest.fixture
def make_peer(vclock):
    """A factory for scripted peers whose stack has other options than the
    defaults (e.g. make_peer(msl=1.0, rcvbuf=4096)); same addresses and
    clock as `peer`. Every stack it made is closed afterwards."""
    from tcp_harness import Peer
    made = []

    def make(**stack_options):
        name = unique("link")
        stack_options.setdefault("seed", 1)
        stack = netchan.Stack(f"pair:{name}", ip=f"{SERVER_IP}/15", clock=vclock,
                              **stack_options)
        port = netchan.open_port(netchan.parse_port_uri(f"pair:{name}"),
                                 stack_options.get("mtu"))
        made.append((stack, port))
        return Peer(stack, port, vclock)
    yield make
    for stack, port in reversed(made):
        port.close()
        stack.close()
