"""`netchan bench`: every mode's JSON on a shm link against the kernel
(short runs: the numbers are not checked, only that they exist and agree
with each other), argument errors in one line, --plot, and --testbed on
afpacket against the Linux kernel (root)."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import require, require_root
from helpers import python_env

SHORT = ("--time", "1", "--warmup", "0", "--interval", "0.5")


def bench(*args, timeout=120):
    out = subprocess.run([sys.executable, "-m", "netchan", "bench", *args], capture_output=True,
                         text=True, timeout=timeout, env=python_env())
    assert "Traceback" not in out.stderr, out.stderr
    return out


def bench_json(*args):
    out = bench(*args, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _check_iperf3_shape(doc, reverse=0, flows=1):
    """The keys of iperf3 -J that readers use."""
    assert doc["start"]["test_start"]["num_streams"] == flows
    assert doc["start"]["test_start"]["reverse"] == reverse
    assert doc["intervals"], "no interval"
    for iv in doc["intervals"]:
        s = iv["sum"]
        assert s["end"] > s["start"] and s["bytes"] >= 0 and "bits_per_second" in s
    end = doc["end"]
    for key in ("sum_sent", "sum_received"):
        part = end[key]
        for k in ("start", "end", "seconds", "bytes", "bits_per_second"):
            assert k in part, (key, k)
        assert part["bytes"] > 0 and part["bits_per_second"] > 0
    assert "retransmits" in end["sum_sent"]
    # per connection, as iperf3: end.streams[i].sender/receiver, intervals[j].streams[i]
    assert len(end["streams"]) == flows
    assert sum(st["sender"]["bytes"] for st in end["streams"]) == end["sum_sent"]["bytes"]
    assert (sum(st["receiver"]["bytes"] for st in end["streams"]) ==
            end["sum_received"]["bytes"])
    assert sorted(st["sender"]["socket"] for st in end["streams"]) == sorted(
        st["receiver"]["socket"] for st in end["streams"])
    for iv in doc["intervals"]:
        assert len(iv["streams"]) == flows
        assert sum(st["bytes"] for st in iv["streams"]) == iv["sum"]["bytes"]
    cpu = end["cpu_utilization_percent"]
    for k in ("host_total", "host_user", "host_system", "remote_total", "remote_user",
              "remote_system"):
        assert cpu[k] >= 0, k


def test_stream_json_is_iperf3s_schema_with_the_kernel_beside_it():
    doc = bench_json("stream", *SHORT, "--kernel", "python")
    assert doc["schema"] == "netchan-bench-stream/1" and doc["mode"] == "stream"
    assert doc["link"].startswith("shm:bench-")
    _check_iperf3_shape(doc)
    assert doc["start"]["stack"] == "netchan" and doc["start"]["zerocopy"] is True
    _check_iperf3_shape(doc["kernel"])
    assert doc["kernel"]["label"].startswith("kernel loopback TCP cubic (Python sockets")
    assert doc["ratio"] == pytest.approx(doc["end"]["sum_received"]["bits_per_second"] /
                                         doc["kernel"]["end"]["sum_received"]["bits_per_second"])


def test_stream_against_stock_iperf3_keeps_iperf3s_own_json():
    require(shutil.which("iperf3") is not None, "iperf3 is not installed")
    doc = bench_json("stream", *SHORT, "--kernel", "iperf3", "--no-zerocopy")
    assert doc["start"]["zerocopy"] is False
    kernel = doc["kernel"]
    assert "iperf3" in kernel["label"] and kernel["start"]["version"].startswith("iperf")
    _check_iperf3_shape(kernel)
    # the kernel's congestion control is cubic whatever the sysctl says (--kernel-cc)
    assert kernel["end"]["sender_tcp_congestion"] == "cubic", kernel["end"]
    assert "TCP cubic" in kernel["label"]


def test_kernel_cc_reaches_iperf3_and_system_keeps_the_sysctls():
    require(shutil.which("iperf3") is not None, "iperf3 is not installed")
    reno = bench_json("stream", *SHORT, "--kernel", "iperf3", "--kernel-cc", "reno")
    assert reno["kernel"]["end"]["sender_tcp_congestion"] == "reno"
    with open("/proc/sys/net/ipv4/tcp_congestion_control") as f:
        sysctl = f.read().strip()
    system = bench_json("stream", *SHORT, "--kernel", "iperf3", "--kernel-cc", "system")
    assert system["kernel"]["end"]["sender_tcp_congestion"] == sysctl
    assert f"TCP {sysctl}" in system["kernel"]["label"]


def test_kernel_cc_an_unprivileged_user_may_not_choose_falls_back_to_reno():
    """A socket without CAP_NET_ADMIN may take only an allowed congestion
    control (net.ipv4.tcp_allowed_congestion_control; this machine's is
    "reno bbr"), so iperf3 -C cubic would fail: the bench says so and runs
    the kernel on reno, loss-based like cubic. Run here as root with
    CAP_NET_ADMIN dropped (setpriv), as a non-root user's `make bench` is."""
    require_root()
    require(shutil.which("setpriv") is not None, "setpriv (util-linux) is not installed")
    with open("/proc/sys/net/ipv4/tcp_allowed_congestion_control") as f:
        allowed = f.read().split()
    out = subprocess.run(
        ["setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin", sys.executable, "-c",
         "from netchan.bench.options import check_kernel_cc; print(check_kernel_cc('cubic'))"],
        capture_output=True, text=True, timeout=60, env=python_env())
    assert out.returncode == 0, out.stderr
    if "cubic" in allowed:
        assert out.stdout.split() == ["cubic"] and out.stderr == ""
    else:
        assert out.stdout.split() == ["reno"]
        assert "may not choose cubic" in out.stderr and "reno instead" in out.stderr


