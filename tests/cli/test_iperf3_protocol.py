"""The pieces of `netchan iperf3` one at a time: cookie, state bytes,
length-prefixed JSON in any chunking, parameters (and what a netchan server
refuses), results, iperf3's number formats, the command line; then the
protocol engine on the kernel's sockets against the stock iperf3 binary on
loopback (the prototype the byte sequence was pinned down with)."""
import json
import shutil
import socket
import struct
import subprocess
import threading

import pytest

from conftest import require
from netchan.cli import main
from netchan.iperf3 import protocol as P
from netchan.iperf3.report import Report, fmt_bytes, fmt_rate, text_line


def test_cookie_is_36_base32_characters_and_nul():
    c = P.make_cookie()
    assert len(c) == 37 and c[-1] == 0 and set(c[:-1].decode()) <= set(P.COOKIE_CHARS)
    assert P.check_cookie(c) == c
    assert P.make_cookie() != c
    for bad in (c[:-1], c[:-1] + b"x", b"A" * 36 + b"\0", b"GET / HTTP/1.1\r\n" + b"\0" * 21):
        with pytest.raises(P.ProtocolError):
            P.check_cookie(bad)


def test_state_values_are_iperf3s():
    assert P.state_byte(P.PARAM_EXCHANGE) == b"\x09"
    assert P.state_byte(P.ACCESS_DENIED) == b"\xff"
    assert P.server_error(P.IE_UNIMPLEMENTED, 0) == b"\xfe\x00\x00\x00\x0d\x00\x00\x00\x00"
    assert (P.TEST_START, P.TEST_RUNNING, P.TEST_END, P.CREATE_STREAMS, P.EXCHANGE_RESULTS,
            P.DISPLAY_RESULTS, P.IPERF_DONE) == (1, 2, 4, 10, 13, 14, 16)


def test_stream_ids_skip_two():
    assert P.stream_ids(1) == [1]
    assert P.stream_ids(2) == [1, 3]
    assert P.stream_ids(4) == [1, 3, 4, 5]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 1000])
def test_control_reader_reassembles_any_chunking(chunk):
    wire = (P.state_byte(P.PARAM_EXCHANGE) + P.encode_json({"a": 1, "b": "x" * 300})
            + P.state_byte(P.SERVER_ERROR) + struct.pack(">ii", 13, 0))
    r = P.ControlReader()
    got = []
    steps = iter([r.state, r.json, r.state, r.error])
    step = next(steps)
    for i in range(0, len(wire), chunk):
        r.feed(wire[i:i + chunk])
        while step is not None and (v := step()) is not None:
            got.append(v)
            step = next(steps, None)
    assert got == [9, {"a": 1, "b": "x" * 300}, -2, (13, 0)]


def test_json_length_is_big_endian_and_bounded():
    assert P.encode_json({"x": 1}) == b"\x00\x00\x00\x07" + b'{"x":1}'
    r = P.ControlReader()
    r.feed(struct.pack(">I", P.MAX_JSON + 1))
    with pytest.raises(P.ProtocolError, match="more than"):
        r.json()
    r = P.ControlReader()
    r.feed(struct.pack(">I", 3) + b"[1]")
    with pytest.raises(P.ProtocolError, match="expected an object"):
        r.json()
    r = P.ControlReader()
    r.feed(struct.pack(">I", 2) + b"{x")
    with pytest.raises(P.ProtocolError, match="bad JSON"):
        r.json()


def test_params_round_trip_as_iperf3_sends_them():
    # what stock iperf3 3.12 -c -t 1 -R sent (seen on loopback)
    sent = {"tcp": True, "omit": 0, "time": 1, "num": 0, "blockcount": 0, "parallel": 1,
            "reverse": True, "len": 131072, "pacing_timer": 1000, "client_version": "3.12"}
    p = P.TestParams.from_json(sent)
    assert (p.time, p.parallel, p.reverse, p.length) == (1.0, 1, True, 131072)
    assert P.TestParams.from_json(p.to_json()) == p
    assert "reverse" not in P.TestParams(reverse=False).to_json()


