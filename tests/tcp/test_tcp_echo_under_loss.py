"""Both directions at once under loss (an echo over a lossy pair, virtual
time): each side sends while it holds the other's out-of-order data, so its
data segments carry SACK blocks. They must still fit the MTU (RFC 9293
3.7.1: options count against the segment size). Frames 28 bytes over it
once overran a shm link buffer and corrupted 2 bytes of the stream now and
then (the lossy demo echo); the bytes and the `tcp_over_mtu` counter say
whether it holds."""
import random

import pytest

import netchan
from conftest import unique

CHUNK = 256 * 1024


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_lossy_echo_stays_intact_and_every_segment_fits_the_mtu(seed):
    clock = netchan.VirtualClock()
    name = unique("echo")
    server = netchan.Stack(f"pair:{name}", ip="198.18.1.1/15", clock=clock,
                           export_stats=False)
    client = netchan.Stack(f"pair:{name}?loss=0.02&seed={seed}", ip="198.18.1.2/15",
                           clock=clock, export_stats=False)
    try:
        listener = server.listen(7007)
        c = client.connect(("198.18.1.1", 7007), timeout=10)
        s = listener.accept(timeout=10)
        rng = random.Random(seed)
        for _ in range(4):
            data = rng.randbytes(CHUNK)
            c.sendall(data)
            echoed = 0
            while echoed < CHUNK:       # echo each piece as it comes, holes and all
                piece = s.recv(16384, timeout=30)
                s.sendall(piece)
                echoed += len(piece)
            got = b""
            while len(got) < CHUNK:
                got += c.recv(CHUNK - len(got), timeout=30)
            assert got == data
        for stack in (client, server):
            st = stack.stats()
            assert st["tcp_over_mtu"] == 0, st["tcp_over_mtu"]
        assert client.stats()["tcp_retransmits"] > 0       # the loss did bite
        assert client.stats()["tcp_ooo_segments"] > 0      # and data came out of order
    finally:
        client.close()
        server.close()
