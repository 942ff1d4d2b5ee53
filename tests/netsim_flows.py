"""What the short-flow and reordering netsims share (tests/tcp/test_netsim_short.py,
test_netsim_reorder.py): seeded transfers between two stacks on a virtual clock,
a cell's summary over its seeds, and rewriting one section of docs/netsim.md."""
import hashlib
import statistics

import netchan
from conftest import unique
from helpers import pattern, pump_transfer


def transfer_flows(tag, query, recovery, size, flows, seed):
    """A fresh pair of stacks on `pair:NAME?QUERY` (the listening end, a,
    wrapped by the fault port the query asks for): `flows` connections one
    after the other, each moving `size` bytes client to server, checked byte
    for byte. Returns (completion seconds per flow, the client's stats, the
    server's stats); completion is virtual time from the first byte queued
    to the last byte read."""
    name = unique(tag)
    clock = netchan.VirtualClock()
    opts = dict(clock=clock, recovery=recovery)
    a = netchan.Stack(f"pair:{name}?{query}", ip="198.18.0.1/15", seed=1, **opts)
    b = netchan.Stack(f"pair:{name}", ip="198.18.0.2/15", seed=2, **opts)
    data = pattern(size, seed=seed)
    digest = hashlib.sha256(data).hexdigest()
    times = []
    try:
        listener = a.listen(9000)
        for _ in range(flows):
            client = b.connect(("198.18.0.1", 9000))
            server = listener.accept()
            start = clock.now_ns
            got_digest, got = pump_transfer(b, client, server, data)
            times.append((clock.now_ns - start) / 1e9)
            assert got == size and got_digest == digest, f"seed {seed}: bytes differ"
            client.close()
            server.close()
        return times, b.stats(), a.stats()
    finally:
        b.close()
        a.close()


def cell_summary(size, runs):
    """One cell over its seeds: runs = [(times, {counter: n})]; the counters
    summed, completion mean/p50/p90/max and goodput (MB/s) over all flows."""
    times = []
    total = dict.fromkeys(runs[0][1], 0) if runs else {}
    for t, counters in runs:
        times += t
        for k in total:
            total[k] += counters[k]
    times.sort()
    return dict(total, mean=statistics.fmean(times), p50=times[len(times) // 2],
                p90=times[int(len(times) * 0.9)], max=times[-1],
                goodput=size * len(times) / sum(times) / 1e6)


def rewrite_section(path, mark, lines):
    """Replace the section headed `mark` in the Markdown file (up to the next
    "## " heading) with `lines`, or append it; other sections stay."""
    text = open(path).read()
    at = text.find("\n" + mark)
    head = text[:at] if at >= 0 else text.rstrip("\n") + "\n"
    nxt = text.find("\n## ", at + 1) if at >= 0 else -1
    tail = text[nxt:] if nxt >= 0 else ""
    with open(path, "w") as f:
        f.write(head + "\n" + "\n".join(lines) + "\n" + tail)