@pytest.mark.parametrize("params, ie", [
    ({"udp": True, "time": 1, "parallel": 1, "len": 1460}, P.IE_UNIMPLEMENTED),
    ({"tcp": True, "bidirectional": True}, P.IE_UNIMPLEMENTED),
    ({"tcp": True, "num": 1000000}, P.IE_UNIMPLEMENTED),
    ({"tcp": True, "parallel": 500}, P.IE_NUM_STREAMS),
    ({"tcp": True, "len": 2 << 20}, P.IE_BLOCK_SIZE),
    ({"tcp": True, "time": "soon"}, P.IE_UNIMPLEMENTED),
])
def test_params_a_netchan_server_refuses(params, ie):
    with pytest.raises(P.ProtocolError) as e:
        P.TestParams.from_json(params)
    assert e.value.ie == ie


def test_results_say_unknown_retransmits_as_iperf3_does():
    streams = [{"id": 1, "bytes": 10, "retransmits": 2, "seconds": 1.0}]
    sent = P.results_json((3.0, 1.0, 2.0), streams, sender=True)
    assert sent["streams"][0]["retransmits"] == 2 and sent["sender_has_retransmits"] == 1
    got = P.results_json((3.0, 1.0, 2.0), streams, sender=False)
    assert got["streams"][0]["retransmits"] == 2 ** 64 - 1
    cpu, parsed = P.parse_results(json.loads(json.dumps(got)))
    assert cpu == (3.0, 1.0, 2.0)
    assert parsed == {1: {"bytes": 10, "retransmits": -1, "seconds": 1.0}}
    with pytest.raises(P.ProtocolError):
        P.parse_results({"streams": []})


def test_number_formats_match_iperf3_lines():
    # from stock iperf3 3.12's own output
    assert fmt_bytes(1.59 * 2 ** 30) == "1.59 GBytes"
    assert fmt_bytes(645 * 2 ** 20) == " 645 MBytes"
    assert fmt_bytes(128 * 1024) == " 128 KBytes"
    assert fmt_bytes(0) == "0.00 Bytes"
    assert fmt_rate(13.6e9) == "13.6 Gbits/sec"
    assert fmt_rate(5.41e9) == "5.41 Gbits/sec"
    assert (text_line(5, 0, 1, 1.59 * 2 ** 30, 1.0, 2, 895 * 1024)
            == "[  5]   0.00-1.00   sec  1.59 GBytes  13.7 Gbits/sec    2    895 KBytes       ")
    assert (text_line(None, 0, 1, 1.26 * 2 ** 30, 1.0, role="receiver")
            == "[SUM]   0.00-1.00   sec  1.26 GBytes  10.8 Gbits/sec                  receiver")


def test_report_end_sums_streams():
    r = Report(as_json=True)
    r.start({}, P.TestParams(time=1, parallel=2), sender_local=True)
    local = [{"id": 1, "bytes": 100, "retransmits": 1, "seconds": 1.0},
             {"id": 3, "bytes": 300, "retransmits": 2, "seconds": 1.0}]
    remote = {1: {"bytes": 90, "retransmits": -1, "seconds": 1.0},
              3: {"bytes": 290, "retransmits": -1, "seconds": 1.0}}
    r.end(local, remote, (1.0, 0.5, 0.5), (2.0, 1.0, 1.0), "cubic", show_both=True)
    end = r.doc["end"]
    assert end["sum_sent"]["bytes"] == 400 and end["sum_sent"]["retransmits"] == 3
    assert end["sum_received"]["bytes"] == 380 and "retransmits" not in end["sum_received"]
    assert end["sum_received"]["bits_per_second"] == 380 * 8
    assert end["cpu_utilization_percent"]["remote_total"] == 2.0
    assert end["sender_tcp_congestion"] == "cubic"


