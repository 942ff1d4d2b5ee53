"""iperf3-shaped output: the text lines users read (intervals each second,
sender/receiver summary) and the -J document (start, intervals, end with
streams, sum_sent, sum_received, cpu_utilization_percent), with the field
names and units of iperf3 3.12. `socket` is the stream's id (netchan has
no file descriptors per connection)."""
from __future__ import annotations

import email.utils
import json
import os
import sys
import time

from netchan.iperf3 import protocol as P

RULE = "- " * 24 + "-"
BANNER = "-" * 59


def _scaled(value, base, units):
    i = 0
    while i + 1 < len(units) and value >= base:
        value /= base
        i += 1
    if value < 9.995:
        num = f"{value:4.2f}"
    elif value < 99.95:
        num = f"{value:4.1f}"
    else:
        num = f"{value:4.0f}"
    return f"{num} {units[i]}"


def fmt_bytes(n):
    """iperf3's adaptive bytes: powers of 1024, three significant digits."""
    return _scaled(float(n), 1024.0, ("Bytes", "KBytes", "MBytes", "GBytes", "TBytes"))


def fmt_rate(bits_per_second):
    """iperf3's adaptive rate: powers of 1000."""
    return _scaled(float(bits_per_second), 1000.0,
                   ("bits/sec", "Kbits/sec", "Mbits/sec", "Gbits/sec", "Tbits/sec"))


def _rate(nbytes, seconds):
    return nbytes * 8 / seconds if seconds > 0 else 0.0


def _label(sid):
    return "[SUM]" if sid is None else f"[{sid:3d}]"


def text_line(sid, start, end, nbytes, seconds, retransmits=None, cwnd=None, role=""):
    """One interval or summary line, column for column as iperf3 prints it."""
    line = (f"{_label(sid)} {start:6.2f}-{end:<6.2f} sec  {fmt_bytes(nbytes)}  "
            f"{fmt_rate(_rate(nbytes, seconds))}")
    if retransmits is not None and cwnd is not None:
        line += f"  {retransmits:3d}   {fmt_bytes(cwnd)}       "
    elif retransmits is not None:
        line += f"  {retransmits:3d}             "
    else:
        line += "                  "
    return (line + role).rstrip() if role else line


