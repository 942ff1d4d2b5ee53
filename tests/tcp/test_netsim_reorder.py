"""netsim with real reordering: flows whose segments arrive late by
several places (the fault port's reorder_depth, pyx/ports/fault.pxi), with
RFC 8985 RACK-TLP (Stack(recovery="rack"), the default) against RFC 6675's
duplicate-ACK threshold alone (recovery="rfc6675"), on the same seeded faults.

Two stacks over `pair`, one end wrapped by the fault port (`delay=5ms` each way,
RTT 10 ms; a reordered frame is held until reorder_depth later frames have
passed it, or for hold=5ms, half an RTT), defaults otherwise. Per seed a
fresh pair of stacks opens `flows` connections one after the other and moves
`size` bytes on each (client to server, checked byte for byte): short flows
(64 KiB, 4 per seed) and long ones (1 MiB, 1 per seed); completion =
virtual time from the first byte queued to the last byte read. Spurious
retransmissions are the D-SACKs the sender received (RFC 2883: the receiver
reports every duplicate segment once), which for reordering without loss is
every retransmission that was not needed.

Reordering by three or more places is exactly what the duplicate-ACK
threshold takes for a loss; RACK does too until it has seen reordering, then
waits a reordering window (min_RTT / 4, growing with D-SACKs) first. A short
flow ends before that pays off (each is a new connection, which has seen no
reordering yet); a long one gains. The test fails when, in a long-flow cell
without loss, RACK resends more needlessly than RFC 6675 or takes longer on
average. The table in docs/netsim.md ("Reordering")
is rewritten by

    NETCHAN_NETSIM_WRITE=1 PYTHONPATH=python python -m pytest -q tests/tcp/test_netsim_reorder.py

`python tests/tcp/test_netsim_reorder.py` prints the cells as JSON (how the
"before" rows were measured on the earlier build).
"""
import json
import os

import pytest

from netsim_flows import cell_summary, rewrite_section, transfer_flows

TABLE = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "netsim.md")
WRITE = os.environ.get("NETCHAN_NETSIM_WRITE") == "1"
FLOWS = {64 << 10: 4, 1 << 20: 1}               # flow size -> connections per seed
SEEDS_FOR = {64 << 10: range(1, 17), 1 << 20: range(1, 9)}
FAULTS = ("reorder=0.02&reorder_depth=3", "reorder=0.05&reorder_depth=10",
          "reorder=0.02&reorder_depth=3&loss=0.01")
CELLS = [(size, fault) for size in FLOWS for fault in FAULTS]
RECOVERIES = ("rfc6675", "rack")
MARK = "## Reordering"

_results = {}

NOTES = (
    "Reading it: reordering by `reorder_depth` >= 3 is what the duplicate-ACK threshold takes "
    "for a loss, so RFC 6675 resends the late data segments (the fault port reorders ACKs "
    "too). RACK does the same on a new connection until it has seen reordering "
    "(RFC 8985 6.2: window 0 beyond DupThresh SACKed segments); a short flow is over about "
    "then, so the 64 KiB rows differ little. On a 1 MiB flow RACK then waits min_RTT / 4 "
    "(widened by each recovery with a D-SACK) and halves completion time against RFC 6675. "
    "The per-segment records (after) gain over the frontiers (before) mostly because a D-SACK "
    "now counts as reordering seen: once a late segment has been resent, RACK's own "
    "detection (a never-resent segment delivered below RACK.fack) cannot see it. The 2 RTOs "
    "with loss are tail cases RFC 8985 leaves to the RTO, traced per seed: a lost "
    "retransmission of the first hole whose only later-sent delivered segment was SACKed "
    "sooner than min_RTT after its own resend (6.2 step 2 takes that as the original "
    "arriving), and a final segment lost while the previous tail-loss probe's episode was "
    "still open (its ACK reached TLP.end_seq but not beyond it, 7.4), so no second probe."
)