def test_a_receiver_without_numpy_says_so_in_the_label():
    """The zero-copy receiver reads every byte with numpy, or, where numpy is
    missing, with zlib.adler32, which is several times slower: the label
    says which (python -S: no site-packages, so no numpy)."""
    out = subprocess.run([sys.executable, "-S", "-m", "netchan", "bench", "stream", *SHORT,
                          "--no-kernel", "--json"], capture_output=True, text=True, timeout=120,
                         env=python_env())
    assert out.returncode == 0, out.stderr
    assert "with zlib.adler32: numpy is missing" in json.loads(out.stdout)["label"]
    with_numpy = bench_json("stream", *SHORT, "--no-kernel")
    assert "every byte written and read)" in with_numpy["label"]


def test_stream_reverse_flows_and_verify():
    """-R -P 2 --verify: the server sends on two connections, both ends hash
    the byte stream and agree."""
    doc = bench_json("stream", *SHORT, "-R", "--flows", "2", "--verify", "--kernel", "python")
    _check_iperf3_shape(doc, reverse=1, flows=2)
    for d in (doc, doc["kernel"]):
        sha = d["end"]["sha256"]
        assert sha["match"] and sha["sent"] == sha["received"] and len(sha["sent"]) == 2
        assert all(len(h) == 64 for h in sha["sent"])


@pytest.mark.parametrize("mode", ["rr", "crr"])
def test_rr_and_crr_json(mode):
    doc = bench_json(mode, *SHORT)
    assert doc["schema"] == f"netchan-bench-{mode}/1"
    for side in ("netchan", "kernel"):
        r = doc[side]
        assert r["stack"] == side and r["transactions"] > 0 and r["errors"] == 0
        assert r["transactions_per_second"] == pytest.approx(r["transactions"] / r["seconds"])
        lat = r["latency_us"]
        keys = ("min", "mean", "p50", "p90", "p99", "p99_9", "max")
        assert set(lat) == set(keys)
        assert lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99_9"] <= lat["max"]
        assert r["intervals"] and all(iv["transactions"] > 0 for iv in r["intervals"])
        assert set(r["cpu_utilization_percent"]) == {"client", "server"}
    assert doc["ratio"] == pytest.approx(doc["netchan"]["transactions_per_second"] /
                                         doc["kernel"]["transactions_per_second"])


