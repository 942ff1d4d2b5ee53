"""netchan beyond its link, with the Linux kernel as the router (issue 12):

    netchan_ns: netchan, 198.18.0.2/24 + "slaac", gateway 198.18.0.1
        | veth
    linux_ns (router, forwarding on): 198.18.0.1/15, 2001:2:0:1::1/64, radvd
        advertising 2001:2:0:1::/64 (on-link, autonomous) with MTU 1480
        | veth
    far_ns: 198.18.1.2/24, 2001:2:0:2::2/64, default routes via the router

netchan learns the router from radvd's advertisement, forms an address by
SLAAC, and fetches a file from a Linux server in far_ns over IPv6 and over
IPv4 (through gateway=), byte-exact; the far host's ping -6 to netchan's
SLAAC address is answered through the router. Also: an IPv6-only netchan
stack with two addresses serves curl -6 on both; the kernel's DAD finds
netchan's address defended; a snooping Linux bridge forwards solicitations
to netchan through the group its MLD report registered. All addresses are from
198.18.0.0/15 and 2001:2::/48; every namespace is the test's own."""
import hashlib
import ipaddress
import re
import textwrap
import time
import uuid

import pytest

from conftest import require
from linux_peer import LINUX_IP6, run, stats_of, veth6  # noqa: F401
from netchan.httpdemo import body_bytes

pytestmark = pytest.mark.root

ROUTER4, NETCHAN4, FAR4 = "198.18.0.1", "198.18.0.2", "198.18.1.2"
PREFIX6, FAR6 = "2001:2:0:1::", "2001:2:0:2::2"


@pytest.fixture
def routed(veth6, tmp_path):
    """veth6 with its Linux end turned into a router (radvd on it) and a
    third namespace behind it: (veth6, far namespace name)."""
    from shutil import which
    require(which("radvd") or which("/usr/sbin/radvd"),
            "needs radvd (bash ci/install-deps.sh installs it)")
    tag = uuid.uuid4().hex[:6]
    far, rdev, fdev = f"nc-far-{tag}", f"ncr{tag}", f"ncf{tag}"
    r = veth6.linux
    run("ip", "netns", "add", far)
    try:
        run("ip", "link", "add", rdev, "netns", veth6.linux_ns, "type", "veth", "peer", "name",
            fdev, "netns", far)
        for key in ("net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"):
            r("sysctl", "-qw", key)
        r("ip", "-6", "addr", "add", f"{PREFIX6}1/64", "dev", veth6.linux_dev, "nodad")
        r("ip", "addr", "add", "198.18.1.1/24", "dev", rdev)
        r("ip", "-6", "addr", "add", "2001:2:0:2::1/64", "dev", rdev, "nodad")
        r("ip", "link", "set", rdev, "up")
        f = ("ip", "netns", "exec", far)
        run(*f, "sysctl", "-qw", f"net.ipv6.conf.{fdev}.accept_ra=0")
        run("ip", "-n", far, "link", "set", "lo", "up")
        run("ip", "-n", far, "addr", "add", f"{FAR4}/24", "dev", fdev)
        run("ip", "-n", far, "-6", "addr", "add", f"{FAR6}/64", "dev", fdev, "nodad")
        run("ip", "-n", far, "link", "set", fdev, "up")
        run("ip", "-n", far, "route", "add", "default", "via", "198.18.1.1")
        run("ip", "-n", far, "-6", "route", "add", "default", "via", "2001:2:0:2::1")
        conf = tmp_path / "radvd.conf"
        conf.write_text(textwrap.dedent(f"""
            interface {veth6.linux_dev} {{
                AdvSendAdvert on;
                MinRtrAdvInterval 3;
                MaxRtrAdvInterval 4;
                AdvDefaultLifetime 60;
                AdvLinkMTU 1480;
                prefix {PREFIX6}/64 {{ AdvOnLink on; AdvAutonomous on; }};
            }};
        """))
        radvd = veth6.linux_proc("radvd", "-n", "-C", str(conf), "-p", str(tmp_path / "pid"),
                                 "-m", "stderr")
        yield veth6, far, radvd
    finally:
        run("ip", "netns", "del", far, check=False)


