"""The fault port's reordering (pyx/ports/fault.pxi): a chosen frame (reorder=P)
is held back until reorder_depth later frames have passed it, or for hold of
virtual time, whichever comes first; bounded (FAULT_HOLD_MAX frames held per
direction); seeded. Raw frames over `pair`, sent on the tx side."""
import pytest

import netchan
from conftest import unique

from test_link import frame

HOLD_MAX = 32


def run(query, n=2000, step_ns=1000, tail_ns=10**12):
    """Send n numbered frames through a fault port on a's tx side, one every
    step_ns; the sequence numbers b receives, in order, and a's stats."""
    name = unique("reo")
    a = netchan.open_port(netchan.parse_port_uri(f"pair:{name}?{query}&fault_dir=tx"))
    b = netchan.open_port(netchan.parse_port_uri(f"pair:{name}"))
    got = []
    try:
        for i in range(n):
            a.send(frame(i), now=i * step_ns)
            a.recv(now=i * step_ns)
            got += b.recv(now=i * step_ns)
        held = a.stats()["fault_held"]
        for t in (tail_ns, tail_ns + 1):
            a.recv(now=t)                           # held frames leave when their time is up
            got += b.recv(now=t)
        stats = a.stats()
        stats["held_before_tail"] = held
    finally:
        a.close()
        b.close()
    return [int.from_bytes(f[14:18], "big") for f in got], stats


def lateness(seqs):
    """{seq: how many later frames arrived before it} for the frames that came late."""
    late = {}
    for pos, s in enumerate(seqs):
        ahead = sum(1 for x in seqs[:pos] if x > s)
        if ahead:
            late[s] = ahead
    return late


@pytest.mark.parametrize("depth", [1, 3, 10])
def test_a_reordered_frame_arrives_after_depth_later_frames(depth):
    seqs, stats = run(f"reorder=0.02&reorder_depth={depth}&hold=1s&seed=4")
    assert sorted(seqs) == list(range(2000))            # nothing lost or duplicated
    late = lateness(seqs)
    assert 20 < stats["fault_reordered"] < 60
    assert len(late) == stats["fault_reordered"]
    assert set(late.values()) == {depth}                # (no two held back by the same frames)


def test_reordering_is_reproducible_from_the_seed():
    query = "reorder=0.05&reorder_depth=4&seed="
    assert run(query + "9")[0] == run(query + "9")[0] != run(query + "8")[0]


def test_hold_time_releases_a_frame_that_no_later_frames_pass():
    """Frames 1 ms apart, depth 1000, hold 2.5 ms: a reordered frame is
    overtaken by the two frames sent while it waits (one, when the second
    of them was held back too)."""
    seqs, stats = run("reorder=0.02&reorder_depth=1000&hold=2.5ms&seed=4", step_ns=1_000_000)
    assert sorted(seqs) == list(range(2000))
    late = lateness(seqs)
    assert len(late) == stats["fault_reordered"] > 20
    assert set(late.values()) <= {1, 2}
    assert sum(v == 2 for v in late.values()) > 0.8 * len(late)


def test_held_frames_are_bounded():
    """Every frame chosen, depth 1000: at most HOLD_MAX wait at once; the rest
    go through in order, and nothing is lost."""
    seqs, stats = run("reorder=1&reorder_depth=1000&hold=1s&seed=1", n=500)
    assert stats["held_before_tail"] <= HOLD_MAX
    assert sorted(seqs) == list(range(500))
    assert stats["fault_reordered"] >= HOLD_MAX


def test_reordering_behind_a_delay_line_counts_frames_as_they_leave_it():
    seqs, stats = run("delay=1ms&reorder=0.05&reorder_depth=3&hold=1s&seed=5", n=1000,
                      step_ns=500_000)
    assert sorted(seqs) == list(range(1000))
    late = lateness(seqs)
    assert len(late) == stats["fault_reordered"] > 20
    assert set(late.values()) == {3}


@pytest.mark.parametrize("bad", ["0", "1001", "x"])
def test_reorder_depth_is_checked(bad):
    with pytest.raises(ValueError, match="reorder_depth"):
        netchan.open_port(netchan.parse_port_uri(
            f"pair:{unique('bad')}?reorder=0.1&reorder_depth={bad}"))
