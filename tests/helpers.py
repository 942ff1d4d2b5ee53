"""Helpers shared by tests (not fixtures: plain functions)."""
import hashlib
import random


def pattern(n, seed=0):
    """n reproducible pseudo-random bytes."""
    r = random.Random(seed)
    return b"".join(r.randbytes(min(1 << 24, n - i)) for i in range(0, n, 1 << 24))


def python_env():
    """Environment for a child Python that must import this netchan."""
    import os
    import netchan
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(netchan.__file__))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def pump_transfer(stack, sender, receiver, data, chunk=1 << 20, zero_copy=False):
    """Move `data` from sender to receiver (two Connections whose stacks are
    polled by `stack`'s group, i.e. a pair) in one thread, non-blocking on
    both ends; when neither can move, drive the loop (on a virtual clock this
    jumps to the next timer). Returns (sha256 hexdigest, bytes received)."""
    mv = memoryview(data)
    sent = 0
    got = 0
    h = hashlib.sha256()
    while got < len(data):
        moved = False
        if sent < len(data):
            try:
                n = sender.send(mv[sent:sent + chunk], timeout=0)
                sent += n
                moved = moved or n > 0
            except BlockingIOError:
                pass
        try:
            if zero_copy:
                view = receiver.recv_view(timeout=0)
                n = len(view)
                h.update(view)
                view.release()
                receiver.consume(n)
                if n == 0:
                    break
            else:
                b = receiver.recv(1 << 20, timeout=0)
                if not b:
                    break
                h.update(b)
                n = len(b)
            got += n
            moved = True
        except BlockingIOError:
            pass
        if not moved:
            if stack.poll(timeout=None) == 0:
                raise AssertionError(f"transfer stalled at {got} of {len(data)} bytes: "
                                     f"{receiver.info()} / {sender.info()}")
    return h.hexdigest(), got


def wait_for_line(proc, needle, timeout=30):
    """Read proc's output until a line contains needle; at the deadline (or
    at the end of its output) kill it and fail with what it printed."""
    import selectors
    import time
    seen = []
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                continue
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if needle in line:
                return seen
    finally:
        sel.close()
    proc.kill()
    raise AssertionError(f"{needle!r} never appeared; output: {''.join(seen)!r}")


def to_stack(stack, port, pkt):
    """Send scapy packet pkt from the bare end `port` of a pair link to
    `stack`, run the stack once, and return what it sent back (as Ether)."""
    from scapy.layers.l2 import Ether
    assert port.send(bytes(pkt))
    stack.poll()
    return [Ether(f) for f in port.recv()]


def wait_until(predicate, timeout=10.0):
    """Poll predicate() (a background thread or another process makes it
    true) until it holds; fail after timeout seconds."""
    import time
    give_up = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < give_up, "condition not reached in time"
        time.sleep(0.01)
