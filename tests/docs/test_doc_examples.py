"""Every example in README.md and docs/*.md that is meant to run, runs.

Conventions (the README's Documents section states them too):

- A ```python block runs as a program of its own (a fresh interpreter, a
  scratch working directory) and must exit 0 within its deadline.
- `<!-- not-run: REASON -->` on the line before a fence: the block is not run
  (it needs an interface, root, a second machine ...); REASON is required.
- `<!-- run: processes -->` before a python block: the block is several
  programs, each starting at a line `# process N...`; the lines before the
  first (imports) go to each. They start in order; each next one once the
  previous has built its Stack (its stats segment exists), and all must exit 0.
- `<!-- run: root -->` before a python block: it needs root (a testbed);
  skipped without root, a failure in CI.
- `# prints: TEXT` at the end of a line: TEXT must appear in that program's
  output.
- Every `shm:NAME` / `pair:NAME` / `Testbed("NAME")` in a python block is
  made unique per test run, so examples never meet another run's link.
- Every `netchan ...`, `python3 -m netchan.demo ...` and
  `python3 -m netchan.httpdemo ...` command in any shell or untagged block
  (a line of its own, or after `$ `) must be accepted by the command's
  parser; the read-only ones (--help, --version, stats, hugepages without
  --reserve, testbed status) are also run with the venv's `netchan`.
"""
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import pytest

from conftest import require_root, unique
from helpers import python_env

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = ["README.md"] + sorted(os.path.join("docs", f) for f in os.listdir(os.path.join(REPO, "docs"))
                              if f.endswith(".md"))
SHELL_LANGS = ("", "sh", "shell", "bash", "console")
PROGRAM_TIMEOUT = 120


@dataclass
class Block:
    doc: str
    line: int           # of the opening fence, 1-based
    lang: str
    text: str
    marker: str         # the HTML comment before the fence, if any ('' otherwise)

    @property
    def id(self):
        return f"{self.doc}:{self.line}"


_FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*(.*?)\s*-->\s*$")


def blocks(doc):
    lines = open(os.path.join(REPO, doc), encoding="utf-8").read().splitlines()
    out = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(2)
        j = i + 1
        while j < len(lines) and not re.match(r"^\s*```\s*$", lines[j]):
            j += 1
        marker = ""
        if start > 0:
            mm = _MARKER.match(lines[start - 1])
            if mm:
                marker = mm.group(1)
        out.append(Block(doc, start + 1, lang, "\n".join(lines[start + 1:j]) + "\n", marker))
        i = j + 1
    return out


ALL = [b for d in DOCS for b in blocks(d)]
PYTHON = [b for b in ALL if b.lang == "python"]
SHELL = [b for b in ALL if b.lang in SHELL_LANGS]


def test_the_documents_have_examples():
    assert any(b.doc == "README.md" for b in PYTHON)
    assert len(PYTHON) >= 3 and len(SHELL) >= 10


def test_markers_are_known_and_not_run_has_a_reason():
    for b in ALL:
        if not b.marker:
            continue
        kind, _, reason = b.marker.partition(":")
        assert kind.strip() in ("not-run", "run"), f"{b.id}: unknown marker {b.marker!r}"
        assert reason.strip(), f"{b.id}: {b.marker!r} needs a reason / a mode after the colon"
        if kind.strip() == "run":
            assert reason.strip() in ("processes", "root"), f"{b.id}: unknown run mode {reason!r}"


# ---- python blocks ------------------------------------------------------------------

def _unique_links(text, tag):
    text = re.sub(r"""(["'])(shm|pair):([A-Za-z0-9_.-]+)""",
                  lambda m: f"{m.group(1)}{m.group(2)}:{m.group(3)}-{tag}", text)
    return re.sub(r"""Testbed\((["'])([A-Za-z0-9_.-]+)\1""",
                  lambda m: f"Testbed({m.group(1)}{m.group(2)}-{tag}{m.group(1)}", text)


def _programs(block):
    text = _unique_links(block.text, unique("doc"))
    if block.marker != "run: processes":
        return [text]
    parts = re.split(r"(?m)^(?=# process \d)", text)
    prelude, procs = parts[0], parts[1:]
    assert procs, f"{block.id}: 'run: processes' but no '# process N' lines"
    return [prelude + p for p in procs]


def _expected(program):
    return [m.group(1).strip() for m in re.finditer(r"#\s*prints:\s*(.+)$", program, re.M)]


def _stats_segment_of(pid):
    prefix = f"netchan-stats.{pid}."
    return any(f.startswith(prefix) for f in os.listdir("/dev/shm"))


def _wait_for_stack(proc, deadline):
    """Until process proc has made its Stack (its stats segment exists)."""
    while not _stats_segment_of(proc.pid):
        if proc.poll() is not None:
            return
        if time.monotonic() > deadline:
            raise AssertionError("the program made no Stack in time")
        time.sleep(0.005)


@pytest.mark.parametrize("block", [b for b in PYTHON if not b.marker.startswith("not-run")],
                         ids=lambda b: b.id)
