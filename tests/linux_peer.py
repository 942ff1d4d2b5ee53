"""A Linux kernel peer for the AF_PACKET and interop tests.

Each test gets two network namespaces it created, joined by one veth pair:

    namespace linux_ns:    veth `linux_dev`, 198.18.0.1/15, the kernel's TCP
    namespace netchan_ns:  veth `netchan_dev`, no address: netchan runs here
                           (afpacket:netchan_dev) as 198.18.0.2

Both ends live in namespaces the test made; nothing routes out. netchan runs
in a subprocess started with `ip netns exec` and PYTHONPATH pointing at the
package the tests import. Every process is stopped by PID and both
namespaces are deleted (taking the veth pair with them) whatever happens.
"""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
import uuid

import pytest

import netchan
from conftest import require, require_root

LINUX_IP = "198.18.0.1"
NETCHAN_IP = "198.18.0.2"
PREFIX = 15
LINUX_IP6 = "2001:2::1"         # the benchmarking prefix 2001:2::/48 (RFC 5180)
NETCHAN_IP6 = "2001:2::2"
PREFIX6 = 64
PACKAGE_PATH = os.path.dirname(os.path.dirname(os.path.abspath(netchan.__file__)))


def _tool(name):
    from shutil import which
    return which(name) is not None


def run(*cmd, check=True, timeout=60):
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=timeout)


class Proc:
    """A subprocess whose stdout (merged with stderr) is read line by line."""

    def __init__(self, cmd, env=None):
        self.cmd = cmd
        self.popen = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, env=env, text=True, bufsize=1)
        self.lines = []
        self._partial = b""

    @property
    def pid(self):
        return self.popen.pid

    def _read_available(self, timeout):
        # raw reads from the fd: a buffered readline() would pull several
        # lines out of the pipe at once and leave all but the first where
        # select() no longer sees them
        ready, _, _ = select.select([self.popen.stdout], [], [], timeout)
        if not ready:
            return False
        chunk = os.read(self.popen.stdout.fileno(), 65536)
        if not chunk:
            if self._partial:
                self.lines.append(self._partial.decode(errors="replace"))
                self._partial = b""
            return None
        *complete, self._partial = (self._partial + chunk).split(b"\n")
        self.lines.extend(line.decode(errors="replace") for line in complete)
        return True

    def wait_for(self, text, timeout=30):
        """The first output line containing text; fails the test on a
        deadline or if the process ends first."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for line in self.lines[seen:]:
                if text in line:
                    return line
            seen = len(self.lines)
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no {text!r} from {self.cmd[-6:]} in {timeout} s; output:\n"
                            + "\n".join(self.lines))
            if self._read_available(min(left, 0.5)) is None:
                self.popen.wait(5)
                for line in self.lines[seen:]:
                    if text in line:
                        return line
                pytest.fail(f"{self.cmd[-6:]} ended (status {self.popen.returncode}) before "
                            f"printing {text!r}; output:\n" + "\n".join(self.lines))

    def finish(self, timeout=60):
        """Wait for the process to end; its exit status. Output is kept."""
        deadline = time.monotonic() + timeout
        while self.popen.poll() is None or self._read_available(0) is True:
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"{self.cmd[-6:]} did not end in {timeout} s; output:\n"
                            + "\n".join(self.lines))
            self._read_available(0.2)
        while self._read_available(0) is True:
            pass
        return self.popen.returncode

    def stop(self):
        """SIGTERM, then SIGKILL after 10 s; by PID only."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        try:
            rest = self.popen.stdout.read()
        except (OSError, ValueError):
            rest = ""
        if rest:
            self.lines.extend(rest.splitlines())
        for f in (self.popen.stdin, self.popen.stdout):
            try:
                f.close()
            except OSError:
                pass

    def output(self):
        return "\n".join(self.lines)


