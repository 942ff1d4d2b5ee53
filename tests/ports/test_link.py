"""The pair and shm links, and the wrappers that stack on any port (fault,
pcap), exercised with raw frames."""
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

import netchan
from conftest import require, unique
from helpers import python_env


def frame(i, size=100):
    """A broadcast Ethernet frame carrying its sequence number."""
    body = i.to_bytes(4, "big") * (size // 4)
    return b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xb5" + body[: size - 14]


def shm_path(name):
    return f"/dev/shm/netchan-link-{name}"


# ---- shm ------------------------------------------------------------------------------

def test_shm_two_ends_carry_frames_and_the_file_goes_when_both_close():
    name = unique("shm")
    a = netchan.open_port(netchan.parse_port_uri(f"shm:{name}"))
    assert os.path.exists(shm_path(name))
    assert not a.link_up
    b = netchan.open_port(netchan.parse_port_uri(f"shm:{name}"))
    assert a.link_up and b.link_up
    assert a.mac != b.mac
    for i in range(100):
        assert a.send(frame(i))
    got = []
    while len(got) < 100:
        chunk = b.recv()
        assert chunk, "frames lost on the link"
        got += chunk
    assert got == [frame(i) for i in range(100)]
    b.send(frame(7, 1514))
    assert a.recv() == [frame(7, 1514)]
    a.close()
    assert os.path.exists(shm_path(name))       # b still holds it
    assert not b.link_up
    b.close()
    assert not os.path.exists(shm_path(name))


def test_shm_third_end_is_refused():
    name = unique("shm3")
    a = netchan.open_port(netchan.parse_port_uri(f"shm:{name}"))
    b = netchan.open_port(netchan.parse_port_uri(f"shm:{name}"))
    try:
        with pytest.raises(OSError, match="already has two ends"):
            netchan.open_port(netchan.parse_port_uri(f"shm:{name}"))
    finally:
        a.close()
        b.close()


def test_shm_mtu_mismatch_says_what_to_pass():
    name = unique("mtu")
    a = netchan.Stack(f"shm:{name}", ip="198.18.0.1/15", mtu=9000, export_stats=False)
    try:
        with pytest.raises(ValueError, match="mtu=9000"):
            netchan.Stack(f"shm:{name}", ip="198.18.0.2/15", mtu=1500, export_stats=False)
        b = netchan.Stack(f"shm:{name}", ip="198.18.0.2/15", export_stats=False)
        assert b.mtu == 9000
        b.close()
    finally:
        a.close()


def test_shm_reattach_after_clean_detach():
    name = unique("re")
    a = netchan.open_port(netchan.parse_port_uri(f"shm:{name}"))
    b = netchan.open_port(netchan.parse_port_uri(f"shm:{name}"))
    for i in range(10):
        b.send(frame(i))
    b.close()
    a.recv()
    c = netchan.open_port(netchan.parse_port_uri(f"shm:{name}"))
    try:
        assert a.link_up and c.link_up
        for i in range(3000):                   # more than the pool: buffers come back
            assert c.send(frame(i))
            assert a.recv() == [frame(i)]
        assert c.stats()["port_double_free"] == 0
    finally:
        c.close()
        a.close()
    assert not os.path.exists(shm_path(name))


HOLDER = textwrap.dedent("""
    import sys, netchan, time
    p = netchan.open_port(netchan.parse_port_uri(sys.argv[1]))
    print("ATTACHED", flush=True)
    sys.stdin.read()
""")


def _holder(name):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, f"shm:{name}"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=python_env())
    assert proc.stdout.readline().strip() == "ATTACHED"
    return proc


def test_shm_dead_ends_are_recovered_or_taken_over():
    name = unique("dead")
    p1 = _holder(name)
    p1.send_signal(signal.SIGKILL)
    p1.wait()
    # the only end died without closing: a newcomer starts the link afresh
    a = netchan.open_port(netchan.parse_port_uri(f"shm:{name}"))
    p2 = _holder(name)
    b = None
    try:
        assert a.link_up
        p2.send_signal(signal.SIGKILL)
        p2.wait()
        # the survivor sees at once that the peer died (its pid is gone)...
        assert not a.link_up
        assert a.send(frame(1)) == 1            # ...and its frames go nowhere
        # ...and lets go of the dead end when it next receives: a restarted
        # peer then takes the dead end's place, with all its buffers free
        assert a.recv() == []
        b = netchan.open_port(netchan.parse_port_uri(f"shm:{name}"))
        assert a.link_up and b.link_up
        for i in range(3 * 4096):               # more than one pool's worth
            assert b.send(frame(i)) == 1
            assert a.recv() == [frame(i)]
            assert a.send(frame(i + 1)) == 1
            assert b.recv() == [frame(i + 1)]
    finally:
        if b is not None:
            b.close()
        a.close()
    assert not os.path.exists(shm_path(name))


