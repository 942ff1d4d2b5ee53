"""Send windows read in place across a shm (or pair) link, windows=shared
(pyx/mem/peer_windows.pxi): the receiver's receive window is the sender's
send window mapped read-only, a data segment carries only its headers and
where its payload is. Byte-exact transfers, views that keep their bytes, the
sender bounded by what the receiver consumed, a slot recycled under frames
still in flight, mixed copied and referenced segments, and a sender that dies
while its bytes are still being read."""
import hashlib
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import netchan
from conftest import CLIENT_IP, SERVER_IP, unique
from helpers import pattern, pump_transfer, python_env, wait_until

REF_COUNTERS = ("tcp_ref_segments", "tcp_rcv_in_place_bytes", "tcp_rcv_ref_copied_bytes",
                "tcp_ref_stale", "rx_ref_bad")


def _pair(vclock, windows, mtu=1500):
    name = unique("shw")
    a = netchan.Stack(f"pair:{name}?windows={windows}", ip=f"{SERVER_IP}/15", clock=vclock,
                      seed=1, mtu=mtu)
    b = netchan.Stack(f"pair:{name}?windows={windows}", ip=f"{CLIENT_IP}/15", clock=vclock,
                      seed=2, mtu=mtu)
    return a, b


def _connected(server, client, port=7000):
    listener = server.listen(port)
    c = client.connect((SERVER_IP, port))
    return c, listener.accept()


def _read(conn, n):
    """Exactly n bytes from a connection on a virtual clock."""
    got = b""
    while len(got) < n:
        got += conn.recv(1 << 20, timeout=1)
    return got


def _poll_until(stacks, predicate, timeout=10.0):
    """Poll real-clock stacks (one process, no virtual clock) until predicate()."""
    give_up = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < give_up, "condition not reached in time"
        for s in stacks:
            s.poll()


@pytest.mark.parametrize("windows", ["shared", "copy"])
def test_bulk_transfer_is_byte_exact_and_in_place_only_when_shared(vclock, windows):
    a, b = _pair(vclock, windows)
    try:
        client, server = _connected(a, b)
        data = pattern(8 << 20, seed=21)
        digest, got = pump_transfer(b, client, server, data)
        assert got == len(data) and digest == hashlib.sha256(data).hexdigest()
        sent, received = b.stats(), a.stats()
        assert sent["tcp_retransmits"] == 0
        if windows == "shared":
            assert a.port.windows == b.port.windows == "shared"
            assert sent["tcp_ref_segments"] > 0.9 * len(data) / 1460
            assert received["tcp_rcv_in_place_bytes"] > 0.9 * len(data)
            assert received["link_peer_windows"] == 1 and sent["link_peer_windows"] == 1
        else:
            assert all(sent[k] == 0 and received[k] == 0 for k in REF_COUNTERS)
        assert received["tcp_ref_stale"] == 0 and received["rx_ref_bad"] == 0
    finally:
        b.close()
        a.close()


def test_a_receive_view_keeps_its_bytes_while_the_sender_writes_on(vclock):
    """The receiver's view shows the sender's send window itself: the sender
    may not write over it, however much it has to send, until the receiver
    consumed it and let the view go."""
    a, b = _pair(vclock, "shared")
    try:
        client, server = _connected(a, b)
        first = pattern(256 << 10, seed=1)
        client.sendall(first)
        b.poll(timeout=0.05)
        view = server.recv_view()
        shown = bytes(view)
        assert shown == first[:len(shown)] and len(shown) > 0
        assert a.stats()["tcp_rcv_in_place_bytes"] >= len(shown)
        from netchan._testing import debug_send_slot
        slot, gen, held = debug_send_slot(client)
        assert held                         # the receiver reads this slot in place
        # the sender writes as much as it may; the view's bytes stay
        rest = pattern(4 << 20, seed=2)
        queued = 0
        while queued < len(rest):
            try:
                queued += client.send(rest[queued:], timeout=0)
            except (BlockingIOError, TimeoutError):
                break
            b.poll(timeout=0.01)
        assert queued < len(rest)           # held back: the receiver consumed nothing
        assert bytes(view) == shown
        n = len(view)
        view.release()
        server.consume(n)
        got = shown + server.recv(len(first) - n, timeout=1) if n < len(first) else shown
        while len(got) < len(first):
            got += server.recv(len(first) - len(got), timeout=1)
        assert got == first
        # and everything after arrives too, in order
        tail = b""
        while queued < len(rest) or len(tail) < len(rest):
            if queued < len(rest):
                try:
                    queued += client.send(rest[queued:], timeout=0)
                except (BlockingIOError, TimeoutError):
                    pass
            try:
                tail += server.recv(1 << 20, timeout=0)
            except (BlockingIOError, TimeoutError):
                b.poll(timeout=0.01)
        assert tail == rest
        # all read and acknowledged: the receiver lets go, and so does the sender
        b.poll(timeout=0.05)
        assert debug_send_slot(client) is None
        assert a.stats()["window_slots_in_use"] == 0
    finally:
        b.close()
        a.close()