class VethLink:
    """Two namespaces joined by a veth pair; see the module docstring."""

    def __init__(self, ipv6=False, queues=1):
        self.ipv6 = ipv6
        self.queues = queues            # rx and tx queues of each veth end
        tag = uuid.uuid4().hex[:6]
        self.linux_ns = f"nc-linux-{tag}"
        self.netchan_ns = f"nc-netchan-{tag}"
        self.linux_dev = f"ncl{tag}"
        self.netchan_dev = f"ncn{tag}"
        self.procs = []

    def setup(self):
        run("ip", "netns", "add", self.linux_ns)
        run("ip", "netns", "add", self.netchan_ns)
        nq = ("numtxqueues", str(self.queues), "numrxqueues", str(self.queues))
        run("ip", "link", "add", self.linux_dev, "netns", self.linux_ns, *nq,
            "type", "veth", "peer", "name", self.netchan_dev, "netns", self.netchan_ns, *nq)
        self.linux("ip", "addr", "add", f"{LINUX_IP}/{PREFIX}", "dev", self.linux_dev)
        for ns, dev in ((self.linux_ns, self.linux_dev), (self.netchan_ns, self.netchan_dev)):
            # no IPv6 chatter (router solicitations, DAD) in the captures;
            # with ipv6, the kernel's end speaks it (the netchan end never:
            # the kernel must not own netchan's addresses)
            on = self.ipv6 and dev == self.linux_dev
            run("ip", "netns", "exec", ns, "sysctl", "-qw",
                f"net.ipv6.conf.{dev}.disable_ipv6={0 if on else 1}")
            if on:
                run("ip", "netns", "exec", ns, "sysctl", "-qw",
                    f"net.ipv6.conf.{dev}.router_solicitations=0")
            run("ip", "-n", ns, "link", "set", "lo", "up")
            run("ip", "-n", ns, "link", "set", dev, "up")
        if self.ipv6:
            # nodad: usable at once (netchan's DAD probe still asks for it)
            self.linux("ip", "-6", "addr", "add", f"{LINUX_IP6}/{PREFIX6}", "dev",
                       self.linux_dev, "nodad")
        # carrier comes a moment after `up` (linkwatch): wait for it
        deadline = time.monotonic() + 10
        for ns, dev in ((self.linux_ns, self.linux_dev), (self.netchan_ns, self.netchan_dev)):
            while json.loads(run("ip", "-n", ns, "-j", "link", "show", dev).stdout)[0].get(
                    "operstate") != "UP":
                if time.monotonic() > deadline:
                    pytest.fail(f"{dev} in {ns} did not come up")
                time.sleep(0.02)

    def close(self):
        for p in reversed(self.procs):
            p.stop()
        for ns in (self.linux_ns, self.netchan_ns):
            run("ip", "netns", "del", ns, check=False)

    # ---- the Linux side ------------------------------------------------------

    def linux(self, *cmd, check=True, timeout=60):
        return run("ip", "netns", "exec", self.linux_ns, *cmd, check=check, timeout=timeout)

    def linux_proc(self, *cmd):
        p = Proc(["ip", "netns", "exec", self.linux_ns, *cmd])
        self.procs.append(p)
        return p

    def linux_offloads(self, on):
        """TSO/GSO and tx checksum offload of the kernel's veth end."""
        state = "on" if on else "off"
        self.linux("ethtool", "-K", self.linux_dev, "tso", state, "gso", state, "tx", state)

    def linux_drop_tcp(self, per_mille):
        """Drop this share of TCP frames arriving at the kernel (nftables
        numgen on the veth's ingress: this kernel has no netem)."""
        self.linux("nft", "add", "table", "netdev", "nctest")
        self.linux("nft", "add", "chain", "netdev", "nctest", "ingress",
                   f"{{ type filter hook ingress device {self.linux_dev} priority 0 ; }}")
        self.linux("nft", "add", "rule", "netdev", "nctest", "ingress", "ip", "protocol", "tcp",
                   "numgen", "random", "mod", "1000", "<", str(per_mille), "counter", "drop")

    def linux_drop_tcp_every(self, every, phase=0):
        """Drop every `every`-th TCP frame arriving at the kernel, the one at
        `phase` of each cycle (a counter: deterministic where a random draw
        over a few hundred super-frames may hit none). linux_dropped() counts
        them."""
        self.linux("nft", "add", "table", "netdev", "nctest")
        self.linux("nft", "add", "chain", "netdev", "nctest", "ingress",
                   f"{{ type filter hook ingress device {self.linux_dev} priority 0 ; }}")
        self.linux("nft", "add", "rule", "netdev", "nctest", "ingress", "ip", "protocol", "tcp",
                   "numgen", "inc", "mod", str(every), "==", str(phase), "counter", "drop")

    def linux_dropped(self):
        out = self.linux("nft", "-j", "list", "table", "netdev", "nctest").stdout
        for item in json.loads(out)["nftables"]:
            for expr in item.get("rule", {}).get("expr", []):
                if "counter" in expr:
                    return expr["counter"]["packets"]
        return 0

    def linux_snmp(self, *names):
        """Absolute values of kernel SNMP counters, read with nstat."""
        out = self.linux("nstat", "-asz", *names).stdout
        values = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] in names:
                values[parts[0]] = int(parts[1])
        return values

    # ---- the netchan side ----------------------------------------------------

    def port(self, query=""):
        return f"afpacket:{self.netchan_dev}" + (f"?{query}" if query else "")

    def netchan_proc(self, *args):
        """`python -m ARGS...` inside the netchan namespace."""
        env = dict(os.environ, PYTHONPATH=PACKAGE_PATH + os.pathsep + os.environ.get("PYTHONPATH", ""))
        env["PYTHONUNBUFFERED"] = "1"
        p = Proc(["ip", "netns", "exec", self.netchan_ns, sys.executable, *args], env=env)
        self.procs.append(p)
        return p

    def netchan_python(self, code, timeout=60, prefix=()):
        """Run a Python snippet inside the netchan namespace; CompletedProcess."""
        env = dict(os.environ, PYTHONPATH=PACKAGE_PATH + os.pathsep + os.environ.get("PYTHONPATH", ""))
        return subprocess.run(["ip", "netns", "exec", self.netchan_ns, *prefix, sys.executable,
                               "-c", code], capture_output=True, text=True, timeout=timeout, env=env)


def stats_of(proc):
    """The counters a netchan.httpdemo process printed when it stopped."""
    for line in reversed(proc.lines):
        if line.startswith("httpdemo: stats "):
            return json.loads(line[len("httpdemo: stats "):])
    pytest.fail("no stats line from netchan; output:\n" + proc.output())


def _veth(ipv6, queues=1):
    require_root()
    for tool in ("ip", "ethtool", "nft", "nstat", "ss", "curl", "tcpdump", "ping"):
        require(_tool(tool), f"needs {tool} (bash ci/install-deps.sh installs it)")
    link = VethLink(ipv6, queues)
    try:
        link.setup()
        yield link
    finally:
        link.close()


@pytest.fixture
def veth():
    yield from _veth(False)


@pytest.fixture
def veth_2q():
    """veth with two rx and two tx queues on each end: the kernel's end
    sends each socket's frames on the queue its flow hash picks, and the
    netchan end receives them on the queue of the same number."""
    yield from _veth(False, queues=2)


@pytest.fixture
def veth6():
    """veth with IPv6 on the kernel's end: LINUX_IP6/64 beside LINUX_IP."""
    yield from _veth(True)