def test_shm_takeover_waits_for_a_survivor_that_never_polls():
    name = unique("deaf")
    a = netchan.open_port(netchan.parse_port_uri(f"shm:{name}"))
    p = _holder(name)
    saved = netchan._core.LINK_TAKEOVER_WAIT
    netchan._core.LINK_TAKEOVER_WAIT = 0.2
    try:
        p.send_signal(signal.SIGKILL)
        p.wait()
        assert not a.link_up                    # found dead, but a never receives
        with pytest.raises(OSError, match=r"has not let go of it .*Stack\(background=True\)"):
            netchan.open_port(netchan.parse_port_uri(f"shm:{name}"))
    finally:
        netchan._core.LINK_TAKEOVER_WAIT = saved
        a.close()


def test_shm_bad_names_and_params():
    with pytest.raises(ValueError):
        netchan.open_port(netchan.parse_port_uri("shm:a/b"))
    with pytest.raises(ValueError, match="bufs"):
        netchan.open_port(netchan.parse_port_uri(f"shm:{unique()}?bufs=3"))
    with pytest.raises(ValueError, match="MTU"):
        netchan.open_port(netchan.parse_port_uri(f"shm:{unique()}"), mtu=100)


def test_shm_wakes_a_sleeping_peer():
    """A stack blocked in a wait (futex on the link's doorbell) wakes when a
    frame arrives, long before its timeout."""
    name = unique("bell")
    code = textwrap.dedent("""
        import sys, time, netchan
        s = netchan.Stack(sys.argv[1], ip="198.18.0.1/15", busy_poll=0, export_stats=False)
        u = s.udp(("198.18.0.1", 9999))
        print("READY", flush=True)
        data, addr = u.recvfrom(timeout=30)
        print(data.decode(), flush=True)
        s.close()
    """)
    proc = subprocess.Popen([sys.executable, "-c", code, f"shm:{name}"], stdout=subprocess.PIPE,
                            text=True, env=python_env())
    try:
        assert proc.stdout.readline().strip() == "READY"
        with netchan.Stack(f"shm:{name}", ip="198.18.0.2/15", export_stats=False) as s:
            s.udp().sendto(b"wake up", ("198.18.0.1", 9999))
            s.run_until(lambda: proc.poll() is not None or s.stats()["rx_arp_reply"] > 0, timeout=10)
            out, _ = proc.communicate(timeout=10)
        assert out.strip() == "wake up"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ---- pair ------------------------------------------------------------------------------

def test_pair_third_end_refused_and_ends_reusable():
    name = unique("pair")
    a = netchan.open_port(netchan.parse_port_uri(f"pair:{name}"))
    b = netchan.open_port(netchan.parse_port_uri(f"pair:{name}"))
    with pytest.raises(OSError):
        netchan.open_port(netchan.parse_port_uri(f"pair:{name}"))
    a.send(frame(1))
    assert b.recv() == [frame(1)]
    a.close()
    b.close()
    c = netchan.open_port(netchan.parse_port_uri(f"pair:{name}"))
    assert not c.link_up
    c.close()


# ---- fault wrapper -------------------------------------------------------------------------

def _run_faults(name, seed, n=5000):
    a = netchan.open_port(netchan.parse_port_uri(
        f"pair:{name}?loss=0.05&dup=0.05&reorder=0.05&corrupt=0.05&seed={seed}&fault_dir=tx"))
    b = netchan.open_port(netchan.parse_port_uri(f"pair:{name}"))
    got = []
    try:
        for i in range(n):
            a.send(frame(i), now=i * 1000)
            got += b.recv(now=i * 1000)
        got += b.recv(now=10**12)
        a.recv(now=10**12)                      # releases a held frame on the tx side
        got += b.recv(now=10**12)
        return got, a.stats()
    finally:
        a.close()
        b.close()


def test_fault_port_is_reproducible_from_its_seed():
    got1, st1 = _run_faults(unique("f1"), seed=3)
    got2, st2 = _run_faults(unique("f2"), seed=3)
    got3, st3 = _run_faults(unique("f3"), seed=4)
    assert got1 == got2 and st1 == {**st2, **{k: st1[k] for k in st1 if k.startswith("port_")}}
    assert got1 != got3
    for key, frac in (("fault_lost", 0.05), ("fault_duplicated", 0.05),
                      ("fault_reordered", 0.05), ("fault_corrupted", 0.05)):
        assert 0.03 * 5000 < st1[key] < 0.07 * 5000, (key, st1[key])
    # every frame is accounted for: sent - lost + duplicated == delivered
    assert len(got1) == 5000 - st1["fault_lost"] + st1["fault_duplicated"]
    seqs = [int.from_bytes(f[14:18], "big") for f in got1 if f[:14] == frame(0)[:14]]
    assert any(x > y for x, y in zip(seqs, seqs[1:])), "no reordering seen"


