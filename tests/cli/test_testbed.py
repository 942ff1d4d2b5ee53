"""The namespace testbed (netchan testbed ...): real namespaces, veths, a
bridge, tbf and nftables, checked with the kernel's own tools (ping, tc, nft,
/proc/net/snmp) and through netlink (pyroute2). Each test makes its own
uniquely named testbed and removes it, even when the test fails."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

import netchan
from netchan import testbed as tbmod
from netchan.testbed import Testbed, TestbedError
from netchan.uri import parse_port_uri

from conftest import require, require_root, unique

pytestmark = pytest.mark.root

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(netchan.__file__)))


def _require_testbed_tools(*extra):
    require_root()
    try:
        import pyroute2  # noqa: F401
    except ImportError:
        require(False, "pyroute2 is not installed (pip install pyroute2)")
    for tool in ("ip", "sysctl", *extra):
        require(shutil.which(tool) is not None, f"{tool} is not installed")


@pytest.fixture
def make_testbed():
    """Testbed factory: a fresh name each call; every testbed made is taken
    down afterwards, whatever happened in the test."""
    _require_testbed_tools()
    made = []

    def make():
        tb = Testbed(unique("tb"))
        made.append(tb)
        return tb

    yield make
    for tb in made:
        tb.down()
        assert not tb.exists()


def cli(*args, check=False, env_extra=None):
    env = dict(os.environ, PYTHONPATH=PACKAGE_DIR)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "netchan", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=check)


def netns_list():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def ping(tb, src, dst_ip):
    return tb.exec(src, ["ping", "-c", "1", "-W", "1", dst_ip], capture_output=True, text=True)


def links(ns):
    """ifname -> (ifindex, peer ifindex or None, master ifindex or None, peer in another netns)."""
    from pyroute2 import IPRoute
    with IPRoute(netns=ns, flags=0) as ipr:
        return {l.get_attr("IFLA_IFNAME"): (l["index"], l.get_attr("IFLA_LINK"),
                                            l.get_attr("IFLA_MASTER"),
                                            l.get_attr("IFLA_LINK_NETNSID") is not None)
                for l in ipr.get_links()}


def tc_root_qdisc(tb_or_ns, host_or_dev, dev=None):
    if dev is None:
        ns, dev = tb_or_ns.host_netns(host_or_dev), tbmod.HOST_IFACE
    else:
        ns = tb_or_ns
    out = subprocess.run(["ip", "netns", "exec", ns, "tc", "-j", "qdisc", "show", "dev", dev, "root"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)[0]


def ip_in_receives(tb, host):
    """The kernel's IPv4 InReceives in host's namespace (/proc/net is per netns)."""
    out = tb.exec(host, ["cat", "/proc/net/snmp"], capture_output=True, text=True, check=True).stdout
    head, values = [line.split() for line in out.splitlines() if line.startswith("Ip:")][:2]
    return int(values[head.index("InReceives")])


# ---------------------------------------------------------------------------
# input checking (no root needed)


def test_parse_rate_and_loss():
    assert tbmod.parse_rate("1gbit") == 10**9
    assert tbmod.parse_rate("100mbit") == 10**8
    assert tbmod.parse_rate("10mbps") == 8 * 10**7        # tc's bps = bytes per second
    assert tbmod.parse_rate(None) is None
    assert tbmod.format_rate(10**9) == "1gbit"
    assert tbmod.parse_loss("1%") == 10
    assert tbmod.parse_loss("0.025") == 25
    assert tbmod.parse_loss("0%") is None
    with pytest.raises(TestbedError, match="like 1gbit"):
        tbmod.parse_rate("fast")
    with pytest.raises(TestbedError, match="between 8kbit"):
        tbmod.parse_rate("1bit")
    with pytest.raises(TestbedError, match="0.1%"):
        tbmod.parse_loss("0.01%")
    with pytest.raises(TestbedError, match="between 0 and 1"):
        tbmod.parse_loss("150%")


def test_bad_names_and_hosts_are_refused():
    with pytest.raises(TestbedError, match="testbed name"):
        Testbed("no/slash")
    with pytest.raises(TestbedError, match="testbed name"):
        Testbed("-leading-dash")
    with pytest.raises(TestbedError, match="h1, h2"):
        Testbed("x").host_netns("router")
    assert Testbed("x").host_netns("h3") == Testbed("x").host_netns(3) == "nc-x-h3"
    with pytest.raises(TestbedError, match="2 to 250"):
        Testbed("x").up(hosts=1)


@pytest.mark.parametrize("flag,value,param", [("--delay", "5ms", "delay=5ms"),
                                              ("--reorder", "2%", "reorder="),
                                              ("--duplicate", "1%", "dup=1%"),
                                              ("--corrupt", "1%", "corrupt=")])
def test_netem_only_conditions_are_refused_with_the_fault_port(flag, value, param):
    name = unique("tb")
    r = cli("testbed", "up", "--hosts", "2", "--name", name, flag, value)
    assert r.returncode == 2
    assert "netem" in r.stderr and "fault port" in r.stderr and param in r.stderr, r.stderr
    # the pointer is a port URI that netchan really accepts
    uri = next(w for w in r.stderr.split() if w.startswith("afpacket:eth0?"))
    spec = parse_port_uri(uri)
    assert spec.kind == "afpacket" and spec.fault
    assert not any(ns.startswith(f"nc-{name}-") for ns in netns_list())


# ---------------------------------------------------------------------------
# refusal without root: real processes without the privileges


def test_refuses_root_without_capabilities():
    require_root()
    require(shutil.which("setpriv") is not None, "setpriv (util-linux) is not installed")
    name = unique("tb")
    env = dict(os.environ, PYTHONPATH=PACKAGE_DIR)
    r = subprocess.run(["setpriv", "--bounding-set=-all", "--inh-caps=-all", sys.executable,
                        "-m", "netchan", "testbed", "up", "--hosts", "2", "--name", name],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2, r.stderr
    assert "needs root" in r.stderr and "CAP_SYS_ADMIN" in r.stderr, r.stderr
    assert not any(ns.startswith(f"nc-{name}-") for ns in netns_list())


def test_refuses_unprivileged_user():
    require_root()
    require(shutil.which("setpriv") is not None, "setpriv (util-linux) is not installed")
    # nobody must be able to read the package: copy it (pure Python files and
    # the built extension) into a directory nobody can read
    copy = tempfile.mkdtemp(prefix="netchan-nobody-")
    try:
        os.chmod(copy, 0o755)
        shutil.copytree(os.path.join(PACKAGE_DIR, "netchan"), os.path.join(copy, "netchan"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        for root, dirs, files in os.walk(copy):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
            for f in files:
                os.chmod(os.path.join(root, f), 0o644)
        drop = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": copy,
               "HOME": "/nonexistent"}
        # an interpreter nobody may run (pyenv's often lives under /root)
        interpreter = None
        for candidate in (sys.executable, os.path.realpath(sys.executable), "/usr/bin/python3"):
            probe = subprocess.run(drop + [candidate, "-c", "import netchan.cli"], cwd="/",
                                   capture_output=True, env=env, timeout=60)
            if probe.returncode == 0:
                interpreter = candidate
                break
        if interpreter is None:
            pytest.skip("no Python interpreter that user nobody may run imports netchan here; "
                        "test_refuses_root_without_capabilities covers the check")
        name = unique("tb")
        r = subprocess.run(drop + [interpreter, "-m", "netchan", "testbed", "up", "--name", name],
                           cwd="/", capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode == 2, r.stderr
        assert "needs root" in r.stderr and "run it as root" in r.stderr, r.stderr
        assert "uid 65534" in r.stderr
        assert not any(ns.startswith(f"nc-{name}-") for ns in netns_list())
    finally:
        shutil.rmtree(copy)


# ---------------------------------------------------------------------------
# topologies


def test_two_hosts_one_veth_pair(make_testbed):
    _require_testbed_tools("ping")
    tb = make_testbed()
    tb.up(hosts=2)
    h1, h2 = tb.host_netns(1), tb.host_netns(2)
    assert {h1, h2} <= netns_list()
    assert f"nc-{tb.name}-br" not in netns_list()

    # both ends of the one veth are inside the testbed's namespaces: each
    # host's eth0 names the other's as its peer, in another namespace
    l1, l2 = links(h1), links(h2)
    assert set(l1) == set(l2) == {"lo", "eth0"}
    assert l1["eth0"][1] == l2["eth0"][0] and l2["eth0"][1] == l1["eth0"][0]
    assert l1["eth0"][3] and l2["eth0"][3]

    r = ping(tb, "h1", "198.18.0.2")
    assert r.returncode == 0, r.stdout + r.stderr
    r = ping(tb, "h2", "198.18.0.1")
    assert r.returncode == 0, r.stdout + r.stderr

    # no route out: the only IPv4 route is the on-link /15
    routes = tb.exec("h1", ["ip", "-j", "-4", "route", "show"], capture_output=True, text=True,
                     check=True).stdout
    assert [r["dst"] for r in json.loads(routes)] == ["198.18.0.0/15"]

    info = tb.status()
    assert info.topology == "pair" and info.bridge_netns is None
    assert [h.host for h in info.hosts] == ["h1", "h2"]
    assert [h.kernel_ips for h in info.hosts] == [["198.18.0.1/15"], ["198.18.0.2/15"]]
    assert [h.netchan_ip for h in info.hosts] == ["198.18.1.1/15", "198.18.1.2/15"]
    macs = [h.mac for h in info.hosts]
    assert len(set(macs)) == 2 and all(len(m.split(":")) == 6 for m in macs)
    assert all(h.state == "UP" and h.mtu == 1500 and h.rate_bits is None
               and h.loss_per_mille is None for h in info.hosts)


def test_three_hosts_share_a_bridge(make_testbed):
    _require_testbed_tools("ping", "tc")
    tb = make_testbed()
    tb.up(hosts=3, rate="200mbit", mtu=9000)
    br = f"nc-{tb.name}-br"
    assert br in netns_list()
    lb = links(br)
    assert set(lb) == {"lo", "br0", "h1", "h2", "h3"}
    for i in (1, 2, 3):
        lh = links(tb.host_netns(i))
        assert set(lh) == {"lo", "eth0"}
        port = lb[f"h{i}"]
        assert port[2] == lb["br0"][0], f"h{i} is not a port of br0"
        assert port[1] == lh["eth0"][0] and lh["eth0"][1] == port[0]
        # rate shaped both ways: the host's eth0 and the bridge's port to it
        assert tc_root_qdisc(tb, i)["kind"] == "tbf"
        q = tc_root_qdisc(br, None, f"h{i}")
        assert q["kind"] == "tbf" and q["options"]["rate"] == 200 * 10**6 // 8
    for src, dst in (("h1", "198.18.0.2"), ("h1", "198.18.0.3"), ("h3", "198.18.0.2")):
        r = ping(tb, src, dst)
        assert r.returncode == 0, f"{src} -> {dst}: {r.stdout}{r.stderr}"
    # 9000-byte MTU end to end: an 8972-byte ping fits unfragmented, one more byte does not
    r = tb.exec("h2", ["ping", "-c", "1", "-W", "1", "-M", "do", "-s", "8972", "198.18.0.1"],
                capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    r = tb.exec("h2", ["ping", "-c", "1", "-W", "1", "-M", "do", "-s", "8973", "198.18.0.1"],
                capture_output=True, text=True)
    assert r.returncode != 0
    info = tb.status()
    assert all(h.mtu == 9000 for h in info.hosts)
    assert info.topology == "bridge" and info.bridge_netns == br
    assert [h.kernel_ips for h in info.hosts] == [[f"198.18.0.{i}/15"] for i in (1, 2, 3)]


def test_up_twice_changes_nothing_and_converges(make_testbed):
    _require_testbed_tools("tc", "nft")
    tb = make_testbed()
    tb.up(hosts=2, rate="100mbit", loss="1%")
    first = tb.status()
    index_before = links(tb.host_netns(1))["eth0"][0]
    tb.up(hosts=2, rate="100mbit", loss="1%")
    again = tb.status()
    assert again == first
    assert links(tb.host_netns(1))["eth0"][0] == index_before, "the link was made anew"

    # up converges to what it is asked: without --rate/--loss they go away
    tb.up(hosts=2)
    info = tb.status()
    assert [h.mac for h in info.hosts] == [h.mac for h in first.hosts]
    assert all(h.rate_bits is None and h.loss_per_mille is None for h in info.hosts)
    assert tc_root_qdisc(tb, 1)["kind"] != "tbf"

    # a pair cannot become a bridge in place: refused with what to run
    with pytest.raises(TestbedError, match=f"testbed down --name {tb.name}"):
        tb.up(hosts=3)
    assert tb.hosts() == ["h1", "h2"]

    # a namespace lost by hand is made again (and its link with it)
    subprocess.run(["ip", "netns", "delete", tb.host_netns(2)], check=True)
    tb.up(hosts=2)
    assert tb.hosts() == ["h1", "h2"]
    assert all(h.state == "UP" for h in tb.status().hosts)


def test_a_failed_up_leaves_nothing_behind(make_testbed, tmp_path):
    """A tool that fails halfway (here a tc that always fails, first on the
    PATH) makes up remove the namespaces it had made."""
    name = make_testbed().name
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "tc").write_text("#!/bin/sh\necho 'tc: refused for this test' >&2\nexit 1\n")
    (bin_dir / "tc").chmod(0o755)
    r = cli("testbed", "up", "--hosts", "3", "--name", name, "--rate", "1gbit",
            env_extra={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert r.returncode == 2
    assert "refused for this test" in r.stderr and "nothing was left behind" in r.stderr, r.stderr
    assert not any(ns.startswith(f"nc-{name}-") for ns in netns_list())


def test_no_kernel_ip_and_offload_off(make_testbed):
    _require_testbed_tools("ethtool")
    tb = make_testbed()
    tb.up(hosts=2, kernel_ips=False, offload=False)
    info = tb.status()
    assert all(h.kernel_ips == [] for h in info.hosts)
    assert [h.netchan_ip for h in info.hosts] == ["198.18.1.1/15", "198.18.1.2/15"]
    assert all(h.tx_csum_offload is False for h in info.hosts)
    out = tb.exec("h2", ["ethtool", "-k", "eth0"], capture_output=True, text=True, check=True).stdout
    assert "tx-checksumming: off" in out and "tcp-segmentation-offload: off" in out
    # and back to the kernel's defaults, addresses included
    tb.up(hosts=2)
    info = tb.status()
    assert all(h.tx_csum_offload is True for h in info.hosts)
    assert [h.kernel_ips for h in info.hosts] == [["198.18.0.1/15"], ["198.18.0.2/15"]]


def test_congestion_control_of_every_host(make_testbed):
    """cc= sets each host's default (a new namespace inherits the machine's
    sysctl; this machine's is bbr, which made cubic sockets over the veth
    retransmit: docs/benchmarks.md); up again without cc leaves it."""
    with open("/proc/sys/net/ipv4/tcp_allowed_congestion_control") as f:
        allowed = f.read()
    tb = make_testbed()
    tb.up(hosts=2, cc="reno")

    def cc_of(host):
        return tb.exec(host, ["sysctl", "-n", "net.ipv4.tcp_congestion_control"],
                       capture_output=True, text=True, check=True).stdout.strip()

    assert [cc_of("h1"), cc_of("h2")] == ["reno", "reno"]
    tb.up(hosts=2)
    assert [cc_of("h1"), cc_of("h2")] == ["reno", "reno"]
    # a namespace may only default to an allowed one; where the machine's list
    # lacks cubic (this one's: "reno bbr"), up widens it for the moment it
    # sets the default and writes it back
    tb.up(hosts=2, cc="cubic")
    assert [cc_of("h1"), cc_of("h2")] == ["cubic", "cubic"]
    with open("/proc/sys/net/ipv4/tcp_allowed_congestion_control") as f:
        assert f.read() == allowed


def test_cpu_masks_are_written_in_32_bit_words():
    # sysfs refuses one hex word over eight digits: CPU 40 is "00000100,00000000"
    assert tbmod._cpu_mask(0) == "00000000"
    assert tbmod._cpu_mask(1 << 1) == "00000002"
    assert tbmod._cpu_mask(1 << 40) == "00000100,00000000"


def _rps_steered(cpu):
    """How many frames other CPUs handed `cpu` to receive (RPS): the tenth
    column of /proc/net/softnet_stat, one line per CPU."""
    with open("/proc/net/softnet_stat") as f:
        return int(f.read().splitlines()[cpu].split()[9], 16)


def test_receive_work_on_a_cpu_of_its_own(make_testbed):
    """set_rps(host, cpu): host's receive work runs on cpu (RPS), not on the
    sender's CPU as veth does it; None gives veth's way back."""
    _require_testbed_tools("ping", "taskset")
    require(os.cpu_count() >= 2, "needs two CPUs")
    tb = make_testbed()
    tb.up(hosts=2)
    assert tb.rps("h1") == set() and tb.rps("h2") == set()
    tb.set_rps("h2", 0)
    tb.set_rps("h1", 1)
    assert tb.rps("h2") == {0} and tb.rps("h1") == {1}
    # echo requests sent from CPU 1 are received by h2 on CPU 0
    before = _rps_steered(0)
    r = tb.exec("h1", ["taskset", "-c", "1", "ping", "-c", "20", "-i", "0.01", "-q",
                       "198.18.0.2"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert _rps_steered(0) - before >= 20
    tb.set_rps("h1", None)
    assert tb.rps("h1") == set()
    with pytest.raises(tbmod.TestbedError, match="CPUs 0 to"):
        tb.set_rps("h1", 4096)


# ---------------------------------------------------------------------------
# link conditions


def test_rate_is_a_tbf_qdisc(make_testbed):
    _require_testbed_tools("tc")
    tb = make_testbed()
    tb.up(hosts=2, rate="100mbit")
    for i in (1, 2):
        q = tc_root_qdisc(tb, i)
        assert q["kind"] == "tbf"
        assert q["options"]["rate"] == 100 * 10**6 // 8       # tc -j: bytes per second
    out = tb.exec("h1", ["tc", "qdisc", "show", "dev", "eth0"], capture_output=True, text=True,
                  check=True).stdout
    assert "tbf" in out and "rate 100Mbit" in out
    assert [h.rate_bits for h in tb.status().hosts] == [10**8, 10**8]
    tb.up(hosts=2, rate="1gbit")
    assert tc_root_qdisc(tb, 2)["options"]["rate"] == 10**9 // 8


def test_loss_drops_and_counts(make_testbed):
    _require_testbed_tools("nft", "ping")
    tb = make_testbed()
    tb.up(hosts=2, loss="10%")
    table = tb.exec("h2", ["nft", "list", "table", "netdev", tbmod.NFT_TABLE], capture_output=True,
                    text=True, check=True).stdout
    assert 'hook ingress device "eth0"' in table and "numgen random mod 1000 < 100" in table

    ping(tb, "h1", "198.18.0.2")    # resolves ARP (ARP is never dropped); the reply may be
    sent = 2000
    before_in = ip_in_receives(tb, "h2")
    before_drop = tb.status().hosts[1].loss_dropped
    flood = ("import socket\n"
             "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
             f"for i in range({sent}):\n"
             "    s.sendto(i.to_bytes(4, 'big'), ('198.18.0.2', 9))\n")
    tb.exec("h1", [sys.executable, "-c", flood], check=True, timeout=60)

    # every datagram either reached h2's IP layer or was dropped by the rule
    deadline = time.monotonic() + 10
    while True:
        delivered = ip_in_receives(tb, "h2") - before_in
        dropped = tb.status().hosts[1].loss_dropped - before_drop
        if delivered + dropped >= sent or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert delivered + dropped == sent, (delivered, dropped)
    assert delivered < sent
    # 10% of 2000: mean 200, standard deviation 13.4; 100..300 is > 7 sigma
    assert 100 < dropped < 300, dropped


# ---------------------------------------------------------------------------
# the command line


def test_cli_up_status_exec_down(make_testbed):
    _require_testbed_tools("tc", "nft")
    name = make_testbed().name
    r = cli("testbed", "up", "--hosts", "2", "--name", name, "--rate", "1gbit", "--loss", "1%")
    assert r.returncode == 0, r.stderr
    assert f"testbed {name}: 2 hosts, one veth pair" in r.stdout
    assert "198.18.0.1/15" in r.stdout and "198.18.1.2/15" in r.stdout
    assert "1gbit" in r.stdout and "1% (0)" in r.stdout

    r = cli("testbed", "status", "--name", name, "--json")
    assert r.returncode == 0, r.stderr
    (info,) = json.loads(r.stdout)
    assert info["name"] == name and info["topology"] == "pair"
    assert [h["netns"] for h in info["hosts"]] == [f"nc-{name}-h1", f"nc-{name}-h2"]
    assert all(h["rate"] == "1gbit" and h["loss"] == 0.01 for h in info["hosts"])

    r = cli("testbed", "status")            # every testbed that is up, ours among them
    assert r.returncode == 0 and f"testbed {name}:" in r.stdout

    # exec: the command runs in the host's namespace, its status is ours
    r = cli("testbed", "exec", "--name", name, "h2", "--", "ip", "-j", "-4", "addr", "show", "eth0")
    assert r.returncode == 0, r.stderr
    addr = json.loads(r.stdout)[0]["addr_info"][0]
    assert (addr["local"], addr["prefixlen"]) == ("198.18.0.2", 15)
    r = cli("testbed", "exec", "--name", name, "h1", "--", "sh", "-c", "exit 7")
    assert r.returncode == 7
    r = cli("testbed", "exec", "--name", name, "h9", "--", "true")
    assert r.returncode == 2 and "has no host 'h9'" in r.stderr and "h1, h2" in r.stderr

    r = cli("testbed", "down", "--name", name)
    assert r.returncode == 0 and f"removed nc-{name}-h1, nc-{name}-h2" in r.stdout
    r = cli("testbed", "down", "--name", name)
    assert r.returncode == 0 and "nothing to remove" in r.stdout
    r = cli("testbed", "status", "--name", name)
    assert r.returncode == 1 and f"testbed {name}: not up" in r.stdout


# ---------------------------------------------------------------------------
# down


def test_down_ends_processes_and_removes_every_namespace(make_testbed):
    tb = make_testbed()
    tb.up(hosts=3)
    ours = {f"nc-{tb.name}-{r}" for r in ("h1", "h2", "h3", "br")}
    assert ours <= netns_list()
    sleeper = tb.popen("h2", ["sleep", "600"])
    try:
        # `ip netns exec` enters the namespace, then becomes the command
        deadline = time.monotonic() + 10
        while sleeper.pid not in Testbed._pids([tb.host_netns(2)]):
            assert time.monotonic() < deadline, "the process never entered h2's namespace"
            time.sleep(0.01)
        removed = tb.down(grace=5)
        assert set(removed) == ours
        assert sleeper.wait(timeout=10) is not None
        assert not (ours & netns_list())
        assert not tb.exists() and tb.status() is None
        assert tb.down() == []          # down of nothing is fine
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()


def test_context_manager_takes_the_testbed_down():
    _require_testbed_tools()
    name = unique("tb")
    try:
        with Testbed(name).up(hosts=2) as tb:
            assert tb.hosts() == ["h1", "h2"]
            assert tb.exec("h1", ["true"]).returncode == 0
        assert not any(ns.startswith(f"nc-{name}-") for ns in netns_list())
    finally:
        Testbed(name).down()


def test_ipv6_on_request(make_testbed):
    """up(ipv6=True): IPv6 on every eth0, the kernel of host I owns
    2001:2::I/64 (the benchmarking prefix, RFC 5180), netchan's plan address
    is 2001:2::1:I/64; without it (the default, and when converging back)
    IPv6 is off again."""
    _require_testbed_tools("ping")
    tb = make_testbed()
    tb.up(hosts=2, ipv6=True)
    info = tb.status()
    assert [h.kernel_ips for h in info.hosts] == [["198.18.0.1/15", "2001:2::1/64"],
                                                  ["198.18.0.2/15", "2001:2::2/64"]]
    assert [h.netchan_ip6 for h in info.hosts] == ["2001:2::1:1/64", "2001:2::1:2/64"]
    assert "2001:2::1:2/64" in info.format()
    r = tb.exec("h1", ["ping", "-6", "-c", "1", "-W", "2", "2001:2::2"], capture_output=True,
                text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    # no route out over IPv6 either: only the on-link /64 (and link-local)
    routes = tb.exec("h1", ["ip", "-j", "-6", "route", "show"], capture_output=True, text=True,
                     check=True).stdout
    assert {r["dst"] for r in json.loads(routes)} <= {"2001:2::/64", "fe80::/64"}
    tb.up(hosts=2)
    info = tb.status()
    assert [h.kernel_ips for h in info.hosts] == [["198.18.0.1/15"], ["198.18.0.2/15"]]
    assert all(h.netchan_ip6 is None for h in info.hosts)
