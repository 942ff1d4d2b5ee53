"""Scenarios run in a child process of their own (the DPDK EAL starts once
per process): a test file defines `scenario_NAME(*args)` functions that
return a JSON-able dict, ends its scenario part with

    if __name__ == "__main__":
        run_from_argv(globals())

and its tests start one with spawn(__file__, NAME, *args, env=...) and read
it back with result(proc). The child prints its dict as the last line,
marked, so that whatever else reaches stdout (the EAL's usage text) does not
get in the way."""
import json
import subprocess
import sys

import pytest

RESULT_MARK = "RESULT "


def run_from_argv(namespace):
    """The child: run scenario argv[1] of the module whose globals() are
    namespace with argv[2:], print the result and exit 0."""
    scenarios = {name[len("scenario_"):]: fn for name, fn in namespace.items()
                 if name.startswith("scenario_")}
    res = scenarios[sys.argv[1]](*sys.argv[2:])
    sys.stdout.flush()
    # on a line of its own: the EAL's C stdio may have a half-written line
    # (its usage text) in the same stdout
    print("\n" + RESULT_MARK + json.dumps(res), flush=True)
    sys.exit(0)


def spawn(script, name, *args, env, prefix=()):
    """Start scenario `name` of `script` in a child process."""
    return subprocess.Popen([*prefix, sys.executable, script, name, *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def marked_result(out):
    """The child's result from its stdout, or None if it printed none."""
    lines = [ln for ln in out.splitlines() if ln.startswith(RESULT_MARK)]
    return json.loads(lines[-1][len(RESULT_MARK):]) if lines else None


def result(proc, timeout=60):
    """Wait for a child and return its result; a timeout, a non-zero exit or
    no result fails the test with both outputs."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"scenario timed out\nstdout:\n{out}\nstderr:\n{err}")
    res = marked_result(out)
    assert proc.returncode == 0 and res is not None, (
        f"scenario failed (rc {proc.returncode})\nstdout:\n{out}\nstderr:\n{err}")
    return res
