"""Starting, pinning and reading the benchmark's processes.

Every measured end runs in its own process, `python -m netchan.bench ROLE
CONFIG_JSON` (or a stock tool), locally or inside a testbed namespace. A
role prints `READY {...}` once it listens (with what the parent needs to
know, e.g. its MAC), then one JSON object per line: `{"event":
"interval", ...}` while it runs and `{"event": "result", ...}` at the end.
The parent reads those lines as they come (live interval display) and turns
a child's failure into one line of its own."""
from __future__ import annotations

import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import time


class BenchError(RuntimeError):
    """A benchmark process failed: the message says which and why."""


def cpu_times():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def emit(**kw):
    """One event line from a role to the parent."""
    print(json.dumps(kw), flush=True)


def pin_to(cpu):
    """preexec_fn for Popen: run the child on one CPU (None: anywhere)."""
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


class Place:
    """Where a process runs: here, or in a testbed host (`ip netns exec`)."""

    def __init__(self, testbed=None, host=None):
        self.testbed, self.host = testbed, host

    def argv(self, argv):
        if self.testbed is None:
            return list(map(str, argv))
        return self.testbed._exec_argv(self.host, argv)

    def __str__(self):
        return "local" if self.testbed is None else f"testbed {self.host}"


LOCAL = Place()


def _env():
    env = dict(os.environ)
    # the children import the same netchan as this process, wherever it came from
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def spawn_role(role, cfg, place=LOCAL, cpu=None):
    """Start one measured end: python -m netchan.bench ROLE CONFIG."""
    argv = place.argv([sys.executable, "-m", "netchan.bench", role, json.dumps(cfg)])
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(), preexec_fn=pin_to(cpu))


def spawn_tool(argv, place=LOCAL, cpu=None, capture=True):
    """Start a stock tool (iperf3, sockperf)."""
    if shutil.which(argv[0]) is None:
        raise BenchError(f"{argv[0]} not found: install it (Debian: apt-get install {argv[0]}) "
                         f"or choose another --kernel")
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen(place.argv(argv), stdout=out, stderr=subprocess.PIPE if capture
                            else subprocess.DEVNULL, text=True, preexec_fn=pin_to(cpu))


def why(proc) -> str:
    """The last line a finished child wrote on stderr (its error)."""
    try:
        err = proc.stderr.read() if proc.stderr else ""
    except (OSError, ValueError):
        err = ""
    lines = [ln.strip() for ln in (err or "").splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit status {proc.returncode}"


def wait_ready(proc, what, timeout=30.0) -> dict:
    """Read the child's READY line; returns what it said about itself."""
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        if not sel.select(timeout):
            stop(proc)
            raise BenchError(f"{what} did not start in {timeout:.0f} s")
    finally:
        sel.close()
    line = proc.stdout.readline()
    if not line.startswith("READY"):
        stop(proc)
        raise BenchError(f"{what} did not start: {why(proc)}")
    rest = line[len("READY"):].strip()
    return json.loads(rest) if rest else {}


def events(proc, what, timeout):
    """Yield the child's event objects as it prints them; raise BenchError
    if it fails, prints no result or runs past timeout."""
    deadline = time.monotonic() + timeout
    got_result = False
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                stop(proc)
                raise BenchError(f"{what} did not finish in {timeout:.0f} s")
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("{"):
                ev = json.loads(line)
                got_result |= ev.get("event") == "result"
                yield ev
    finally:
        sel.close()
    try:
        proc.wait(max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        stop(proc)
        raise BenchError(f"{what} did not exit")
    if proc.returncode != 0:
        raise BenchError(f"{what} failed: {why(proc)}")
    if not got_result:
        raise BenchError(f"{what} printed no result")


def result_of(proc, what, timeout, on_interval=None) -> dict:
    """The child's result event, with its interval events as "intervals"
    (each also given to on_interval as it arrives)."""
    res = None
    intervals = []
    for ev in events(proc, what, timeout):
        if ev.get("event") == "interval":
            ev.pop("event", None)
            intervals.append(ev)
            if on_interval:
                on_interval(ev)
        elif ev.get("event") == "result":
            res = ev
    res.setdefault("intervals", intervals)
    return res


def stop(proc, grace=3.0):
    """End a child we started (SIGTERM, then SIGKILL) and reap it."""
    if proc is None or proc.poll() is not None:
        if proc is not None:
            proc.wait()
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_tcp_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_listening(port, proc, place=LOCAL, timeout=10.0, udp=False):
    """Until a socket listens on port (read from /proc/net/tcp or udp in the
    process's namespace, so that no probe disturbs a one-shot server)."""
    table = "/proc/net/udp" if udp else "/proc/net/tcp"
    want_state = "07" if udp else "0A"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"server on port {port} exited: {why(proc)}")
        if place.testbed is None:
            with open(table) as f:
                text = f.read()
        else:
            text = subprocess.run(place.argv(["cat", table]), capture_output=True,
                                  text=True).stdout
        for line in text.splitlines()[1:]:
            parts = line.split()
            if len(parts) > 3 and parts[1].endswith(f":{port:04X}") and parts[3] == want_state:
                return
        time.sleep(0.02)
    raise BenchError(f"nothing listens on port {port} after {timeout} s")
