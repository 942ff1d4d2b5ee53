"""netchan iperf3 against stock iperf3 on one veth pair, beside the kernel
doing the same (docs/benchmarks.md, "netchan iperf3 on a veth pair"). Root.

    python3 tests/cli/iperf3_veth_bench.py [--time 5] [--runs 3]

Each run: stock `iperf3 -s` with the kernel's TCP in one namespace; in the
other, on the other veth end, first `netchan iperf3 -c` (afpacket), then
stock `iperf3 -c` with the kernel's TCP (the address moved onto the
interface for its turn and taken off again), forward and -R. Prints the
receiver's bit rate of each run and the median and min-max per case.
"""
import argparse
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(HERE) + "/tests", HERE + "/.."]

import linux_peer as lp  # noqa: E402

EXTRA = []                      # more netchan iperf3 options (--netchan-args)


def _gbit(doc):
    return doc["end"]["sum_received"]["bits_per_second"] / 1e9


def run(link, seconds, case):
    reverse = ["-R"] if case.endswith("-R") else []
    server = link.linux_proc("iperf3", "-s", "-1", "-B", lp.LINUX_IP, "--forceflush")
    server.wait_for("Server listening")
    if case.startswith("netchan"):
        proc = link.netchan_proc("-m", "netchan", "iperf3", "-c", lp.LINUX_IP, "-t", str(seconds),
                                 "-J", *reverse, *EXTRA, "--link", link.port(),
                                 "--ip", f"{lp.NETCHAN_IP}/{lp.PREFIX}")
        assert proc.finish(timeout=seconds + 60) == 0, proc.output()
        text = proc.output()
    else:
        dev = link.netchan_dev
        ns = ["ip", "netns", "exec", link.netchan_ns]
        lp.run(*ns, "ip", "addr", "add", f"{lp.NETCHAN_IP}/{lp.PREFIX}", "dev", dev)
        try:
            text = lp.run(*ns, "iperf3", "-c", lp.LINUX_IP, "-t", str(seconds), "-J", *reverse,
                          timeout=seconds + 60).stdout
        finally:
            lp.run(*ns, "ip", "addr", "del", f"{lp.NETCHAN_IP}/{lp.PREFIX}", "dev", dev)
            lp.run(*ns, "ip", "neigh", "flush", "dev", dev, check=False)
            link.linux("ip", "neigh", "flush", "dev", link.linux_dev, check=False)
    server.finish(timeout=30)
    return _gbit(json.loads(text[text.index("{"):text.rindex("}") + 1]))


def label(case):
    """forward/reverse first: output lines never start with "netchan" (docs
    treat such lines as commands)."""
    return ("reverse " if case.endswith("-R") else "forward ") + case.split()[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--time", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cases", default="netchan,kernel,netchan -R,kernel -R")
    ap.add_argument("--netchan-args", default="", help="e.g. '-w 4M'")
    args = ap.parse_args()
    EXTRA[:] = args.netchan_args.split()
    cases = args.cases.split(",")
    results = {c: [] for c in cases}
    link = lp.VethLink()
    link.setup()
    try:
        for i in range(args.runs):
            for c in cases:
                results[c].append(run(link, args.time, c))
                print(f"run {i + 1} {label(c):15s} {results[c][-1]:.2f} Gbit/s", flush=True)
    finally:
        link.close()
    for c in cases:
        v = results[c]
        print(f"{label(c):15s} median {statistics.median(v):.2f} Gbit/s, min-max "
              f"{min(v):.2f}-{max(v):.2f} ({', '.join(f'{x:.2f}' for x in v)})")


if __name__ == "__main__":
    main()