def test_a_sender_queues_a_whole_window_while_the_receiver_does_not_read(vclock):
    """As with a kernel socket, sendall() of up to a send window returns
    although the peer's application reads nothing meanwhile (here it cannot:
    it is this thread). Held to the edge of a peer that reads its window in
    place, the send window moves to a fresh slot; the receiver then copies
    what it still reads into a window of its own, and once drained reads the
    next bulk in place again. Byte-exact throughout."""
    a, b = _pair(vclock, "shared")
    try:
        client, server = _connected(a, b)
        first = pattern(1 << 20, seed=9)
        second = pattern(1 << 20, seed=10)
        client.sendall(first)
        client.sendall(second)              # only the first fits the receiver's window
        assert b.stats()["tcp_snd_moves"] >= 1
        got = _read(server, len(first) + len(second))
        assert got == first + second
        st = a.stats()
        assert st["tcp_rcv_in_place_bytes"] > 0 and st["tcp_rcv_ref_copied_bytes"] > 0
        assert st["tcp_ref_stale"] == 0
        before = st["tcp_rcv_in_place_bytes"]
        more = pattern(512 << 10, seed=11)
        client.sendall(more)
        got = _read(server, len(more))
        assert got == more
        # all of it but a tail under TCP_REF_MIN_PAYLOAD, which may carry its bytes
        assert a.stats()["tcp_rcv_in_place_bytes"] - before > len(more) - 1024
    finally:
        b.close()
        a.close()


def test_frames_naming_a_recycled_slot_are_refused_unread():
    """A connection aborted with its segments still on the link: its send
    window's slot goes to the next connection that writes, before the
    receiver has seen those segments. The receiver must not take the new
    connection's bytes for the old one's (the slot's generation changed)."""
    name = unique("stale")
    a = netchan.Stack(f"shm:{name}", ip=f"{SERVER_IP}/15")
    b = netchan.Stack(f"shm:{name}", ip=f"{CLIENT_IP}/15")
    try:
        _poll_until((a, b), lambda: a.stats()["link_peer_windows"] and
                    b.stats()["link_peer_windows"])
        listener = a.listen(7100)
        # no blocking call: each stack moves only when this test polls it
        c1 = b.connect((SERVER_IP, 7100), timeout=0)
        c2 = b.connect((SERVER_IP, 7100), timeout=0)
        _poll_until((a, b), lambda: c1.state == c2.state == "ESTABLISHED")
        s1 = listener.accept(timeout=0)
        s2 = listener.accept(timeout=0)
        old = b"\x11" * 30000
        new = b"\x22" * 30000
        c1.send(old, timeout=0)
        b.poll()                        # c1's segments leave (by reference)
        assert b.stats()["tcp_ref_segments"] > 0
        c1.abort()                      # RST; its window's slot is let go
        c2.send(new, timeout=0)         # takes that slot (the last freed) and overwrites it
        b.poll()
        a.poll()                        # c1's segments, its RST, c2's segments
        assert a.stats()["tcp_ref_stale"] > 0
        got2 = b""
        while len(got2) < len(new):
            _poll_until((a, b), lambda: s2.readable or False)
            got2 += s2.recv(1 << 16, timeout=0)
        assert got2 == new
        with pytest.raises(ConnectionError):
            s1.recv(1 << 16, timeout=0)
    finally:
        b.close()
        a.close()


SENDER = textwrap.dedent("""
    import sys, random, netchan
    uri, n = sys.argv[1], int(sys.argv[2])
    data = random.Random(5).randbytes(n)
    stack = netchan.Stack(uri, ip="198.18.0.2/15", mtu=65535, background=True)
    conn = stack.connect(("198.18.0.1", 7200), timeout=10)
    conn.sendall(data, timeout=30)
    print("SENT", flush=True)
    sys.stdin.read()                    # killed here, connection open
""")


