"""One stack per core (issue 11): queue=K/N in a port URI, the steering
function, ephemeral ports picked so that replies come back to the stack
that owns the flow, and the classic BPF program an afpacket socket gets.
The program is checked on the real kernel in tests/interop/test_percore.py."""
import pytest

import netchan
from conftest import unique
from netchan.steer import afpacket_filter, pack_filter, parse_queue, queue_target, steer_queue
from netchan.percore import queue_uri
from netchan.uri import parse_port_uri

SERVER, CLIENT = "198.18.0.1", "198.18.0.2"


@pytest.mark.parametrize("text,want", [("0/1", (0, 1)), ("1/2", (1, 2)), (" 3 / 4 ", (3, 4)),
                                       ("63/64", (63, 64))])
def test_queue_parses(text, want):
    assert parse_queue(text) == want


@pytest.mark.parametrize("text,msg", [("2/2", "K must be 0..1"), ("0/0", "N must be 1..64"),
                                      ("1", "expected K/N"), ("0/65", "N must be"),
                                      ("-1/2", "expected K/N")])
def test_bad_queue_says_what_to_fix(text, msg):
    with pytest.raises(ValueError, match=msg):
        parse_port_uri(f"shm:x?queue={text}")


def test_dpdk_ports_take_queue_only_on_net_af_packet():
    with pytest.raises(ValueError, match="queue= needs net_af_packet"):
        parse_port_uri("dpdk:net_ring0?queue=0/2")
    with pytest.raises(ValueError, match="qpairs=1"):
        parse_port_uri("dpdk:net_af_packet0,iface=eth0,qpairs=2?queue=0/2")
    assert parse_port_uri("dpdk:net_af_packet0,iface=eth0?queue=1/2").queue == (1, 2)


def test_steering_is_symmetric_and_spreads():
    for a, b in [(80, 40000), (5201, 50123), (1, 65535)]:
        for n in (1, 2, 3, 8):
            assert steer_queue(a, b, n) == steer_queue(b, a, n)
    # Linux's connect() takes even local ports only: both spread anyway
    for ports in (range(32768, 32768 + 4000), range(32768, 32768 + 8000, 2)):
        for n in (2, 4):
            counts = [0] * n
            for p in ports:
                counts[steer_queue(p, 80, n)] += 1
            assert min(counts) > 0.8 * len(ports) / n, counts


def test_queue_uri_adds_the_parameter():
    assert queue_uri("afpacket:eth1", 1, 2) == "afpacket:eth1?queue=1/2"
    # xdp: no software steering: the device's rx queue k (docs/xdp.md)
    assert queue_uri("xdp:eth1", 1, 2) == "xdp:eth1?qid=1"
    assert queue_uri("xdp:eth1?mode=copy", 0, 2) == "xdp:eth1?mode=copy&qid=0"
    with pytest.raises(ValueError, match="already names an rx queue"):
        queue_uri("xdp:eth1?qid=1", 0, 2)
    assert queue_uri("shm:x?bufs=1024", 0, 4) == "shm:x?bufs=1024&queue=0/4"
    with pytest.raises(ValueError, match="already names a queue"):
        queue_uri("shm:x?queue=0/2", 1, 2)
    assert queue_target("x", 1, 2) == "x.q1" and queue_target("x", 0, 1) == "x"


@pytest.mark.parametrize("k,n", [(0, 2), (1, 2), (2, 3)])
def test_connections_of_a_queue_use_ports_that_steer_to_it(vclock, k, n):
    """Queue k of a pair link is its own link: the stacks on queue k meet,
    and the client's local ports satisfy steer_queue(lport, rport, n) == k."""
    name = unique("steer")
    a = netchan.Stack(f"pair:{name}?queue={k}/{n}", ip=f"{SERVER}/15", clock=vclock, seed=1)
    b = netchan.Stack(f"pair:{name}?queue={k}/{n}", ip=f"{CLIENT}/15", clock=vclock, seed=2)
    try:
        assert a.port.queue == (k, n)
        listener = a.listen(80)
        conns = [b.connect((SERVER, 80), timeout=5) for _ in range(20)]
        peers = [listener.accept(timeout=5) for _ in conns]
        for c in conns:
            assert steer_queue(c.getsockname()[1], 80, n) == k
        conns[0].sendall(b"ping")
        assert peers[0].recv(4, timeout=5) == b"ping"
        for c in conns + peers + [listener]:
            c.close()
    finally:
        b.close()
        a.close()


def test_the_filter_program_is_well_formed():
    for k, n in [(0, 1), (0, 2), (1, 2), (5, 8)]:
        prog = afpacket_filter(k, n)
        assert 20 < len(prog) < 64                  # the kernel takes up to 4096
        code = pack_filter(prog)
        assert len(code) == 8 * len(prog)
        assert prog[-1] == (0x06, 0, 0, 0)          # ret #0: drop
        # the answer for frames without ports: queue 0 takes them
        other = [i for i in prog if i[0] == 0x06]
        assert other[0][3] == (0x40000 if k == 0 else 0)