FETCH = textwrap.dedent("""
    import hashlib, ipaddress, sys, netchan
    port, prefix = sys.argv[1], ipaddress.IPv6Network(sys.argv[2])

    def on_prefix(a):
        return ":" in a and ipaddress.IPv6Address(a.split("/")[0]) in prefix

    with netchan.Stack(port, ip=["{netchan4}/24", "slaac"], gateway="{router4}") as st:
        def ready():
            return st.routes()["routers"] and any(
                on_prefix(a) and st.address_state(a.split("/")[0]) != "tentative"
                for a in st.addresses)
        try:
            st.run_until(ready, timeout=30)
        except TimeoutError:
            s = st.stats()
            print("no router or address:", st.routes(), st.addresses,
                  {{k: v for k, v in s.items() if v and ("ndp" in k or "6" in k or "mld" in k)}},
                  flush=True)
            raise
        mine = [a for a in st.addresses if on_prefix(a)][0].split("/")[0]
        print("slaac", mine, "mtu", st.mtu, "routes", st.routes(), flush=True)
        for host in sys.argv[3:]:
            c = st.connect((host, 8000), timeout=20)
            src = c.getsockname()[0]
            c.sendall(b"GET /file HTTP/1.0\\r\\nHost: far\\r\\n\\r\\n")
            got = bytearray()
            while True:
                chunk = c.recv(1 << 20, timeout=20)
                if not chunk:
                    break
                got += chunk
            c.close()
            head, _, body = bytes(got).partition(b"\\r\\n\\r\\n")
            print("fetched", host, src, len(body),
                  hashlib.sha256(body).hexdigest(), flush=True)
        print("serving", flush=True)
        st.run_until(lambda: st.stats()["tx_icmp6_echo_reply"] >= 3, timeout=30)
        print("stats", st.stats()["tx_icmp6_echo_reply"], st.stats()["tx_mld_report"],
              st.stats()["rx_ndp_ra"], flush=True)
""").format(netchan4=NETCHAN4, router4=ROUTER4)


def test_netchan_reaches_a_host_behind_a_linux_router(routed, tmp_path):
    veth, far, radvd = routed
    size = 4 << 20
    data = body_bytes(size, 9)
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "file").write_bytes(data)
    from linux_peer import Proc
    http = Proc(["ip", "netns", "exec", far, "python3", "-u", "-m", "http.server", "8000",
                 "--bind", "::", "--directory", str(tmp_path / "www")])
    veth.procs.append(http)
    http.wait_for("Serving HTTP")
    proc = veth.netchan_proc("-c", FETCH, veth.port(), f"{PREFIX6}/64", FAR6, FAR4)
    try:
        line = proc.wait_for("slaac", timeout=40)
    except BaseException:
        radvd.stop()
        print("radvd:", radvd.output())
        raise
    mine = line.split()[1]
    assert ipaddress.IPv6Address(mine) in ipaddress.IPv6Network(f"{PREFIX6}/64"), line
    assert " mtu 1480 " in line, line
    digest = hashlib.sha256(data).hexdigest()
    for host, src in ((FAR6, mine), (FAR4, NETCHAN4)):
        got = proc.wait_for(f"fetched {host}", timeout=60).split()
        assert got[2:] == [src, str(size), digest], got
    proc.wait_for("serving")
    ping = run("ip", "netns", "exec", far, "ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", mine,
               check=False)
    assert ping.returncode == 0 and " 0% packet loss" in ping.stdout, ping.stdout + ping.stderr
    assert proc.finish(timeout=40) == 0, proc.output()
    m = re.search(r"stats (\d+) (\d+) (\d+)", proc.output())
    assert m and int(m.group(1)) >= 3 and int(m.group(2)) >= 2 and int(m.group(3)) >= 1, \
        proc.output()


def test_an_ipv6_only_stack_serves_curl_on_each_of_its_addresses(veth6, tmp_path):
    size, seed = 1 << 20, 3
    a1, a2 = "2001:2::2", "2001:2::3"
    server = veth6.netchan_proc("-m", "netchan.httpdemo", "serve", "--port", veth6.port(),
                                "--ip", f"{a1}/64,{a2}/64", "--size", str(size), "--seed",
                                str(seed), "--connections", "2")
    server.wait_for("httpdemo: listening")
    for host in (a1, a2):
        r = veth6.linux("ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", host, check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        out = tmp_path / host.replace(":", "_")
        r = veth6.linux("curl", "-sS", "--max-time", "60", "-o", str(out), f"http://[{host}]:8080/",
                        check=False, timeout=70)
        assert r.returncode == 0, r.stderr
        assert out.read_bytes() == body_bytes(size, seed)
    assert server.finish(timeout=60) == 0, server.output()
    stats = stats_of(server)
    assert stats["rx_icmp6_echo"] == 4 and stats.get("rx_arp_request", 0) == 0, stats
    assert LINUX_IP6 not in (a1, a2)


def test_the_kernels_dad_finds_netchans_address_taken(veth6):
    """netchan defends its address against the kernel's duplicate address
    detection (RFC 4862 5.4.3): the kernel marks its copy dadfailed."""
    server = veth6.netchan_proc("-m", "netchan.httpdemo", "serve", "--port", veth6.port(),
                                "--ip", "2001:2::2/64", "--size", "1024", "--seed", "1",
                                "--connections", "0")
    server.wait_for("httpdemo: listening")
    # netchan's own DAD first (link-local and 2001:2::2): a kernel probe that
    # meets a still-tentative address makes both give it up (RFC 4862 5.4.3),
    # and then the kernel keeps its copy
    deadline = time.monotonic() + 30
    while _counter(server.pid, "ndp_dad_done") < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    veth6.linux("ip", "-6", "addr", "add", "2001:2::2/64", "dev", veth6.linux_dev)
    deadline = time.monotonic() + 10
    while True:
        shown = veth6.linux("ip", "-6", "addr", "show", "dev", veth6.linux_dev).stdout
        if "dadfailed" in shown or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert re.search(r"2001:2::2/64 scope global .*dadfailed", shown), shown
    server.stop()
    stats = stats_of(server)
    assert stats["rx_ndp_ns"] >= 1 and stats["tx_ndp_na"] >= 1, stats


def _counter(pid, name):
    """One counter of a running netchan process (its stats segment)."""
    import json
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "netchan", "stats", "--pid", str(pid), "--json"],
                         capture_output=True, text=True, timeout=30).stdout
    segs = json.loads(out or "[]")
    return segs[0]["counters"][name] if segs else 0