def test_pps_json_with_sockperf_beside_it():
    require(shutil.which("sockperf") is not None, "sockperf is not installed")
    doc = bench_json("pps", *SHORT)
    nc, k = doc["netchan"], doc["kernel"]
    assert nc["frames"] > 0 and nc["frame_size"] == 64
    assert nc["l2_bits_per_second"] == pytest.approx(nc["pps"] * 64 * 8)
    assert nc["wire_bits_per_second"] == pytest.approx(nc["pps"] * 84 * 8)
    for key in ("sent_frames", "ring_full", "no_buffer", "rx_dropped"):
        assert nc[key] >= 0
    assert nc["intervals"] and nc["intervals"][0]["frames"] > 0
    assert k["tool"] == "sockperf" and k["frames"] > 0 and "sockperf" in k["label"]


def test_text_output_has_interval_lines_summary_and_ratio():
    out = bench("stream", *SHORT, "--kernel", "python")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "[ ID] Interval" in text and text.count(" sender") == 2
    assert text.count(" receiver") == 2 and "CPU Utilization: client" in text
    assert "ratio netchan/kernel:" in text
    assert "\x1b[" not in text          # not a terminal: plain lines, no rich


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "rr.png"
    out = bench("rr", *SHORT, "--plot", str(png))
    assert out.returncode == 0, out.stderr
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_busy_poll_knobs_reach_netchans_stack_and_the_json():
    doc = bench_json("stream", *SHORT, "--no-kernel", "--busy-poll", "0",
                     "--busy-poll-mode", "always")
    assert doc["start"]["busy_poll"] == 0.0 and doc["start"]["busy_poll_mode"] == "always"
    assert doc["end"]["sum_received"]["bytes"] > 0


def test_no_kernel_runs_netchan_alone_and_leaves_no_files():
    before = set(os.listdir("/dev/shm"))
    doc = bench_json("stream", *SHORT, "--no-kernel")
    assert doc["kernel"] is None and doc["ratio"] is None
    left = [f for f in set(os.listdir("/dev/shm")) - before if "bench" in f]
    assert not left, left


@pytest.mark.parametrize("argv, words", [
    (["stream", "--time", "0"], ["--time", "greater than 0"]),
    (["rr", "--link", "bogus"], ["KIND:TARGET"]),
    (["crr", "--link", "nonsense:x"], ["unknown kind 'nonsense'"]),
    (["pps", "--size", "32"], ["--size 32", "64 to 9018"]),
    (["pps", "--kernel", "python"], ["pps from Python"]),
    (["crr", "--kernel", "stock"], ["no stock tool"]),
    (["rr", "--kernel", "iperf3"], ["rr uses sockperf"]),
    (["stream", "--cpu", "99"], ["--cpu 99", "CPUs 0 to"]),
    (["stream", "--cpu", "a,b"], ["--cpu", "SERVER,CLIENT"]),
    (["stream", "--flows", "0"], ["--flows", "between 1 and 64"]),
    (["stream", "--server-link", "shm:a"], ["both --server-link and --client-link"]),
    (["stream", "--plot", "x.svg"], ["--plot x.svg", ".png"]),
    (["stream", "--verify", "--kernel", "iperf3"], ["--verify", "iperf3"]),
    (["rr", "--reverse"], ["unrecognized arguments: --reverse"]),
    (["stream", "--kernel-cc", "nosuch"], ["--kernel-cc nosuch", "not available", "cubic"]),
    (["rr", "--busy-poll", "-1"], ["--busy-poll"]),
    (["rr", "--busy-poll", "11"], ["--busy-poll 11.0", "at most 10.0"]),
    (["rr", "--busy-poll-mode", "never"], ["--busy-poll-mode", "invalid choice"]),
    (["stream", "--rps"], ["--rps", "only with --testbed"]),
])
def test_bad_arguments_get_one_line_and_exit_2(argv, words):
    out = bench(*argv, timeout=60)
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert out.stdout == ""
    last = out.stderr.strip().splitlines()[-1]
    for w in words:
        assert w in last, out.stderr


# ---- the testbed: netchan on afpacket against the Linux kernel ------------------------

def _require_testbed():
    require_root()
    try:
        import pyroute2  # noqa: F401
    except ImportError:
        require(False, "pyroute2 is not installed")
    require(shutil.which("ip") is not None, "iproute2 is not installed")


