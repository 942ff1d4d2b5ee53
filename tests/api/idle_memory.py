"""Resident memory per idle established connection (issue 9, "Memory for a million").

Not a test (tests/api/test_idle_memory.py runs it small). Two processes on a
shm link: this one holds the server ends and is measured, a child holds the
client ends. The client opens N connections (spread over enough listening
ports for the 16,384 ephemeral ports per destination) in waves of WAVE:
connect without waiting, send 2 bytes on each, the server echoes them, the
client reads them back; then everything is idle and the server reports

  (RSS after - RSS before) / N            total, Python handles included
  ... minus the Python handles            the C side alone
  window pages                            the window arenas' memfd blocks / N
  ... and the rest                        control block, flow slots, etc.

RSS before is read after the Stack and its listeners exist (tables sized by
max_conns are allocated and zeroed by calloc, so untouched slots cost no
resident memory) and before the first connection.

    PYTHONPATH=python python3 tests/api/idle_memory.py 10000 100000 1000000

Idle connections hold no window (windows attach at first data and are given
back when empty; their pages are punched after a second free) and so no
memory map. Waves keep the windows that hold bytes at once (about 2 * WAVE
per process) well inside the process's share of vm.max_map_count: a window
slot is one memory map while it is attached.
"""
import gc
import json
import multiprocessing as mp
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))

import netchan  # noqa: E402

SERVER_IP = "198.18.0.1"
CLIENT_IP = "198.18.0.2"
PER_PORT = 16000            # under the 16,384 ephemeral ports per destination
WAVE = 2000                # connections opened and exercised at once


def _status():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                out[k] = int(v.split()[0]) * 1024
    return out


def _memfd_bytes():
    """Bytes the window arenas' memfds hold (allocated blocks)."""
    total = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("/memfd:netchan-windows"):
                total += os.stat(f"/proc/self/fd/{fd}").st_blocks * 512
        except OSError:
            pass
    return total


def _ports(n):
    return [8000 + i for i in range((n + PER_PORT - 1) // PER_PORT)]


def _client(link, n, pipe, wave):
    try:
        st = netchan.Stack(f"shm:{link}", ip=f"{CLIENT_IP}/15", max_conns=n + 64, seed=2)
        ports = _ports(n)
        conns = []
        for start in range(0, n, wave):
            # a wave: connect without waiting, then send on each and read
            # every echo back, so that at most 2 * wave windows are attached
            batch = [st.connect((SERVER_IP, ports[i % len(ports)]), timeout=0)
                     for i in range(start, min(n, start + wave))]
            give_up = time.monotonic() + 60
            while any(c.state != "ESTABLISHED" for c in batch):
                if time.monotonic() > give_up:
                    raise TimeoutError(f"wave at {start}: not all established in 60 s")
                st.poll(0.001)
            for c in batch:
                c.send(b"hi")
            for c in batch:
                if c.recv(2, timeout=30) != b"hi":
                    raise RuntimeError("echo mismatch")
            conns.extend(batch)
        pipe.send(("idle", n))
        # until the server has measured; the stack keeps running meanwhile
        # (its delayed ACKs are what let the server's send windows go)
        while not pipe.poll():
            st.poll(0.01)
        pipe.recv()
        pipe.send(("bye", 0))
        st.close(linger=0)
    except BaseException as e:              # report, then let the server go on
        pipe.send(("error", repr(e)))


def measure(n, link=None, idle_wait=120.0, wave=WAVE):
    """Open n idle connections; returns a dict of figures (bytes)."""
    link = link or f"idle{os.getpid()}x{n}"
    stack = netchan.Stack(f"shm:{link}", ip=f"{SERVER_IP}/15", max_conns=n + 64, seed=1)
    try:
        listeners = [stack.listen(p, backlog=4096) for p in _ports(n)]
        gc.collect()
        before = _status()
        memfd0 = _memfd_bytes()
        ctx = mp.get_context("fork")
        mine, theirs = ctx.Pipe()
        child = ctx.Process(target=_client, args=(link, n, theirs, wave), daemon=True)
        child.start()
        conns = []
        error = None
        t0 = time.monotonic()
        while len(conns) < n and error is None:
            # accept the client's wave, then echo on each of its connections
            want = min(n, len(conns) + wave)
            batch = []
            while len(conns) + len(batch) < want and error is None:
                got = False
                for listener in listeners:
                    while listener.pending:
                        batch.append(listener.accept(timeout=0))
                        got = True
                if mine.poll():
                    kind, what = mine.recv()
                    if kind == "error":
                        error = what
                if not got:
                    stack.poll(0.001)
            for c in batch:
                data = c.recv(2, timeout=30)
                c.send(data)
            conns.extend(batch)
        accepted = time.monotonic() - t0
        while error is None:
            stack.poll(0.01)
            if mine.poll():
                kind, what = mine.recv()
                if kind == "error":
                    error = what
                break
        for _ in range(20):                 # the last ACKs settle; nothing is owed
            stack.poll(0.005)
        # idle: empty windows give their slots back, and the pages of free
        # slots are punched once they have been free for a second (a sweep
        # every 100 ms, 64 slots at a time): wait until none is left warm
        give_up = time.monotonic() + idle_wait
        while time.monotonic() < give_up:
            st = stack.stats()
            if st["window_slots_in_use"] == 0 and st["window_slots_warm"] == 0:
                break
            stack.poll(0.01)
        gc.collect()
        after = _status()
        stats = stack.stats()
        memfd = _memfd_bytes() - memfd0
        handle = sys.getsizeof(conns[0]) + sys.getsizeof([]) + 8 if conns else 0
        m = len(conns)
        res = {
            "connections": m, "requested": n, "error": error,
            "accept_seconds": round(accepted, 1),
            "rss_per_conn": (after["VmRSS"] - before["VmRSS"]) / m if m else None,
            "anon_per_conn": (after["RssAnon"] - before["RssAnon"]) / m if m else None,
            "shmem_per_conn": (after["RssShmem"] - before["RssShmem"]) / m if m else None,
            "handle_per_conn": handle,
            "window_memfd_per_conn": memfd / m if m else None,
            "window_slots_in_use": stats["window_slots_in_use"],
            "connections_in_stack": stats["connections"],
        }
        if m:
            res["rss_per_conn_without_handles"] = res["rss_per_conn"] - handle
            res["rss_per_conn_without_windows"] = (res["rss_per_conn"]
                                                   - res["window_memfd_per_conn"])
        if error is None:
            mine.send("done")
            mine.recv()
        child.join(10)
        if child.is_alive():
            child.kill()
        del conns
        return res
    finally:
        stack.close(linger=0)


def main(argv):
    counts = [int(a) for a in argv] or [10000]
    for n in counts:
        res = measure(n)
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
