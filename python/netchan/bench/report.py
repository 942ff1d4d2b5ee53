"""What `netchan bench` shows: iperf3-style interval lines and summaries
(plain text, or a rich live table on a terminal), the JSON document
(iperf3's schema for stream, a documented one for rr/crr/pps) and the
--plot PNG."""
from __future__ import annotations

import sys
import time

SCHEMA_VERSION = 1


# ---- numbers as iperf3 prints them ------------------------------------------------

def fmt_bytes(n):
    for unit, k in (("GBytes", 1 << 30), ("MBytes", 1 << 20), ("KBytes", 1 << 10)):
        if n >= k:
            return f"{n / k:6.2f} {unit}"
    return f"{n:6.0f} Bytes"


def fmt_bits(bps):
    for unit, k in (("Gbits/sec", 1e9), ("Mbits/sec", 1e6), ("Kbits/sec", 1e3)):
        if bps >= k:
            return f"{bps / k:7.2f} {unit}"
    return f"{bps:7.0f} bits/sec"


def fmt_rate(pps):
    return f"{pps / 1e6:7.3f} Mpps" if pps >= 1e5 else f"{pps:9,.0f} pps"


def interval_cells(mode, ev):
    """The columns of one interval line (COLUMNS names them)."""
    span = f"{ev['start']:6.2f}-{ev['end']:<6.2f} sec"
    secs = max(ev["end"] - ev["start"], 1e-9)
    if mode == "stream":
        cwnd = ev.get("cwnd") or []
        rtx = ev.get("retransmits")
        return [span, fmt_bytes(ev["bytes"]), fmt_bits(ev["bytes"] * 8 / secs),
                f"{rtx if rtx is not None else '-':>5}",
                fmt_bytes(sum(cwnd)) if cwnd else "     -"]
    if mode in ("rr", "crr"):
        return [span, f"{ev['transactions'] / secs:10,.0f}/s", f"{ev['p50_us']:8.1f} us",
                f"{ev['p99_us']:8.1f} us"]
    return [span, fmt_rate(ev["frames"] / secs), f"{ev['ring_full']:,}", f"{ev['no_buffer']:,}"]


COLUMNS = {
    "stream": ["Interval", "Transfer", "Bitrate", "Retr", "Cwnd"],
    "rr": ["Interval", "Transactions", "p50 round trip", "p99 round trip"],
    "crr": ["Interval", "Connections", "p50 connect-close", "p99 connect-close"],
    "pps": ["Interval", "Frames sent", "Ring full", "No buffer"],
}


def interval_line(mode, ev):
    cells = interval_cells(mode, ev)
    if mode == "stream":
        return "[SUM] " + "  ".join(cells[:2]) + "  " + cells[2] + "  " + cells[3] + "   " + cells[4]
    if mode in ("rr", "crr"):
        return f"      {cells[0]}  {cells[1]}   p50 {cells[2]}   p99 {cells[3]}"
    return f"      {cells[0]}  {cells[1]} sent   ring full {cells[2]}   no buffer {cells[3]}"


HEADINGS = {
    "stream": "[ ID] Interval           Transfer     Bitrate         Retr   Cwnd",
    "rr": "      Interval           Transactions/s     latency (round trip)",
    "crr": "      Interval           Connections/s      latency (connect to close)",
    "pps": "      Interval           Frames sent (the sender's rate)",
}


def summary_lines(mode, r):
    out = []
    if mode == "stream":
        sent, recv = r["sent"], r["received"]
        sbps = sent["bytes"] * 8 / (sent["seconds"] or 1e-9)
        rtx = sent.get("retransmits")
        rs = recv["seconds"]
        out.append(f"[SUM]   0.00-{sent['seconds']:<6.2f} sec  {fmt_bytes(sent['bytes'])}  "
                   f"{fmt_bits(sbps)}  {rtx if rtx is not None else '-':>5}             sender")
        out.append(f"[SUM]   0.00-{rs:<6.2f} sec  {fmt_bytes(recv['bytes'])}  "
                   f"{fmt_bits(r['bits_per_second'])}                  receiver")
        c, s = r["cpu"]["client"], r["cpu"]["server"]
        out.append(f"CPU Utilization: client {c[0]:.1f}% ({c[1]:.1f}%u/{c[2]:.1f}%s), "
                   f"server {s[0]:.1f}% ({s[1]:.1f}%u/{s[2]:.1f}%s)")
        if r.get("sha256"):
            out.append("sha256 " + ("match: " + ", ".join(r["sha256"]["sent"])
                                    if r["sha256"]["match"]
                                    else f"MISMATCH: sent {r['sha256']['sent']}, received "
                                         f"{r['sha256']['received']}"))
    elif mode in ("rr", "crr"):
        lat = r["latency_us"]
        what = "transactions" if mode == "rr" else "connections"
        out.append(f"{r['transactions']:,} {what} in {r['seconds']:.2f} s: "
                   f"{r['transactions_per_second']:,.0f}/s"
                   + (f", {r['errors']} errors" if r.get("errors") else ""))
        out.append("latency us: " + "  ".join(
            f"{k.replace('_', '.')} {v:.1f}" for k, v in lat.items() if v is not None))
        if r.get("cpu"):
            c, s = r["cpu"]["client"], r["cpu"]["server"]
            out.append(f"CPU Utilization: client {c[0]:.1f}%, server {s[0]:.1f}%")
    else:
        out.append(f"{r['frames']:,} frames of {r['frame_size']} B {'received' if r['stack'] == 'netchan' else 'sent'} in "
                   f"{r['seconds']:.2f} s: {fmt_rate(r['pps'])}, L2 "
                   f"{fmt_bits(r['l2_bits_per_second']).strip()}, wire (+20 B a frame) "
                   f"{fmt_bits(r['wire_bits_per_second']).strip()}")
        if r["stack"] == "netchan":
            out.append(f"sent {r['sent_frames']:,} in {r['sent_seconds']:.2f} s, refused "
                       f"(ring full) {r['ring_full']:,}, bursts without a buffer "
                       f"{r['no_buffer']:,}, dropped at the receiver {r['rx_dropped']:,}")
            c, s = r["cpu"]["client"], r["cpu"]["server"]
            out.append(f"CPU Utilization: sender {c[0]:.1f}%, receiver {s[0]:.1f}%")
    return out