def test_fault_reorder_works_behind_a_delay():
    """reorder= with delay=: a frame leaving the delay line is held back
    until the next one has passed (it used to be ignored when delayed)."""
    name = unique("delayreorder")
    a = netchan.open_port(netchan.parse_port_uri(
        f"pair:{name}?delay=1ms&reorder=0.1&seed=5&fault_dir=tx"))
    b = netchan.open_port(netchan.parse_port_uri(f"pair:{name}"))
    got = []
    try:
        for i in range(1000):
            a.send(frame(i), now=i * 500_000)          # two frames per delay
            a.recv(now=i * 500_000)
            got += b.recv(now=i * 500_000)
        for t in range(10**9, 10**9 + 10):
            a.recv(now=t)
            got += b.recv(now=t)
        stats = a.stats()
    finally:
        a.close()
        b.close()
    seqs = [int.from_bytes(f[14:18], "big") for f in got]
    assert sorted(seqs) == list(range(1000))            # nothing lost or duplicated
    assert 50 < stats["fault_reordered"] < 150
    assert sum(x > y for x, y in zip(seqs, seqs[1:])) == stats["fault_reordered"]


def test_fault_delay_holds_frames_until_due():
    name = unique("delay")
    a = netchan.open_port(netchan.parse_port_uri(f"pair:{name}?delay=5ms&fault_dir=tx"))
    b = netchan.open_port(netchan.parse_port_uri(f"pair:{name}"))
    try:
        a.send(frame(1), now=1_000_000)
        assert a.next_deadline() == 6_000_000
        assert b.recv(now=5_999_999) == []
        a.recv(now=5_999_999)
        assert b.recv(now=5_999_999) == []
        a.recv(now=6_000_000)                   # any call at the due time releases it
        assert b.recv(now=6_000_000) == [frame(1)]
        assert a.stats()["fault_delayed"] == 1
    finally:
        a.close()
        b.close()


# ---- pcap wrapper ------------------------------------------------------------------------

def test_pcap_records_both_directions_for_tcpdump_and_scapy(tmp_path, vclock):
    from scapy.all import rdpcap, TCP
    path = tmp_path / "t.pcap"
    name = unique("pcap")
    a = netchan.Stack(f"pair:{name}?pcap={path}", ip="198.18.0.1/15", clock=vclock)
    b = netchan.Stack(f"pair:{name}", ip="198.18.0.2/15", clock=vclock)
    try:
        listener = a.listen(80)
        c = b.connect(("198.18.0.1", 80))
        s = listener.accept()
        c.sendall(b"x" * 5000)
        assert len(s.recv(10000)) > 0
    finally:
        b.close()
        a.close()
    st = a.stats()                              # counters survive close (the RSTs it sent count)
    pkts = rdpcap(str(path))
    assert len(pkts) == st["pcap_written"] == (st["port_rx_packets"] + st["port_tx_packets"]
                                              + st["port_tx_dropped"])
    flags = [p[TCP].flags for p in pkts if TCP in p]
    assert "S" in flags and "SA" in flags
    require(shutil.which("tcpdump"), "tcpdump is not installed")
    out = subprocess.run(["tcpdump", "-nn", "-r", str(path)], capture_output=True, text=True)
    assert out.returncode == 0
    assert "198.18.0.2" in out.stdout and "Flags [S]" in out.stdout


BUSY_SERVER = textwrap.dedent("""
    import sys, time, netchan
    s = netchan.Stack(sys.argv[1], ip="198.18.0.1/15", background=True, export_stats=False)
    listener = s.listen(80)
    print("READY", flush=True)
    sys.stdin.readline()            # the application is busy elsewhere: no stack calls
    conn = listener.accept(timeout=5)
    got = b""
    while len(got) < 300000:
        got += conn.recv(1 << 20, timeout=5)
    print("GOT", len(got), flush=True)
    s.close()
""")


def test_background_thread_keeps_tcp_going_while_the_application_is_busy():
    """With background=True a stack completes handshakes and ACKs data
    while its application makes no call at all (the objection that timers
    and ACKs must not depend on the application being scheduled)."""
    name = unique("bg")
    proc = subprocess.Popen([sys.executable, "-c", BUSY_SERVER, f"shm:{name}"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=python_env())
    try:
        assert proc.stdout.readline().strip() == "READY"
        with netchan.Stack(f"shm:{name}", ip="198.18.0.2/15", export_stats=False) as c:
            conn = c.connect(("198.18.0.1", 80), timeout=10)
            conn.sendall(b"x" * 300000, timeout=10)
            # everything acknowledged by a peer whose application is not calling
            c.run_until(lambda: conn.info()["unacked"] == 0, timeout=10)
            proc.stdin.write("go\n")
            proc.stdin.flush()
            out = proc.stdout.readline()
        assert out.strip() == "GOT 300000"
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


def test_background_needs_the_real_clock(vclock):
    with pytest.raises(ValueError, match="real clock"):
        netchan.Stack(f"pair:{unique()}", ip="198.18.0.1/15", clock=vclock, background=True)