def test_python_example_runs(block):
    if block.marker == "run: root":
        require_root()
    programs = _programs(block)
    env = python_env()
    procs = []
    with tempfile.TemporaryDirectory(prefix="nc-doc-") as scratch:
        try:
            deadline = time.monotonic() + PROGRAM_TIMEOUT
            for i, program in enumerate(programs):
                procs.append(subprocess.Popen([sys.executable, "-c", program], cwd=scratch,
                                              env=env, stdout=subprocess.PIPE,
                                              stderr=subprocess.PIPE, text=True))
                if i + 1 < len(programs):
                    _wait_for_stack(procs[-1], deadline)
            results = []
            for p in procs:
                out, err = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
                results.append((p.returncode, out, err))
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
    for n, (program, (code, out, err)) in enumerate(zip(programs, results), 1):
        where = f"{block.id}, program {n} of {len(programs)}"
        assert code == 0, f"{where} exited {code}:\n{err}"
        for text in _expected(program):
            assert text in out, f"{where}: expected {text!r} in its output, got {out!r}"


# ---- shell commands ------------------------------------------------------------------

def _commands(block):
    """(doc:line, argv) of every netchan command in a shell/untagged block."""
    lines = block.text.splitlines()
    joined = []
    buf = ""
    for ln in lines:
        if ln.rstrip().endswith("\\"):
            buf += ln.rstrip()[:-1] + " "
            continue
        joined.append(buf + ln)
        buf = ""
    out = []
    for ln in joined:
        s = ln.strip()
        if s.startswith("$ "):
            s = s[2:]
        elif block.lang == "" and not re.match(
                r"^(netchan (bench|stats|hugepages|testbed|demo|-)|python3? |ip netns exec |sudo )",
                s):
            continue        # output in a transcript
        # `[--window 4M]`: an optional part, written as in usage lines
        s = re.sub(r"\[([^\]]*)\]", r"\1", s)
        s = s.rstrip("&").strip()
        if not s or s.startswith("#"):
            continue
        try:
            argv = shlex.split(s, comments=True)
        except ValueError:
            continue
        # the netchan part of the line: after env prefixes, `ip netns exec NS`, `exec h1 --`
        if any(t in ("...", "…") for t in argv):
            continue        # a placeholder, not a command
        for k, tok in enumerate(argv):
            if tok == "netchan" or tok.endswith("/netchan"):
                out.append((block.id, ["netchan", *argv[k + 1:]]))
                break
            if tok == "-m" and k + 1 < len(argv) and argv[k + 1].startswith("netchan"):
                out.append((block.id, [argv[k + 1], *argv[k + 2:]]))
                break
    return out


COMMANDS = [c for b in SHELL if not b.marker.startswith("not-run") for c in _commands(b)]


def _parser_for(argv):
    from netchan import cli, demo, httpdemo
    return {"netchan": cli.build_parser, "netchan.demo": demo.build_parser,
            "netchan.httpdemo": httpdemo.build_parser}.get(argv[0])


def test_the_documents_have_commands():
    assert sum(1 for _, a in COMMANDS if a[0] == "netchan") >= 10


@pytest.mark.parametrize("where, argv", COMMANDS, ids=[f"{w} {' '.join(a)[:60]}"
                                                      for w, a in COMMANDS])
def test_documented_command_parses(where, argv, capsys):
    make = _parser_for(argv)
    if make is None:
        assert argv[0] in ("netchan.bench",), f"{where}: unknown module {argv[0]}"
        from netchan import bench
        assert argv[1] in bench.ROLES, f"{where}: netchan.bench has no role {argv[1]!r}"
        return
    rest = argv[1:]
    # an inner command after `testbed exec HOST --` is checked on its own
    if argv[0] == "netchan" and rest[:1] == ["testbed"] and "--" in rest:
        inner = rest[rest.index("--") + 1:]
        rest = rest[:rest.index("--") + 1]
        if len(inner) > 2 and inner[1] == "-m" and inner[2].startswith("netchan"):
            test_documented_command_parses(where, [inner[2], *inner[3:]], capsys)
    try:
        make().parse_args(rest)
    except SystemExit as e:
        err = capsys.readouterr().err
        assert e.code == 0, f"{where}: `{' '.join(argv)}` is refused:\n{err}"


SAFE = (("--help",), ("--version",), ("stats",), ("hugepages",), ("testbed", "status"))


def _safe(argv):
    rest = argv[1:]
    if "--help" in rest or "-h" in rest:
        return True
    if "--reserve" in rest:
        return False
    return any(tuple(rest[:len(s)]) == s for s in SAFE)


def _venv_netchan():
    exe = os.path.join(os.path.dirname(sys.executable), "netchan")
    return [exe] if os.path.exists(exe) else [sys.executable, "-m", "netchan"]


@pytest.mark.parametrize("where, argv", [c for c in COMMANDS if c[1][0] == "netchan"
                                         and _safe(c[1])],
                         ids=lambda x: x if isinstance(x, str) else " ".join(x))
def test_read_only_documented_command_runs(where, argv):
    out = subprocess.run([*_venv_netchan(), *argv[1:]], capture_output=True, text=True,
                         timeout=60, env=python_env())
    # stats/status exit 1 when there is nothing to show; anything else is a failure
    assert out.returncode in (0, 1), f"{where}: `{' '.join(argv)}` exited {out.returncode}:\n" \
                                     f"{out.stderr}"
    assert "Traceback" not in out.stderr, f"{where}: {out.stderr}"
