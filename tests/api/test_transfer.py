"""Byte-exact bulk transfers: over pair with every fault the fault port has
(on the virtual clock), and over shm between two processes."""
import hashlib
import os
import subprocess
import sys
import textwrap

import pytest

import netchan
from conftest import unique
from helpers import pattern, pump_transfer


def _faulty_pair(vclock, name, **faults):
    query = "&".join(f"{k}={v}" for k, v in faults.items())
    a = netchan.Stack(f"pair:{name}?{query}", ip="198.18.0.1/15", clock=vclock, seed=11)
    b = netchan.Stack(f"pair:{name}", ip="198.18.0.2/15", clock=vclock, seed=12)
    return a, b


def test_64mib_over_faulty_pair_is_byte_identical(vclock):
    """2% loss, 2% reorder, 1% duplication, 0.5% corruption on every frame in
    both directions (the fault port wraps one end, seeded)."""
    a, b = _faulty_pair(vclock, unique("faulty"), loss=0.02, reorder=0.02, dup=0.01,
                        corrupt=0.005, seed=7)
    try:
        listener = a.listen(9000)
        client = b.connect(("198.18.0.1", 9000))
        server = listener.accept()
        data = pattern(64 << 20, seed=3)
        digest, got = pump_transfer(b, client, server, data)
        assert got == len(data)
        assert digest == hashlib.sha256(data).hexdigest()
        stats = a.stats()
        # the faults really happened, and were survived
        assert stats["fault_lost"] > 1000
        assert stats["fault_reordered"] > 1000
        assert stats["fault_duplicated"] > 500
        assert stats["fault_corrupted"] > 200
        assert stats["rx_tcp_csum"] + stats["rx_ip_csum"] + stats["rx_not_for_us"] > 0
        assert b.stats()["tcp_retransmits"] > 0
    finally:
        b.close()
        a.close()


SHM_SERVER = textwrap.dedent("""
    import hashlib, sys, netchan
    uri, mtu = sys.argv[1], int(sys.argv[2])
    with netchan.Stack(uri, ip="198.18.0.1/15", mtu=mtu) as stack:
        listener = stack.listen(7000)
        print("READY", flush=True)
        conn = listener.accept(timeout=60)
        h = hashlib.sha256()
        total = 0
        while True:
            view = conn.recv_view(timeout=60)
            n = len(view)
            if n == 0:
                break
            h.update(view)
            view.release()
            conn.consume(n)
            total += n
        conn.close()
        print(total, h.hexdigest(), stack.stats()["tcp_rcv_in_place_bytes"], flush=True)
""")


@pytest.mark.parametrize("mtu", [1500, 65535])
def test_1gib_over_shm_between_two_processes(mtu):
    from helpers import python_env
    name = unique("gib")
    uri = f"shm:{name}"
    server = subprocess.Popen([sys.executable, "-c", SHM_SERVER, uri, str(mtu)],
                              stdout=subprocess.PIPE, text=True, env=python_env())
    try:
        assert server.stdout.readline().strip() == "READY"
        block = pattern(64 << 20, seed=5)
        h = hashlib.sha256()
        with netchan.Stack(uri, ip="198.18.0.2/15", mtu=mtu) as stack:
            conn = stack.connect(("198.18.0.1", 7000), timeout=30)
            for _ in range(16):
                conn.sendall(block, timeout=60)
                h.update(block)
            conn.shutdown(1)
            assert conn.recv(1, timeout=60) == b""
            conn.close()
        out, _ = server.communicate(timeout=60)
        total, digest, in_place = out.split()
        assert int(total) == 1 << 30
        assert digest == h.hexdigest()
        # the receiver read the sender's send windows in place (windows=shared)
        assert int(in_place) > 0.9 * (1 << 30)
        assert server.returncode == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert not os.path.exists(f"/dev/shm/netchan-link-{name}")
