"""`netchan iperf3` against the stock iperf3 binary (issue 10): netchan on
the afpacket end of a veth pair, iperf3 with the kernel's TCP in the peer
namespace (tests/linux_peer.py), both roles, both directions, -P 2, and the
-J documents of both sides checked field by field against each other. Then
netchan against netchan over shm, and iperf3 refused UDP. Each test runs
for one second of traffic."""
import json
import shutil
import sys

import pytest

from conftest import require, unique
from linux_peer import LINUX_IP, NETCHAN_IP, PREFIX, Proc, veth  # noqa: F401
from helpers import python_env

PORT = "5201"
CPU_KEYS = {"host_total", "host_user", "host_system", "remote_total", "remote_user",
            "remote_system"}


@pytest.fixture(autouse=True)
def _iperf3():
    require(shutil.which("iperf3") is not None, "needs iperf3 (bash ci/install-deps.sh)")


def _netchan(veth, *args):
    return veth.netchan_proc("-m", "netchan", "iperf3", *args, "--link", veth.port(),
                             "--ip", f"{NETCHAN_IP}/{PREFIX}")


def _json_of(proc):
    text = proc.output()
    return json.loads(text[text.index("{"):text.rindex("}") + 1])


def _check_document(doc, streams, sender):
    """The fields iperf3's -J readers use, and that they add up."""
    assert {"start", "intervals", "end"} <= set(doc), doc.keys()
    assert len(doc["start"]["connected"]) == streams
    assert doc["start"]["test_start"]["num_streams"] == streams
    assert doc["intervals"], "no intervals"
    for iv in doc["intervals"]:
        assert len(iv["streams"]) == streams
        assert iv["sum"]["bytes"] == sum(s["bytes"] for s in iv["streams"])
        assert iv["sum"]["sender"] is sender
    end = doc["end"]
    assert len(end["streams"]) == streams
    assert end["sum_sent"]["bytes"] > 0 and end["sum_received"]["bytes"] > 0
    assert end["sum_received"]["bits_per_second"] > 0
    assert end["sum_sent"]["bytes"] >= end["sum_received"]["bytes"]
    assert end["sum_sent"]["retransmits"] >= 0
    assert set(end["cpu_utilization_percent"]) == CPU_KEYS
    assert end["cpu_utilization_percent"]["host_total"] > 0
    return end


@pytest.mark.root
@pytest.mark.parametrize("extra", [[], ["-R"], ["-P", "2"]], ids=["forward", "reverse", "P2"])
def test_stock_client_against_netchan_server(veth, extra):
    """iperf3 -c (kernel TCP) tests a netchan server; the client's -J, whose
    receiver half comes from netchan's results, matches netchan's own -J."""
    server = _netchan(veth, "-s", "-1", "-J")
    server.wait_for("Server listening on 5201")
    r = veth.linux("iperf3", "-c", NETCHAN_IP, "-p", PORT, "-t", "1", "-J", *extra,
                   check=False, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert server.finish(timeout=30) == 0, server.output()
    streams = 2 if "-P" in extra else 1
    theirs = _check_document(json.loads(r.stdout), streams, sender="-R" not in extra)
    ours = _check_document(_json_of(server), streams, sender="-R" in extra)
    # netchan's counts are what the stock client shows for the far side
    far = "sum_sent" if "-R" in extra else "sum_received"
    assert theirs[far]["bytes"] == ours[far]["bytes"]
    assert theirs["sum_sent"]["bytes"] == ours["sum_sent"]["bytes"]
    assert theirs["sum_received"]["bytes"] == ours["sum_received"]["bytes"]


@pytest.mark.root
@pytest.mark.parametrize("extra", [[], ["-R"], ["-P", "2"]], ids=["forward", "reverse", "P2"])
def test_netchan_client_against_stock_server(veth, extra):
    """netchan iperf3 -c tests a stock iperf3 -s; netchan prints iperf3's
    text and the stock server its own summary of the same bytes."""
    server = veth.linux_proc("iperf3", "-s", "-1", "-B", LINUX_IP, "-p", PORT, "--forceflush")
    server.wait_for("Server listening")
    client = _netchan(veth, "-c", LINUX_IP, "-p", PORT, "-t", "1", *extra)
    assert client.finish(timeout=60) == 0, client.output()
    assert server.finish(timeout=30) == 0, server.output()
    out = client.output()
    assert "iperf Done." in out
    role = "sender" if "-R" in extra else "receiver"       # the stock server's own line
    mine = [l for l in out.splitlines() if l.endswith("sender") or l.endswith("receiver")]
    assert len(mine) == (6 if "-P" in extra else 2), out
    assert [l for l in server.lines if l.endswith(role)], server.output()
    if "-R" not in extra:
        assert "Retr  Cwnd" in out          # the sender's columns


@pytest.mark.root
def test_netchan_client_json_against_stock_server(veth):
    server = veth.linux_proc("iperf3", "-s", "-1", "-B", LINUX_IP, "-p", PORT, "--forceflush")
    server.wait_for("Server listening")
    client = _netchan(veth, "-c", LINUX_IP, "-p", PORT, "-t", "1", "-P", "2", "-J")
    assert client.finish(timeout=60) == 0, client.output()
    assert server.finish(timeout=30) == 0, server.output()
    end = _check_document(_json_of(client), 2, sender=True)
    assert [s["sender"]["socket"] for s in end["streams"]] == [1, 3]
    assert end["cpu_utilization_percent"]["remote_total"] > 0     # from iperf3's results


@pytest.mark.root
def test_stock_udp_client_is_refused(veth):
    """iperf3 -u: the netchan server answers SERVER_ERROR "not implemented"
    and stays up for the next (TCP) test."""
    server = _netchan(veth, "-s")
    server.wait_for("Server listening on 5201 (test #1)")
    r = veth.linux("iperf3", "-c", NETCHAN_IP, "-p", PORT, "-u", "-t", "1", check=False)
    assert r.returncode != 0
    assert "not implemented" in (r.stdout + r.stderr).lower(), r.stdout + r.stderr
    server.wait_for("Server listening on 5201 (test #2)")
    r = veth.linux("iperf3", "-c", NETCHAN_IP, "-p", PORT, "-t", "1", check=False, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_netchan_to_netchan_over_shm():
    """Both roles of netchan iperf3 over a shm link, reverse with two
    streams, -J on both sides, the byte counts agreeing."""
    link = f"shm:{unique('ip3')}"
    exe = [sys.executable, "-m", "netchan", "iperf3"]
    server = Proc([*exe, "-s", "-1", "-J", "-p", "5999", "--link", link,
                   "--ip", "198.18.0.1/15"], env=python_env())
    try:
        server.wait_for("Server listening on 5999")
        client = Proc([*exe, "-c", "198.18.0.1", "-p", "5999", "-t", "1", "-R", "-P", "2", "-J",
                       "--link", link, "--ip", "198.18.0.2/15"], env=python_env())
        assert client.finish(timeout=60) == 0, client.output()
        assert server.finish(timeout=30) == 0, server.output()
    finally:
        server.stop()
    ours_c = _check_document(_json_of(client), 2, sender=False)
    ours_s = _check_document(_json_of(server), 2, sender=True)
    assert ours_c["sum_sent"]["bytes"] == ours_s["sum_sent"]["bytes"]
    assert ours_c["sum_received"]["bytes"] == ours_s["sum_received"]["bytes"]