def headline(mode, r):
    """The one figure of a result: what the ratio divides."""
    if mode == "stream":
        return r["bits_per_second"]
    if mode in ("rr", "crr"):
        return r["transactions_per_second"]
    return r["pps"]


def ratio(mode, nc, kr):
    if not kr or not headline(mode, kr):
        return None
    return headline(mode, nc) / headline(mode, kr)


def ratio_line(mode, r, nc, kr):
    what = {"stream": "throughput", "rr": "transactions/s", "crr": "connections/s",
            "pps": "frames/s"}[mode]
    line = f"ratio netchan/kernel: {r:.2f}x {what}"
    if mode in ("rr", "crr") and kr.get("latency_us", {}).get("p50"):
        line += f"; p50 {nc['latency_us']['p50']:.1f} vs {kr['latency_us']['p50']:.1f} us"
    return line


# ---- display while running ---------------------------------------------------------

class Display:
    """Interval lines as they arrive: a rich live table on a terminal,
    plain lines otherwise, nothing with --json."""

    def __init__(self, mode, quiet):
        self.mode, self.quiet = mode, quiet
        self.rich = None
        if not quiet and sys.stdout.isatty():
            try:
                import rich.console  # noqa: F401
                self.rich = True
            except ImportError:
                self.rich = None
        self.live = None

    def begin(self, what, seconds):
        if self.quiet:
            return
        if self.rich:
            from rich.console import Console
            from rich.live import Live
            from rich.table import Table
            self.console = Console()
            self.console.print(f"[bold]{what}[/bold]")
            self.table = Table(*COLUMNS[self.mode], box=None, show_edge=False)
            self.t0, self.seconds = time.monotonic(), seconds
            self.live = Live(self.table, console=self.console, refresh_per_second=4,
                             transient=False, get_renderable=self._render)
            self.live.start()
        else:
            print(what, flush=True)
            print(HEADINGS[self.mode], flush=True)

    def _render(self):
        # the table so far, and how far the turn is (warm-up and start-up included)
        from rich.console import Group
        from rich.text import Text
        ran = time.monotonic() - self.t0
        return Group(self.table, Text(f"running: {ran:5.1f} s of {self.seconds:g} s measured",
                                      style="dim"))

    def interval(self, ev):
        if self.quiet:
            return
        if self.live is not None:
            self.table.add_row(*interval_cells(self.mode, ev))
        else:
            print(interval_line(self.mode, ev), flush=True)

    def end(self, result):
        if self.quiet:
            return
        if self.live is not None:
            self.live.stop()
            self.live = None
        print("- " * 30)
        print(result["label"])
        for line in summary_lines(self.mode, result):
            print(line)
        print(flush=True)

    def abort(self):
        if self.live is not None:
            self.live.stop()
            self.live = None


# ---- JSON ----------------------------------------------------------------------------

def _sum(start, end, nbytes, retransmits=None, sender=True):
    secs = end - start
    d = {"start": start, "end": end, "seconds": secs, "bytes": nbytes,
         "bits_per_second": nbytes * 8 / secs if secs > 0 else 0.0, "sender": sender}
    if retransmits is not None:
        d["retransmits"] = retransmits
    return d


def _end_streams(sent, recv):
    """iperf3's end.streams: per connection, what its sender sent and its
    receiver received ("socket" numbers the connections from 1)."""
    out = []
    for k, (sb, rb) in enumerate(zip(sent.get("stream_bytes") or [],
                                     recv.get("stream_bytes") or [])):
        snd = _sum(0.0, sent["seconds"], sb)
        rcv = _sum(0.0, recv["seconds"], rb, sender=False)
        snd["socket"] = rcv["socket"] = k + 1
        out.append({"sender": snd, "receiver": rcv})
    return out