class Report:
    """Collects a test's output; prints text as it goes, or the JSON
    document at the end (-J)."""

    def __init__(self, as_json, out=None):
        self.as_json = as_json
        self.out = out or sys.stdout
        self.doc = {"start": {"connected": []}, "intervals": [], "end": {}}
        self.sender_local = True
        self.nstreams = 1

    def say(self, text=""):
        if not self.as_json:
            print(text, file=self.out, flush=True)

    # ---- start -------------------------------------------------------------

    def start(self, info: dict, params: P.TestParams, sender_local: bool):
        self.sender_local = sender_local
        self.nstreams = params.parallel
        now = time.time()
        self.doc["start"].update({
            "version": f"netchan iperf3 (protocol of iperf {P.VERSION})",
            "system_info": " ".join(os.uname()),
            "timestamp": {"time": email.utils.formatdate(now, usegmt=True), "timesecs": int(now)},
            **info,
            "test_start": {"protocol": "TCP", "num_streams": params.parallel,
                           "blksize": params.length, "omit": params.omit,
                           "duration": params.time, "bytes": 0, "blocks": 0,
                           "reverse": int(params.reverse), "tos": 0, "target_bitrate": 0},
        })

    def connected(self, s):
        self.doc["start"]["connected"].append({
            "socket": s.id, "local_host": s.local[0], "local_port": s.local[1],
            "remote_host": s.remote[0], "remote_port": s.remote[1]})
        self.say(f"[{s.id:3d}] local {s.local[0]} port {s.local[1]} connected to "
                 f"{s.remote[0]} port {s.remote[1]}")

    def header(self, summary=False):
        cols = "[ ID] Interval           Transfer     Bitrate"
        if self.sender_local:
            cols += "         Retr" if summary else "         Retr  Cwnd"
        self.say(cols)

    # ---- intervals -----------------------------------------------------------

    def interval(self, rows):
        if not self.doc["intervals"]:
            self.header()
        out = []
        for r in rows:
            r = {**r, "bits_per_second": _rate(r["bytes"], r["seconds"]), "omitted": False}
            out.append(r)
            self.say(text_line(r["socket"], r["start"], r["end"], r["bytes"], r["seconds"],
                               r.get("retransmits"), r.get("snd_cwnd")))
        first = out[0]
        total = sum(r["bytes"] for r in out)
        summ = {"start": first["start"], "end": first["end"], "seconds": first["seconds"],
                "bytes": total, "bits_per_second": _rate(total, first["seconds"])}
        if first["sender"]:
            summ["retransmits"] = sum(r.get("retransmits", 0) for r in out)
        summ.update(omitted=False, sender=first["sender"])
        if len(out) > 1:
            self.say(text_line(None, summ["start"], summ["end"], total, summ["seconds"],
                               summ.get("retransmits")))
        self.doc["intervals"].append({"streams": out, "sum": summ})

    # ---- end -------------------------------------------------------------------

    def end(self, local, remote, cpu_local, cpu_remote, congestion, show_both):
        """local: this side's streams (DataPhase.local_results plus max_snd_cwnd
        etc. on a sender); remote: {id: {bytes, retransmits, seconds}} from the
        peer's results. show_both: the client prints sender and receiver lines,
        the server only its own side (as iperf3 does)."""
        streams, sent, received = [], [], []
        for s in local:
            peer = remote.get(s["id"], {"bytes": 0, "retransmits": -1, "seconds": s["seconds"]})
            mine = self._side(s, s["bytes"], s["seconds"], s["retransmits"])
            theirs = self._side(s, peer["bytes"], peer["seconds"] or s["seconds"],
                                peer["retransmits"])
            snd, rcv = (mine, theirs) if self.sender_local else (theirs, mine)
            if "max_snd_cwnd" in s:
                snd.update({k: s[k] for k in ("max_snd_cwnd", "max_snd_wnd", "max_rtt",
                                              "min_rtt", "mean_rtt")})
            snd["sender"] = rcv["sender"] = self.sender_local
            rcv.pop("retransmits", None)
            streams.append({"sender": snd, "receiver": rcv})
            sent.append(snd)
            received.append(rcv)
        sum_sent = self._sum(sent, retransmits=True)
        sum_received = self._sum(received)
        host = dict(zip(("host_total", "host_user", "host_system"), cpu_local))
        peer = dict(zip(("remote_total", "remote_user", "remote_system"), cpu_remote))
        self.doc["end"] = {"streams": streams, "sum_sent": sum_sent, "sum_received": sum_received,
                           "cpu_utilization_percent": {**host, **peer},
                           ("sender_tcp_congestion" if self.sender_local
                            else "receiver_tcp_congestion"): congestion}
        # text
        self.say(RULE)
        self.header(summary=True)
        multi = len(streams) > 1
        for role, rows, total in (("sender", sent, sum_sent), ("receiver", received, sum_received)):
            local_side = (role == "sender") == self.sender_local
            if not (show_both or local_side):
                continue
            for r in rows:
                retr = r.get("retransmits") if self.sender_local and role == "sender" else None
                self.say(text_line(r["socket"], r["start"], r["end"], r["bytes"], r["seconds"],
                                   retr if retr is None or retr >= 0 else None, role=role))
            if multi:
                retr = total.get("retransmits") if self.sender_local and role == "sender" else None
                self.say(text_line(None, total["start"], total["end"], total["bytes"],
                                   total["seconds"], retr, role=role))

    @staticmethod
    def _side(s, nbytes, seconds, retransmits):
        return {"socket": s["id"], "start": 0, "end": seconds, "seconds": seconds,
                "bytes": nbytes, "bits_per_second": _rate(nbytes, seconds),
                "retransmits": retransmits}

    @staticmethod
    def _sum(rows, retransmits=False):
        secs = max((r["seconds"] for r in rows), default=0.0)
        total = sum(r["bytes"] for r in rows)
        out = {"start": 0, "end": secs, "seconds": secs, "bytes": total,
               "bits_per_second": _rate(total, secs)}
        if retransmits:
            known = [r["retransmits"] for r in rows if r.get("retransmits", -1) >= 0]
            out["retransmits"] = sum(known) if known else -1
        out["sender"] = rows[0]["sender"] if rows else True
        return out

    def error(self, message):
        self.doc["error"] = message
        if not self.as_json:
            print(f"iperf3: error - {message}", file=sys.stderr, flush=True)

    def finish(self):
        if self.as_json:
            print(json.dumps(self.doc, indent="\t"), file=self.out, flush=True)
