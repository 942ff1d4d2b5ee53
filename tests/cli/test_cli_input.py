"""Bad input on the command line gets one clear line and an exit status, never
a traceback; `netchan --version`; the demos under `netchan demo`; `netchan
stats` keeps /dev/shm clean and shows a user only what they may read."""
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

import netchan
from netchan import statsview, testbed
from netchan.cli import main

from conftest import require_root, unique
from helpers import python_env


def run(capsys, *argv):
    """netchan.cli.main in this process: (exit status, stdout, stderr)."""
    try:
        code = main(list(argv))
    except SystemExit as e:          # argparse: usage errors and --help/--version
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"netchan {netchan.__version__}"
    from importlib.metadata import version
    assert netchan.__version__ == version("netchan")


def test_demos_are_reachable_from_help(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "demo" in out
    code, out, _ = run(capsys, "demo", "--help")
    assert code == 0 and "echo" in out and "http" in out
    code, out, _ = run(capsys, "demo", "echo", "server", "--help")
    assert code == 0 and "--port" in out and "--connections" in out
    code, out, _ = run(capsys, "demo", "http", "fetch", "--help")
    assert code == 0 and "--url" in out


def test_demo_echo_client_usage_error(capsys):
    code, _, err = run(capsys, "demo", "echo", "client", "--server", "198.18.1.1")
    assert code == 2 and "exactly one of --port URI (netchan) and --kernel" in err


def test_demo_echo_through_the_cli_over_shm():
    """`netchan demo echo server|client` run the same programs as
    python -m netchan.demo: one connection, checked end to end."""
    link = unique("cli-demo")
    exe = [sys.executable, "-m", "netchan"]
    server = subprocess.Popen([*exe, "demo", "echo", "server", "--port", f"shm:{link}",
                               "--connections", "1", "--linger", "5"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=python_env())
    try:
        client = subprocess.run([*exe, "demo", "echo", "client", "--port", f"shm:{link}",
                                 "--server", "198.18.1.1", "--bytes", "1M", "--linger", "5"],
                                capture_output=True, text=True, timeout=120, env=python_env())
        assert client.returncode == 0, client.stdout + client.stderr
        assert "ok: 1048576 bytes echoed intact" in client.stdout
        out, _ = server.communicate(timeout=60)
        assert server.returncode == 0, out
        assert "echoed 1048576 bytes" in out
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


@pytest.mark.parametrize("argv, words", [
    (["--time", "0"], ["--time", "greater than 0"]),
    (["--time", "-1"], ["--time", "greater than 0"]),
    (["--time", "inf"], ["--time"]),
    (["--time", "ten"], ["--time", "number of seconds"]),
    (["--write-size", "0"], ["--write-size", "at least 1 byte"]),
    (["--write-size", "lots"], ["--write-size", "expected a size"]),
    (["--mtu", "100"], ["--mtu", "between 576 and 65535"]),
    (["--window", "0"], ["--window"]),
])
def test_bench_rejects_bad_numbers_before_running(capsys, argv, words):
    code, out, err = run(capsys, "bench", "stream", *argv)
    assert code == 2 and out == ""
    assert "Traceback" not in err
    for w in words:
        assert w in err, err


@pytest.mark.parametrize("argv, words", [
    (["--port", "nonsense:x"], ["unknown kind 'nonsense'", "pair, shm, afpacket, dpdk"]),
    (["--port", "bogus"], ["KIND:TARGET"]),
    (["--port", "shm:x?loss=0.1&loss=0.2"], ["'loss' given twice"]),
    (["--server-port", "shm:a"], ["both --server-link and --client-link"]),
    (["--window", "100"], ["--window=100", "4096"]),
])
def test_bench_rejects_bad_ports_in_one_line(capsys, argv, words):
    code, out, err = run(capsys, "bench", "stream", "--time", "1", *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("netchan: "), err
    for w in words:
        assert w in err, err


def test_bench_child_failure_is_one_line():
    """A port that parses but cannot open: the server process's error,
    repeated by the parent in one line, exit 1, no traceback."""
    out = subprocess.run([sys.executable, "-m", "netchan", "bench", "stream", "--time", "1",
                          "--port", "afpacket:nosuch-nc0", "--kernel", "none"],
                         capture_output=True, text=True, timeout=60, env=python_env())
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr and out.stderr.count("\n") == 1, out.stderr
    assert "netchan server did not start" in out.stderr and "nosuch-nc0" in out.stderr


@pytest.mark.parametrize("argv, code, stream, words", [
    (["--help"], 0, "stdout", ["netchan bench stream", "roles"]),
    ([], 2, "stdout", ["usage: python -m netchan.bench"]),
    (["bogus"], 2, "stderr", ["unknown role 'bogus'", "netchan bench stream --help"]),
    (["server"], 2, "stderr", ["netchan bench server:"]),
])
def test_bench_module_usage(argv, code, stream, words):
    out = subprocess.run([sys.executable, "-m", "netchan.bench", *argv], capture_output=True,
                         text=True, timeout=60, env=python_env())
    assert out.returncode == code, out
    text = getattr(out, stream)
    assert "unknown role '--help'" not in out.stderr and "Traceback" not in out.stderr
    for w in words:
        assert w in text, text


# ---- testbed --------------------------------------------------------------------------

def test_testbed_status_of_a_testbed_that_is_not_up_fails(capsys):
    name = unique("nosuch")
    code, out, _ = run(capsys, "testbed", "status", "--name", name)
    assert code == 1 and f"testbed {name}: not up" in out
    code, out, _ = run(capsys, "testbed", "status", "--name", name, "--json")
    assert code == 1 and json.loads(out) == []


def test_stats_of_a_process_without_stacks_fails(capsys):
    code, out, _ = run(capsys, "stats", "--pid", "1")
    assert code == 1 and "no running netchan stacks in pid 1" in out


def test_netem_is_checked_not_assumed():
    have, evidence = testbed.netem_status()
    assert have in (True, False, None) and evidence
    if os.geteuid() == 0 and shutil.which("unshare") and shutil.which("tc"):
        assert have is not None and "scratch network namespace" in evidence


@pytest.mark.parametrize("have", [True, False, None])
def test_netem_refusal_says_why(monkeypatch, capsys, have):
    monkeypatch.setattr(testbed, "netem_status", lambda: (have, "EVIDENCE"))
    code, _, err = run(capsys, "testbed", "up", "--name", unique("tb"), "--delay", "5ms")
    assert code == 2 and "EVIDENCE" in err and "fault port" in err
    assert "afpacket:eth0?delay=5ms" in err
    if have is False:
        assert "does not have" in err
    else:
        assert "does not have" not in err and "only drives tbf" in err


def test_unknown_congestion_control_is_refused_before_anything_is_made(capsys):
    name = unique("tb")
    code, _, err = run(capsys, "testbed", "up", "--name", name, "--cc", "nosuch")
    assert code == 2 and "cc=nosuch: not available" in err and "cubic" in err
    assert testbed.Testbed(name).status() is None


def test_real_netem_refusal_names_the_evidence(capsys):
    have, evidence = testbed.netem_status()
    code, _, err = run(capsys, "testbed", "up", "--name", unique("tb"), "--reorder", "2%")
    assert code == 2 and evidence in err


# ---- /dev/shm hygiene -------------------------------------------------------------------

DEAD_PID = 2 ** 22 + 12345          # above pid_max's ceiling: never a live process


def test_remove_stale_segments(tmp_path):
    live = tmp_path / f"netchan-stats.{os.getpid()}.0"
    dead = tmp_path / f"netchan-stats.{DEAD_PID}.3"
    other = tmp_path / f"netchan-link-{DEAD_PID}"         # not a stats segment
    odd = tmp_path / "netchan-stats.notapid.1"
    for p in (live, dead, other, odd):
        p.write_bytes(b"\0" * 100)
    assert statsview.remove_stale_segments(str(tmp_path)) == [str(dead)]
    assert live.exists() and other.exists() and odd.exists() and not dead.exists()
    assert statsview.remove_stale_segments(str(tmp_path)) == []


def test_remove_stale_segments_once_per_process(tmp_path):
    dead = tmp_path / f"netchan-stats.{DEAD_PID}.0"
    dead.write_bytes(b"")
    assert statsview.remove_stale_segments_once(str(tmp_path)) == [str(dead)]
    dead.write_bytes(b"")
    assert statsview.remove_stale_segments_once(str(tmp_path)) == []
    assert dead.exists()


def _as_user(uid, fn):
    """fn() in a forked child running as uid (root only): its JSON result."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            result = {"ok": fn()}
        except BaseException as e:      # noqa: B036 - reported to the parent
            result = {"error": repr(e)}
        try:
            os.write(w, json.dumps(result).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    result = json.loads(data)
    assert "error" not in result, result["error"]
    return result["ok"]


@pytest.fixture
def shared_dir():
    """A directory another user can reach (pytest's tmp_path is 0700)."""
    import tempfile
    d = tempfile.mkdtemp(prefix="nc-shm-test-")
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


def test_only_owner_or_root_removes_a_stale_segment(shared_dir):
    tmp_path = shared_dir
    require_root()
    nobody = 65534
    os.chmod(tmp_path, 0o1777)                  # like /dev/shm
    roots = tmp_path / f"netchan-stats.{DEAD_PID}.0"
    theirs = tmp_path / f"netchan-stats.{DEAD_PID}.1"
    roots.write_bytes(b"")
    theirs.write_bytes(b"")
    os.chown(theirs, nobody, nobody)
    removed = _as_user(nobody, lambda: statsview.remove_stale_segments(str(tmp_path)))
    assert removed == [str(theirs)] and roots.exists()
    assert statsview.remove_stale_segments(str(tmp_path)) == [str(roots)]   # root may


def test_stats_shows_a_user_only_segments_they_may_read(shared_dir):
    tmp_path = shared_dir
    require_root()
    nobody = 65534
    os.chmod(tmp_path, 0o755)
    with netchan.Stack(f"pair:{unique('stats')}", ip="198.18.0.1/15",
                       clock=netchan.VirtualClock()) as s:
        seg = tmp_path / f"netchan-stats.{os.getpid()}.0"
        shutil.copyfile(s.stats_path, seg)
    os.chmod(seg, 0o600)                         # what the writer makes
    assert [x["ip"] for x in statsview.list_stacks(directory=str(tmp_path))] == ["198.18.0.1"]
    seen = _as_user(nobody, lambda: [x["path"] for x in
                                     statsview.list_stacks(directory=str(tmp_path))])
    assert seen == []
    os.chmod(seg, 0o644)
    seen = _as_user(nobody, lambda: [x["path"] for x in
                                     statsview.list_stacks(directory=str(tmp_path))])
    assert seen == [str(seg)]