def _bench_namespaces(pid):
    """The namespaces of the testbed bench process `pid` made (its testbed is
    named bench{pid}); other runs on the machine have their own."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [ln.split()[0] for ln in out.splitlines() if ln.startswith(f"nc-bench{pid}-")]


def bench_json_pid(*args, timeout=120):
    """bench_json, also returning the bench process's pid."""
    p = subprocess.Popen([sys.executable, "-m", "netchan", "bench", *args, "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=python_env())
    out, err = p.communicate(timeout=timeout)
    assert "Traceback" not in err, err
    assert p.returncode == 0, err
    return json.loads(out), p.pid


@pytest.mark.root
@pytest.mark.parametrize("mode", ["stream", "rr"])
def test_testbed_afpacket_against_the_linux_kernel(mode):
    _require_testbed()
    doc, pid = bench_json_pid(mode, *SHORT, "--testbed", "--kernel", "python")
    assert doc["link"] == "testbed veth (offloads on), afpacket:eth0"
    if mode == "stream":
        _check_iperf3_shape(doc)
        assert doc["start"]["connecting_to"]["host"] == "198.18.0.2"
        assert doc["kernel"]["label"].startswith("kernel over the testbed veth")
        _check_iperf3_shape(doc["kernel"])
    else:
        assert doc["netchan"]["transactions"] > 0 and doc["kernel"]["transactions"] > 0
    assert _bench_namespaces(pid) == []        # made and removed by the run


@pytest.mark.root
def test_testbed_with_each_hosts_receive_work_on_its_own_cpu():
    """--rps: the peer's receive work on the server's CPU, the bare end's on
    the client's; the label says so; one CPU for both is refused."""
    _require_testbed()
    require(os.cpu_count() >= 2, "needs two CPUs")
    doc, pid = bench_json_pid("stream", *SHORT, "--testbed", "--rps", "--kernel", "python")
    assert doc["link"] == ("testbed veth (offloads on, receive work h1 on CPU 1, h2 on CPU 0), "
                           "afpacket:eth0")
    assert doc["end"]["sum_received"]["bytes"] > 0
    assert doc["kernel"]["end"]["sum_received"]["bytes"] > 0
    assert _bench_namespaces(pid) == []
    out = bench("stream", *SHORT, "--testbed", "--rps", "--cpu", "1", timeout=60)
    assert out.returncode == 2 and "--rps: needs two CPUs" in out.stderr, out.stderr


@pytest.mark.root
@pytest.mark.parametrize("cc", ["reno", None])
def test_testbed_namespaces_default_to_the_kernel_cc(cc):
    """The bench's testbed sets --kernel-cc as both namespaces' default (a
    namespace left on this machine's bbr made even cubic sockets over the
    veth retransmit); --kernel-cc system leaves the inherited default."""
    from netchan.bench.links import make_testbed
    _require_testbed()
    with open("/proc/sys/net/ipv4/tcp_congestion_control") as f:
        inherited = f.read().strip()
    tb = make_testbed(offload=True, cc=cc)
    try:
        for host in ("h1", "h2"):
            got = tb.exec(host, ["sysctl", "-n", "net.ipv4.tcp_congestion_control"],
                          capture_output=True, text=True, check=True).stdout.strip()
            assert got == (cc or inherited), (host, got)
    finally:
        tb.down()


@pytest.mark.root
def test_testbed_pps_afpacket():
    _require_testbed()
    require(shutil.which("sockperf") is not None, "sockperf is not installed")
    doc, pid = bench_json_pid("pps", *SHORT, "--testbed")
    assert doc["netchan"]["frames"] > 0 and doc["kernel"]["frames"] > 0
    assert not _bench_namespaces(pid)


def test_a_terminal_gets_the_rich_live_table():
    pytest.importorskip("rich")
    import pty
    import select
    master, slave = pty.openpty()
    env = dict(python_env(), COLUMNS="120", TERM="xterm")
    proc = subprocess.Popen([sys.executable, "-m", "netchan", "bench", "rr", *SHORT,
                             "--no-kernel"], stdout=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    chunks = []
    try:
        while True:
            r, _, _ = select.select([master], [], [], 60)
            if not r:
                break
            try:
                data = os.read(master, 65536)
            except OSError:         # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        proc.wait(60)
        os.close(master)
    text = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, proc.stderr.read()
    assert "\x1b[" in text and "p50 round trip" in text and "transactions in" in text
