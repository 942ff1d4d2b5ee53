"""The shm link trusts TCP checksums (issue 11, "the shm link to 2x"): its
peer is a netchan stack in this host's memory, so a sender leaves the TCP
checksum out and marks the buffer NC_BUF_F_CSUM_OK, as Linux's loopback
does. A fault wrapper that corrupts a frame clears the mark, so corruption
is still caught; a pcap wrapper writes the checksum in, so captures read as
valid. The pair link (tests, virtual clock) computes checksums as before."""
import hashlib

import pytest

import netchan
from conftest import unique
from helpers import pattern

SERVER, CLIENT = "198.18.0.1", "198.18.0.2"


def _pair(uri_a, uri_b):
    a = netchan.Stack(uri_a, ip=f"{SERVER}/15", seed=1, export_stats=False, background=True)
    b = netchan.Stack(uri_b, ip=f"{CLIENT}/15", seed=2, export_stats=False, background=True)
    return a, b


def _transfer(a, b, data):
    """Send data from b to a; each stack is driven by its own thread's
    blocking calls."""
    import threading
    listener = a.listen(80)
    c = b.connect((SERVER, 80), timeout=10)
    s = listener.accept(timeout=10)
    sender = threading.Thread(target=lambda: (c.sendall(data, timeout=60), c.close()))
    sender.start()
    got = bytearray()
    while True:
        chunk = s.recv(1 << 20, timeout=60)
        if not chunk:
            break
        got += chunk
    sender.join(60)
    s.close()
    listener.close()
    return bytes(got)


def test_a_shm_sender_leaves_the_tcp_checksum_out():
    from scapy.all import Ether, TCP
    name = unique("csum")
    stack = netchan.Stack(f"shm:{name}", ip=f"{CLIENT}/15", export_stats=False)
    raw = netchan.open_port(netchan.parse_port_uri(f"shm:{name}"))
    try:
        from netchan import _testing
        _testing.debug_arp_add(stack, SERVER, raw.mac)
        conn = stack.connect((SERVER, 80), timeout=0)
        frames = []
        for _ in range(1000):
            frames += [Ether(f) for f in raw.recv()]
            if any(TCP in f for f in frames):
                break
            stack.poll(0.001)
        syn = next(f for f in frames if TCP in f)
        assert syn[TCP].flags == "S"
        assert syn[TCP].chksum == 0                 # left out: the peer trusts the link
        conn.abort()
    finally:
        stack.close(linger=0)
        raw.close()


def test_data_over_shm_arrives_whole_without_checksum_passes():
    name = unique("csum")
    a, b = _pair(f"shm:{name}", f"shm:{name}")
    try:
        data = pattern(3 << 20, seed=5)
        got = _transfer(a, b, data)
        assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
        assert a.stats()["rx_tcp_csum"] == 0 and b.stats()["rx_tcp_csum"] == 0
    finally:
        b.close(linger=0)
        a.close(linger=0)


def test_frames_a_fault_wrapper_corrupts_are_still_caught():
    name = unique("csum")
    a, b = _pair(f"shm:{name}", f"shm:{name}?corrupt=3%&seed=9&fault_dir=tx")
    try:
        data = pattern(1 << 20, seed=6)
        got = _transfer(a, b, data)
        assert got == data
        st = a.stats()
        assert st["rx_tcp_csum"] + st["rx_ip_csum"] > 0   # caught and dropped, then resent
    finally:
        b.close(linger=0)
        a.close(linger=0)


def test_a_pcap_on_shm_records_valid_checksums(tmp_path):
    from scapy.all import IP, TCP, rdpcap
    path = tmp_path / "shm.pcap"
    name = unique("csum")
    a, b = _pair(f"shm:{name}?pcap={path}", f"shm:{name}")
    try:
        got = _transfer(a, b, pattern(200_000, seed=7))
        assert len(got) == 200_000
    finally:
        b.close(linger=0)
        a.close(linger=0)
    pkts = [p for p in rdpcap(str(path)) if TCP in p]
    assert len(pkts) > 10
    for p in pkts:
        sent = p[TCP].chksum
        del p[TCP].chksum
        assert IP(bytes(p[IP]))[TCP].chksum == sent, p.summary()