# ---- the command line -----------------------------------------------------------------

@pytest.mark.parametrize("argv, needle", [
    (["-s", "-t", "5"], "-t: client options"),
    (["-c", "198.18.0.1", "-1"], "-1: a server option"),
    (["-c", "198.18.0.1", "-u"], "TCP tests only"),
    (["-c", "198.18.0.1", "-l", "2M"], "at most 1048576"),
    (["-c", "198.18.0.1", "-t", "0"], "greater than 0"),
    (["-c", "198.18.0.1", "-P", "0"], "between 1 and 128"),
    (["-s", "-c", "198.18.0.1"], "not allowed with"),
])
def test_bad_arguments_one_line_exit_2(capsys, argv, needle):
    link = ["--link", "shm:never-opened", "--ip", "198.18.0.1/15"]
    with pytest.raises(SystemExit) as e:
        main(["iperf3", *argv, *link])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert len([l for l in err.splitlines() if "error:" in l]) == 1


def test_link_and_ip_are_required(capsys):
    with pytest.raises(SystemExit) as e:
        main(["iperf3", "-c", "198.18.0.1"])
    assert e.value.code == 2 and "--link" in capsys.readouterr().err


# ---- the engine on kernel sockets against stock iperf3, loopback ---------------------

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port, timeout=10.0):
    """Until a socket listens on port (read from /proc: a test connection
    would be taken by iperf3 -s -1 as its one client)."""
    import time
    deadline = time.monotonic() + timeout
    want = f":{port:04X} "
    while time.monotonic() < deadline:
        with open("/proc/net/tcp") as f:
            if any(want in line and line.split()[3] == "0A" for line in f):
                return
        time.sleep(0.02)
    pytest.fail(f"nothing listens on port {port} after {timeout} s")


@pytest.fixture
def stock_iperf3():
    require(shutil.which("iperf3") is not None, "needs iperf3 (bash ci/install-deps.sh)")


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_kernel_engine_serves_stock_client(stock_iperf3, reverse):
    from netchan.iperf3.server import serve
    from netchan.iperf3.transport import KernelNet
    port = _free_port()
    reports = []

    def make_report():
        reports.append(Report(as_json=True))
        reports[-1].finish = lambda: None
        return reports[-1]
    status = []
    t = threading.Thread(target=lambda: status.append(
        serve(KernelNet(), port, make_report, one_off=True, log=lambda _: None)))
    t.start()
    try:
        r = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", "1", "-J",
                            "--connect-timeout", "5000"] + (["-R"] if reverse else []),
                           capture_output=True, text=True, timeout=60)
    finally:
        t.join(60)
    assert status == [0] and r.returncode == 0, r.stdout + r.stderr
    theirs = json.loads(r.stdout)["end"]
    ours = reports[0].doc["end"]
    assert theirs["sum_received"]["bytes"] == ours["sum_received"]["bytes"] > 0
    assert theirs["sum_sent"]["bytes"] == ours["sum_sent"]["bytes"]


def test_kernel_engine_runs_against_stock_server(stock_iperf3):
    from netchan.iperf3.client import run_client
    from netchan.iperf3.transport import KernelNet
    port = _free_port()
    server = subprocess.Popen(["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", str(port), "-J"],
                              stdout=subprocess.PIPE, text=True)
    try:
        report = Report(as_json=True)
        net = KernelNet()
        _wait_listening(port)
        assert run_client(net, "127.0.0.1", port, P.TestParams(time=1, parallel=2), report) == 0
        out, _ = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    theirs = json.loads(out)["end"]
    ours = report.doc["end"]
    assert [s["sender"]["socket"] for s in ours["streams"]] == [1, 3]
    assert ours["sum_received"]["bytes"] == theirs["sum_received"]["bytes"] > 0
