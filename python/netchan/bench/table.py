"""The table of docs/benchmarks.md: every mode on every link, netchan and
the kernel, median and min-max of several runs, each cell made by one
`netchan bench ... --json` command (printed beside the table).

    python -m netchan.bench.table --runs 3 --time 5 [--links shm,memif,afpacket,...]

Links: shm and memif (two local processes; the kernel's turn on loopback);
afpacket, afpacket-rps (each host's receive work on its own CPU), xdp (netchan's own AF_XDP
port), dpdk-afpacket and dpdk-afxdp (--testbed: the Linux kernel in the
peer namespace; the kernel's turn on the same veth). The testbed ones need
root. A failing run is reported in its cell, not hidden."""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

MEMIF_SOCK = "/tmp/netchan-bench-memif-{pid}.sock"

LINKS = {
    "shm": [],
    "memif": ["--mtu", "1500", "--server-link", "dpdk:net_memif0,role=server,socket={sock}",
              "--client-link", "dpdk:net_memif0,role=client,socket={sock}"],
    "afpacket": ["--testbed"],
    "afpacket-rps": ["--testbed", "--rps"],
    "xdp": ["--testbed", "--link", "xdp:eth0"],
    "dpdk-afpacket": ["--testbed", "--link", "dpdk:net_af_packet0,iface=eth0"],
    "dpdk-afxdp": ["--testbed", "--link", "dpdk:net_af_xdp0,iface=eth0"],
}
MODES = {
    "stream": ["stream"],
    "stream -R": ["stream", "-R"],
    "rr": ["rr"],
    "crr": ["crr"],
    "pps": ["pps"],
}


def figure(mode, doc, side):
    """(value, unit text) of one side of one run's JSON."""
    if mode.startswith("stream"):
        d = doc if side == "netchan" else doc.get("kernel")
        return None if d is None else d["end"]["sum_received"]["bits_per_second"] / 1e9
    d = doc.get(side)
    if d is None:
        return None
    if mode in ("rr", "crr"):
        return d["transactions_per_second"]
    return d["pps"] / 1e6


def p50(mode, doc, side):
    if mode not in ("rr", "crr") or doc.get(side) is None:
        return None
    return doc[side]["latency_us"]["p50"]


def fmt(values, digits):
    values = [v for v in values if v is not None]
    if not values:
        return "—"
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:,.{digits}f}"
    return f"{med:,.{digits}f} ({min(values):,.{digits}f}–{max(values):,.{digits}f})"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m netchan.bench.table", description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--time", default="5")
    ap.add_argument("--links", default=",".join(LINKS))
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--raw", default=None, help="append every run's JSON to this file")
    a = ap.parse_args(argv)
    sock = MEMIF_SOCK.format(pid=os.getpid())
    rows = []
    for link in a.links.split(","):
        for mode in a.modes.split(","):
            extra = [x.format(sock=sock) for x in LINKS[link]]
            argv = ["netchan", "bench", *MODES[mode], "--time", a.time, *extra, "--json"]
            nc, k, nc50, k50, fails = [], [], [], [], []
            for _ in range(a.runs):
                out = subprocess.run([sys.executable, "-m", "netchan", *argv[1:]],
                                     capture_output=True, text=True, timeout=600)
                if out.returncode != 0 or not out.stdout.strip().startswith("{"):
                    fails.append((out.stderr.strip().splitlines() or ["?"])[-1])
                    continue
                doc = json.loads(out.stdout)
                if a.raw:
                    with open(a.raw, "a") as f:
                        f.write(json.dumps({"link": link, "mode": mode, "doc": doc}) + "\n")
                nc.append(figure(mode, doc, "netchan"))
                k.append(figure(mode, doc, "kernel"))
                nc50.append(p50(mode, doc, "netchan"))
                k50.append(p50(mode, doc, "kernel"))
                label = (doc.get("kernel") or {}).get("label", "")
            unit = {"stream": "Gbit/s", "stream -R": "Gbit/s", "rr": "trans/s",
                    "crr": "conn/s", "pps": "Mpps"}[mode]
            digits = 2 if unit in ("Gbit/s", "Mpps") else 0
            ratios = [x / y for x, y in zip(nc, k) if x and y]
            row = {"link": link, "mode": mode, "unit": unit, "netchan": fmt(nc, digits),
                   "kernel": fmt(k, digits), "ratio": fmt(ratios, 2),
                   "p50": (f"{fmt(nc50, 1)} / {fmt(k50, 1)}" if any(nc50) else ""),
                   "fails": fails, "command": " ".join(argv),
                   "kernel_label": label if nc else ""}
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print("| link | mode | netchan | kernel | ratio | p50 µs netchan / kernel | kernel side |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        nc = r["netchan"] + f" {r['unit']}" if r["netchan"] != "—" else "—"
        if r["fails"]:
            nc += f" ({len(r['fails'])} of {a.runs} runs failed: {r['fails'][0]})"
        print(f"| {r['link']} | {r['mode']} | {nc} | {r['kernel']} | {r['ratio']}× | "
              f"{r['p50']} | {r['kernel_label']} |")
    print()
    for r in rows:
        print(f"- {r['link']}, {r['mode']}: `{r['command']}`")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