def test_bytes_read_in_place_outlive_a_sender_that_died():
    """The receiver still reads what arrived before the sender was killed,
    from the dead sender's send window (its memory stays mapped here), then
    gets ECONNABORTED."""
    name = unique("deadsnd")
    n = 2 << 20
    expected = __import__("random").Random(5).randbytes(n)
    with netchan.Stack(f"shm:{name}", ip=f"{SERVER_IP}/15", mtu=65535,
                       background=True) as stack:
        listener = stack.listen(7200)
        proc = subprocess.Popen([sys.executable, "-c", SENDER, f"shm:{name}", str(n)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                env=python_env())
        try:
            conn = listener.accept(timeout=10)
            assert proc.stdout.readline().strip() == "SENT"
            wait_until(lambda: conn.readable >= 1 << 20)   # a good part is here (in place)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            got = b""
            with pytest.raises(ConnectionAbortedError):
                while True:
                    chunk = conn.recv(1 << 20, timeout=10)
                    if not chunk:
                        break
                    got += chunk
            assert len(got) >= 1 << 20 and got == expected[:len(got)]
            assert stack.stats()["tcp_rcv_in_place_bytes"] >= 1 << 20
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_windows_parameter_is_checked():
    with pytest.raises(ValueError, match="windows='both'.*shared.*copy"):
        netchan.Stack(f"pair:{unique('w')}?windows=both", ip=f"{SERVER_IP}/15")
    with pytest.raises(ValueError, match="windows= applies to shm: and pair:"):
        netchan.Stack("afpacket:lo?windows=copy", ip=f"{SERVER_IP}/15")


def _ref_headers(server_conn, client_stack, server_stack, ref_len, extra=b""):
    """Ethernet + IPv4 + TCP headers of the next in-order segment to the
    server connection, the IP length counting a payload of ref_len bytes
    that is not in the frame (as a by-reference frame is built)."""
    from netchan._testing import build_ipv4_tcp, debug_tcb
    d = debug_tcb(server_conn)
    (sip, sport), (cip, cport) = server_conn.getsockname(), server_conn.getpeername()
    frame = bytearray(build_ipv4_tcp(client_stack.mac, server_stack.mac, cip, sip, cport, sport,
                                     seq=d["rcv_nxt"], ack=d["snd_nxt"], flags="PA",
                                     options={"ts_val": d["ts_recent"], "ts_ecr": 0}))
    ip = 14
    frame[ip + 2:ip + 4] = (len(frame) - ip + ref_len).to_bytes(2, "big")
    frame[ip + 10:ip + 12] = b"\0\0"
    s = sum(int.from_bytes(frame[ip + i:ip + i + 2], "big") for i in range(0, 20, 2))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    frame[ip + 10:ip + 12] = (~s & 0xffff).to_bytes(2, "big")
    return bytes(frame) + extra


def test_malformed_by_reference_frames_are_counted_and_dropped(vclock):
    """Frames that claim a payload in the peer's send window but name no
    bytes of it, come from another publication, lack the trusted checksum,
    carry bytes after their headers, or name a slot under an old generation:
    each is counted and dropped, nothing reaches the application, and the
    connection goes on byte-exact."""
    from netchan._testing import debug_send_ref_frame, debug_shared_windows
    a, b = _pair(vclock, "shared")
    try:
        client, server = _connected(a, b)
        first = pattern(64 << 10, seed=4)
        client.sendall(first)
        got = _read(server, len(first))
        assert got == first
        sw = debug_shared_windows(b)
        assert sw["shared"] and debug_shared_windows(a)["sets"][0]["key"] == sw["key"]
        epoch, slot_span = sw["key"] & 0xffffffff, 2 * sw["slot_size"]
        addr = sw["va"] + 5 * slot_span         # slot 5: no window uses it
        n = 1000
        cases = [   # (frame, addr, length, epoch, gen, csum_ok, counter)
            (_ref_headers(server, b, a, n), 0x1000, n, epoch, 0, True, "rx_ref_bad"),
            (_ref_headers(server, b, a, n), addr, n, epoch + 1, 0, True, "rx_ref_bad"),
            (_ref_headers(server, b, a, n), addr, n, epoch, 0, False, "rx_ref_bad"),
            (_ref_headers(server, b, a, n, extra=b"1234"), addr, n, epoch, 0, True, "rx_ref_bad"),
            # a window's bytes start in its slot's first view (the second is the wrap)
            (_ref_headers(server, b, a, n), addr + sw["slot_size"] + 10, n, epoch, 0, True,
             "rx_ref_bad"),
            (_ref_headers(server, b, a, n), addr, sw["slot_size"] + 1, epoch, 0, True,
             "rx_ref_bad"),
            # the IP length says more than headers and reference together
            (_ref_headers(server, b, a, n + 1), addr, n, epoch, 0, True, "rx_ip_totlen"),
            (_ref_headers(server, b, a, n - 1), addr, n, epoch, 0, True, "rx_ref_bad"),
            (_ref_headers(server, b, a, n), addr, n, epoch, 77, True, "tcp_ref_stale"),
        ]
        for frame, ad, ln, ep, gen, ok, counter in cases:
            before = a.stats()[counter]
            assert debug_send_ref_frame(b.port, frame, ad, ln, ep, gen, ok)
            a.poll()
            assert a.stats()[counter] == before + 1, counter
            assert server.readable == 0
        rest = pattern(256 << 10, seed=5)
        client.sendall(rest)
        got = _read(server, len(rest))
        assert got == rest
    finally:
        b.close()
        a.close()


def test_a_slot_let_go_while_read_waits_for_the_reader(vclock):
    """The sender aborts while the receiver still views its bytes in place:
    the sender's slot waits (not reused under the view), the view keeps its
    bytes, and once the reader lets go the slot is recycled."""
    a, b = _pair(vclock, "shared")
    try:
        client, server = _connected(a, b)
        data = pattern(100000, seed=12)
        client.sendall(data)
        a.poll(timeout=0.01)
        view = server.recv_view()
        shown = bytes(view)
        assert shown == data[:len(shown)] and a.stats()["window_slots_read_in_place"] == 1
        client.abort()
        b.poll(timeout=0.01)
        assert b.stats()["window_slots_awaiting_peer"] == 1
        other, peer = _connected(a, b, port=7001)     # a new send window: not that slot
        other.sendall(b"\xee" * 50000)
        assert _read(peer, 50000) == b"\xee" * 50000
        assert bytes(view) == shown
        view.release()
        server.close()
        vclock.advance(300_000_000)         # the sender's arena sweep (100 ms) looks again
        b.poll(timeout=0.01)
        assert b.stats()["window_slots_awaiting_peer"] == 0
        assert a.stats()["window_slots_read_in_place"] == 0
    finally:
        b.close()
        a.close()


def _sender(name, n, seed):
    return subprocess.Popen([sys.executable, "-c", SENDER.replace("Random(5)", f"Random({seed})"),
                             f"shm:{name}", str(n)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=python_env())


def test_a_restarted_sender_is_read_in_place_beside_the_dead_ones_bytes():
    """A sender dies while the receiver still views its bytes; a restarted
    sender takes the dead end's place. The receiver maps the new sender's
    arena beside the dead one's (which the view still reads) and reads the
    new stream in place too."""
    import random
    name = unique("restart")
    n = 1 << 20
    with netchan.Stack(f"shm:{name}", ip=f"{SERVER_IP}/15", mtu=65535,
                       background=True) as stack:
        listener = stack.listen(7200)
        first = _sender(name, n, seed=31)
        second = None
        try:
            conn1 = listener.accept(timeout=10)
            assert first.stdout.readline().strip() == "SENT"
            wait_until(lambda: conn1.readable == n)
            view = conn1.recv_view()
            assert bytes(view) == random.Random(31).randbytes(n)
            in_place = stack.stats()["tcp_rcv_in_place_bytes"]     # all of the first's here
            first.send_signal(signal.SIGKILL)
            first.wait()
            second = _sender(name, n, seed=32)
            conn2 = listener.accept(timeout=10)
            assert second.stdout.readline().strip() == "SENT"
            got = b""
            while len(got) < n:
                got += conn2.recv(1 << 20, timeout=10)
            assert got == random.Random(32).randbytes(n)
            st = stack.stats()
            assert st["link_peer_windows"] == 2
            assert st["tcp_rcv_in_place_bytes"] - in_place > 0.9 * n
            assert bytes(view) == random.Random(31).randbytes(n)    # the dead one's, still
            view.release()
        finally:
            for p in (first, second):
                if p is not None and p.poll() is None:
                    p.kill()
                    p.wait()