def run_seed(recovery, size, fault, seed):
    times, s, server = transfer_flows("reord", f"delay=5ms&hold=5ms&seed={seed}&{fault}",
                                      recovery, size, FLOWS[size], seed)
    return times, dict(rtos=s["tcp_rto_fired"], retransmits=s["tcp_retransmits"],
                       spurious=s["tcp_dsack_rcvd"], reordered=server["fault_reordered"])


def run_cell(recovery, size, fault):
    return cell_summary(size, [run_seed(recovery, size, fault, seed)
                               for seed in SEEDS_FOR[size]])


@pytest.mark.parametrize("size,fault", CELLS, ids=[f"{s >> 10}K-{f}" for s, f in CELLS])
def test_reordering(size, fault):
    r = {rec: run_cell(rec, size, fault) for rec in RECOVERIES}
    _results[(size, fault)] = r
    assert r["rack"]["reordered"] > 0 and r["rfc6675"]["reordered"] > 0
    if "loss" not in fault and FLOWS[size] == 1:
        assert r["rack"]["spurious"] < r["rfc6675"]["spurious"], r
        assert r["rack"]["mean"] < r["rfc6675"]["mean"], r


def _cell(size, fault):
    return f"| {size >> 10} KiB x {FLOWS[size]} | {fault.replace('&', ' ')} |"


def _row(size, fault, rec, r, label):
    return (f"{_cell(size, fault)} {rec}{label} | {r['mean'] * 1e3:.1f} | "
            f"{r['p50'] * 1e3:.1f} | {r['p90'] * 1e3:.1f} | {r['max'] * 1e3:.1f} | "
            f"{r['goodput']:.3f} | {r['retransmits']} | {r['spurious']} | {r['rtos']} |")


def _write_table():
    text = open(TABLE).read()
    at = text.find("\n" + MARK)
    old = text[at:] if at >= 0 else ""
    before = [line for line in old.splitlines() if "(before)" in line]
    lines = [MARK, "",
             "Flows of 64 KiB (4 after one another per seed, seeds 1-16) and of 1 MiB (one per "
             "seed, seeds 1-8), on `pair:NAME?delay=5ms&hold=5ms&seed=S&FAULT` "
             "(RTT 10 ms; a reordered frame arrives after `reorder_depth` later frames, or 5 ms "
             "late); completion in ms over all flows of the cell; retransmits, spurious "
             "retransmissions (D-SACKs received) and RTOs are the sender's, summed. Regenerate "
             "(about half a minute):", "",
             "    NETCHAN_NETSIM_WRITE=1 PYTHONPATH=python python -m pytest -q "
             "tests/tcp/test_netsim_reorder.py", "",
             "Rows marked (before) are RACK on sequence frontiers (commit 4087fb7, with this "
             "fault port), measured with `python tests/tcp/test_netsim_reorder.py` on that build; "
             "they are kept when the table is rewritten.", "",
             "| flows | fault | recovery | mean ms | p50 ms | p90 ms | max ms | goodput MB/s | "
             "retransmits | spurious | RTOs |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for size, fault in CELLS:
        for rec in RECOVERIES:
            lines.append(_row(size, fault, rec, _results[(size, fault)][rec], ""))
        lines += [b for b in before if b.startswith(_cell(size, fault))]
    lines += ["", NOTES]
    rewrite_section(TABLE, MARK, lines)


@pytest.fixture(scope="module", autouse=True)
def _table_writer():
    yield
    if WRITE and len(_results) == len(CELLS):
        _write_table()


if __name__ == "__main__":
    out = {(size, fault): run_cell("rack", size, fault) for size, fault in CELLS}
    print(json.dumps({f"{s >> 10}K {f}": r for (s, f), r in out.items()}, indent=1))
    for (size, fault), r in out.items():
        print(_row(size, fault, "rack", r, " (before)"))