def test_a_snooping_linux_bridge_forwards_solicitations_to_netchan(veth6):
    """MLD (RFC 3810) against the Linux bridge's multicast snooping: the
    kernel's end of the veth becomes a port of a bridge that is its own MLD
    querier and floods no unregistered multicast to netchan's port; a host
    on another port resolves and pings netchan only because netchan's
    reports put its solicited-node group on that port."""
    tag = uuid.uuid4().hex[:6]
    host, hdev, bdev = f"nc-host-{tag}", f"nch{tag}", f"ncb{tag}"
    sw = veth6.linux
    run("ip", "netns", "add", host)
    try:
        sw("ip", "addr", "flush", "dev", veth6.linux_dev)
        # its own querier, querying every second from the start (centiseconds),
        # so that snooping applies at once rather than after half a minute
        sw("ip", "link", "add", "br0", "type", "bridge", "mcast_snooping", "1",
           "mcast_querier", "1", "mcast_startup_query_interval", "100",
           "mcast_query_response_interval", "100", "mcast_query_interval", "300")
        sw("sysctl", "-qw", "net.ipv6.conf.br0.disable_ipv6=0")
        sw("ip", "link", "set", veth6.linux_dev, "master", "br0")
        run("ip", "link", "add", bdev, "netns", veth6.linux_ns, "type", "veth", "peer", "name",
            hdev, "netns", host)
        sw("ip", "link", "set", bdev, "master", "br0")
        sw("ip", "link", "set", bdev, "up")
        sw("ip", "link", "set", "br0", "up")
        sw("bridge", "link", "set", "dev", veth6.linux_dev, "mcast_flood", "off")
        run("ip", "-n", host, "link", "set", "lo", "up")
        run("ip", "-n", host, "-6", "addr", "add", "2001:2::1/64", "dev", hdev, "nodad")
        run("ip", "-n", host, "link", "set", hdev, "up")
        server = veth6.netchan_proc("-m", "netchan.httpdemo", "serve", "--port", veth6.port(),
                                    "--ip", "2001:2::2/64", "--size", "1024", "--seed", "1",
                                    "--connections", "0")
        server.wait_for("httpdemo: listening")
        group = f"port {veth6.linux_dev} grp ff02::1:ff00:2"
        deadline = time.monotonic() + 60
        mdb = ""
        # netchan's report registered, and its DAD over (the advertisement
        # that ends it must not be what teaches the host netchan's MAC)
        while (group not in mdb or _counter(server.pid, "ndp_dad_done") < 2) and \
                time.monotonic() < deadline:
            mdb = sw("bridge", "mdb", "show", "dev", "br0").stdout
            time.sleep(0.1)
        # the host's solicitations reach netchan only through that entry (no
        # flooding to its port): the first pings may go before the bridge
        # has become the querier, and so are retried up to a deadline
        while True:
            ping = run("ip", "netns", "exec", host, "ping", "-6", "-c", "1", "-W", "1",
                       "2001:2::2", check=False)
            if ping.returncode == 0 or time.monotonic() > deadline:
                break
        assert f"port {veth6.linux_dev} grp ff02::1:ff00:2" in mdb, mdb
        assert ping.returncode == 0, ping.stdout + ping.stderr + mdb
        server.stop()
        stats = stats_of(server)
        # the solicitation came through the group; the bridge's queries were answered
        assert stats["rx_ndp_ns"] >= 1 and stats["rx_mld_query"] >= 1, stats
        assert stats["tx_mld_report"] >= 2, stats
    finally:
        run("ip", "netns", "del", host, check=False)