def iperf3_doc(r, args, layout, peer):
    """A stream result in iperf3's -J shape (start, intervals, end)."""
    if r.get("iperf3"):
        return dict(r["iperf3"], label=r["label"])
    now = time.time()
    sent, recv = r["sent"], r["received"]
    intervals = []
    for ev in r["intervals"]:
        s = _sum(ev["start"], ev["end"], ev["bytes"], ev.get("retransmits"),
                 sender=not args.reverse)
        s["omitted"] = False
        if ev.get("cwnd"):
            s["snd_cwnd"] = sum(ev["cwnd"])
        streams = []
        for k, nbytes in enumerate(ev.get("stream_bytes") or []):
            st = _sum(ev["start"], ev["end"], nbytes, sender=not args.reverse)
            st.update(socket=k + 1, omitted=False)
            streams.append(st)
        intervals.append({"streams": streams, "sum": s})
    c, s = r["cpu"]["client"], r["cpu"]["server"]
    return {
        "label": r["label"],
        "start": {"version": "netchan bench", "system_info": " ".join(__import__("os").uname()),
                  "timestamp": {"time": time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                                      time.gmtime(now)), "timesecs": int(now)},
                  "connecting_to": {"host": peer, "port": 5201},
                  "link": layout.link, "stack": r["stack"],
                  "zerocopy": bool(getattr(args, "zerocopy", False)) and r["stack"] == "netchan",
                  **({"busy_poll": args.busy_poll, "busy_poll_mode": args.busy_poll_mode}
                     if r["stack"] == "netchan" else {}),
                  "test_start": {"protocol": "TCP", "num_streams": args.flows,
                                 "blksize": args.size, "omit": args.warmup, "duration": args.time,
                                 "bytes": 0, "blocks": 0, "reverse": int(args.reverse)}},
        "intervals": intervals,
        "end": {"streams": _end_streams(sent, recv),
                "sum_sent": _sum(0.0, sent["seconds"], sent["bytes"], sent.get("retransmits")),
                "sum_received": _sum(0.0, recv["seconds"], recv["bytes"], sender=False),
                "cpu_utilization_percent": {"host_total": c[0], "host_user": c[1],
                                            "host_system": c[2], "remote_total": s[0],
                                            "remote_user": s[1], "remote_system": s[2]},
                **({"sha256": r["sha256"]} if r.get("sha256") else {})},
    }


def _plain(r):
    """A rr/crr/pps result for JSON: the documented keys only."""
    if r is None:
        return None
    out = {k: v for k, v in r.items() if k not in ("client", "server", "cpu")}
    if r.get("cpu"):
        out["cpu_utilization_percent"] = {"client": r["cpu"]["client"][0],
                                          "server": r["cpu"]["server"][0]}
    return out


def to_json(mode, args, layout, nc, kr):
    rt = ratio(mode, nc, kr)
    head = {"schema": f"netchan-bench-{mode}/{SCHEMA_VERSION}", "mode": mode,
            "link": layout.link, "ratio": rt}
    if mode == "stream":
        doc = iperf3_doc(nc, args, layout, layout.peer_addr)
        doc.update(head)
        doc["kernel"] = iperf3_doc(kr, args, layout, layout.kernel_server_addr) if kr else None
        return doc
    return dict(head, netchan=_plain(nc), kernel=_plain(kr))


# ---- plot ----------------------------------------------------------------------------

def plot(path, mode, nc, kr):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4.5))

    def series(r):
        xs, ys, y2 = [], [], []
        for ev in r.get("intervals") or []:
            secs = max(ev["end"] - ev["start"], 1e-9)
            xs.append(ev["end"])
            if mode == "stream":
                ys.append(ev["bytes"] * 8 / secs / 1e9)
            elif mode in ("rr", "crr"):
                ys.append(ev["p50_us"])
                y2.append(ev["p99_us"])
            else:
                ys.append(ev["frames"] / secs / 1e6)
        return xs, ys, y2

    unit = {"stream": "Gbit/s", "rr": "round trip, us", "crr": "connect to close, us",
            "pps": "Mpps (sent)"}[mode]
    for r, color in ((nc, "tab:blue"), (kr, "tab:orange")):
        if r is None:
            continue
        xs, ys, y2 = series(r)
        name = "netchan" if r["stack"] == "netchan" else (
            "kernel" if r.get("tool") == "netchan.bench" else f"kernel ({r.get('tool')})")
        if xs:
            ax.plot(xs, ys, marker="o", color=color, label=f"{name} p50" if y2 else name)
            if y2:
                ax.plot(xs, y2, ls="--", color=color, label=f"{name} p99")
        else:
            # a stock tool without a time series: its mean as a line
            val = headline(mode, r)
            if mode == "stream":
                val /= 1e9
            elif mode in ("rr", "crr"):
                val = r["latency_us"]["p50"]
            else:
                val /= 1e6
            ax.axhline(val, color=color, ls=":", label=f"{name} (mean of the run)")
    ax.set_xlabel("seconds")
    ax.set_ylabel(unit)
    ax.set_ylim(bottom=0)
    ax.set_title(f"netchan bench {mode}: {nc['label']}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
