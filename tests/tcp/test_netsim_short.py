"""netsim for short flows: how long a short transfer takes when its tail is
lost or its segments are reordered, with RFC 8985 RACK-TLP
(Stack(recovery="rack"), the default) against RFC 6675 alone
(recovery="rfc6675"), in the same run on the same seeded faults.

Two stacks over `pair` (one end wrapped by the fault port: `delay=5ms` each
way, RTT 10 ms, plus the cell's loss or reordering), defaults otherwise
(rto_min 1 s, delayed ACK 40 ms, initial window 10 segments, SACK on). Per
seed a fresh pair of stacks opens FLOWS connections one after the other
and moves SIZE bytes on each (client to server, checked byte for byte);
completion = virtual time from the first byte queued to the last byte read
(the handshake is not counted). A short flow's losses are mostly tail losses:
with RFC 6675 alone each waits for the 1 s RTO, with RACK-TLP for a probe
after 2 SRTT.

The test fails when, in a loss cell, RACK-TLP's mean completion is not
below RFC 6675's. The table in docs/netsim.md ("Short flows") is rewritten by

    NETCHAN_NETSIM_WRITE=1 PYTHONPATH=python python -m pytest -q tests/tcp/test_netsim_short.py
"""
import os

import pytest

from netsim_flows import cell_summary, rewrite_section, transfer_flows

TABLE = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "netsim.md")
WRITE = os.environ.get("NETCHAN_NETSIM_WRITE") == "1"
SEEDS = range(1, 33)
FLOWS = 4                                       # connections per seed
SIZES = (16 << 10, 64 << 10)
FAULTS = ("loss=0.02", "loss=0.05", "reorder=0.05", "loss=0.02&reorder=0.05")
RECOVERIES = ("rfc6675", "rack")
CELLS = [(size, fault) for size in SIZES for fault in FAULTS]
MARK = "## Short flows"

_results = {}


def run_seed(recovery, size, fault, seed):
    """FLOWS transfers of `size` bytes on one pair of stacks; per-flow
    completion seconds and the sender's counters."""
    times, s, _ = transfer_flows("short", f"delay=5ms&seed={seed}&{fault}", recovery, size,
                                 FLOWS, seed)
    return times, dict(rtos=s["tcp_rto_fired"], tlps=s["tcp_tlp_probes"],
                       retransmits=s["tcp_retransmits"])


def run_cell(recovery, size, fault):
    return cell_summary(size, [run_seed(recovery, size, fault, seed) for seed in SEEDS])


@pytest.mark.parametrize("size,fault", CELLS, ids=[f"{s >> 10}K-{f}" for s, f in CELLS])
def test_short_flows(size, fault):
    r = {rec: run_cell(rec, size, fault) for rec in RECOVERIES}
    _results[(size, fault)] = r
    if "loss" in fault:
        assert r["rack"]["mean"] < r["rfc6675"]["mean"], r
        assert r["rack"]["tlps"] > 0
    else:
        assert r["rfc6675"]["tlps"] == 0


def _write_table():
    lines = [MARK, "",
             f"Short flows: {FLOWS} connections after one another per seed, seeds "
             f"{SEEDS.start}-{SEEDS.stop - 1}, on `pair:NAME?delay=5ms&seed=S&FAULT` (RTT 10 ms), "
             "each moving the flow's bytes client to server; completion = virtual time from the "
             "first byte queued to the last byte read (ms, over all flows of the cell); RTOs, "
             "tail-loss probes and retransmits are the sender's, summed. `recovery` is the Stack "
             "option (RFC 6675 alone, or with RACK-TLP). Regenerate (about a minute):", "",
             "    NETCHAN_NETSIM_WRITE=1 PYTHONPATH=python python -m pytest -q "
             "tests/tcp/test_netsim_short.py", "",
             "| flow | fault | recovery | mean ms | p50 ms | p90 ms | max ms | goodput MB/s | "
             "RTOs | TLPs | retransmits |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for size, fault in CELLS:
        for rec in RECOVERIES:
            r = _results[(size, fault)][rec]
            lines.append(f"| {size >> 10} KiB | {fault.replace('&', ' ')} | {rec} | "
                         f"{r['mean'] * 1e3:.1f} | {r['p50'] * 1e3:.1f} | {r['p90'] * 1e3:.1f} | "
                         f"{r['max'] * 1e3:.1f} | {r['goodput']:.3f} | {r['rtos']} | {r['tlps']} | "
                         f"{r['retransmits']} |")
    rewrite_section(TABLE, MARK, lines)        # (the sections after ours stay: "## Reordering")


@pytest.fixture(scope="module", autouse=True)
def _table_writer():
    yield
    if WRITE and len(_results) == len(CELLS):
        _write_table()
