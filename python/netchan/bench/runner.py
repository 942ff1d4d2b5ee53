"""One turn of a mode on one stack: start the two ends, read the client's
intervals as they come, collect both results. Returns a plain dict that
report.py turns into text, JSON and plots."""
from __future__ import annotations

import os
import shutil

from netchan.bench import kernel as stock
from netchan.bench.links import BENCH_PORT
from netchan.bench.procs import (BenchError, free_tcp_port, result_of, spawn_role, stop,
                                 wait_ready)

ROLE_TIMEOUT_EXTRA = 60.0


def _base_cfg(args, mode):
    return {"mode": mode, "time": args.time, "warmup": args.warmup, "size": args.size,
            "flows": getattr(args, "flows", 1), "reverse": getattr(args, "reverse", False),
            "zerocopy": getattr(args, "zerocopy", False), "verify": getattr(args, "verify", False),
            "interval": args.interval, "window": args.window, "mtu": args.mtu,
            "busy_poll": getattr(args, "busy_poll", None),
            "busy_poll_mode": getattr(args, "busy_poll_mode", None),
            "kernel_cc": getattr(args, "kernel_cc", None)}


def _pair(server_role, client_role, scfg, ccfg, layout, cpus, what, on_interval,
          after_ready=None):
    timeout = scfg["time"] + scfg["warmup"] + ROLE_TIMEOUT_EXTRA
    server = spawn_role(server_role, scfg, layout.server_place, cpus[0])
    client = None
    try:
        info = wait_ready(server, f"{what} server")
        if after_ready:
            after_ready(info, ccfg)
        client = spawn_role(client_role, ccfg, layout.client_place, cpus[1])
        wait_ready(client, f"{what} client")
        c = result_of(client, f"{what} client", timeout, on_interval)
        s = result_of(server, f"{what} server", 30.0 + (timeout if scfg["mode"] == "pps" else 0))
        return s, c
    finally:
        stop(client)
        stop(server)


# ---- netchan's turn ------------------------------------------------------------------

def netchan_turn(args, mode, layout, cpus, on_interval=None):
    cfg = _base_cfg(args, mode)
    cfg["port"] = BENCH_PORT
    scfg = dict(cfg, stack=layout.server_stack, uri=layout.server_uri, ip=layout.server_ip)
    ccfg = dict(cfg, stack="netchan", uri=layout.client_uri, ip=layout.client_ip,
                peer=layout.peer_addr)
    if layout.server_stack == "kernel":
        scfg["zerocopy"] = False
    if mode == "pps":
        def give_mac(info, c):
            c["dst_mac"] = info["mac"]
        # the receiver listens first; the sender learns its MAC
        s, c = _pair("pps-rx", "pps-tx", scfg, ccfg, layout, cpus, "netchan pps",
                     on_interval, give_mac)
        return _pps_result(f"netchan {layout.link}", s, c, args)
    roles = ("server", "client") if mode == "stream" else ("rr-server", "rr-client")
    s, c = _pair(*roles, scfg, ccfg, layout, cpus, "netchan", on_interval)
    label = f"netchan {layout.link}"
    if mode == "stream":
        label += (f" (MTU {args.mtu}, " if args.mtu else " (") + \
            ("zero-copy views, every byte written and read" + _reader_note() if args.zerocopy
             else "sendall/recv_into") + ")"
        if layout.server_stack == "kernel":
            label += ", Linux peer"
    return _tcp_result(label, "netchan", mode, s, c, args)


def _reader_note():
    """'' when the receiver reads with numpy (stream.touch); else what it
    used, in the label: a run without numpy moves far less and must say so."""
    import importlib.util
    return "" if importlib.util.find_spec("numpy") else " with zlib.adler32: numpy is missing, slower"


# ---- the kernel's turn ---------------------------------------------------------------

def kernel_choice(args, mode):
    choice = args.kernel
    if choice == "auto":
        tool = stock.STOCK.get(mode)
        choice = "stock" if mode in ("stream", "pps") and tool and shutil.which(tool) \
            else "python"
    if choice in ("iperf3", "sockperf"):
        if stock.STOCK.get(mode) != choice:
            raise ValueError(f"--kernel {choice}: {mode} uses "
                             f"{stock.STOCK.get(mode) or 'no stock tool (use python)'}")
        choice = "stock"
    if choice == "stock" and mode not in stock.STOCK:
        raise ValueError(f"--kernel stock: {mode} has no stock tool in Debian "
                         f"(netperf is not packaged); use --kernel python")
    if mode == "pps" and choice == "python":
        raise ValueError("--kernel python: pps from Python would measure Python, not the "
                         "kernel; use --kernel stock (sockperf) or none")
    return choice


def _tcp(args):
    """'TCP cubic': the kernel's congestion control is part of what was measured."""
    cc = getattr(args, "kernel_cc", None)
    if not cc:
        try:
            with open("/proc/sys/net/ipv4/tcp_congestion_control") as f:
                cc = f.read().strip()
        except OSError:
            return "TCP"
    return f"TCP {cc}"


def kernel_turn(args, mode, layout, cpus, choice, on_interval=None):
    port = free_tcp_port()
    addr = layout.kernel_server_addr
    kcfg = dict(_base_cfg(args, mode), zerocopy=False)
    if choice == "stock":
        tool = stock.STOCK[mode]
        if mode == "stream":
            j = stock.iperf3(layout.server_place, layout.client_place, addr, port, kcfg, cpus)
            return _iperf3_result(f"{layout.kernel_label} {_tcp(args)} (iperf3 -l {_size(args.size)})",
                                  j, args)
        if mode == "rr":
            r = stock.sockperf_rr(layout.server_place, layout.client_place, addr, port, kcfg,
                                  cpus)
            return dict(r, label=f"{layout.kernel_label} {_tcp(args)} (sockperf ping-pong, C; "
                                 f"round trip = 2 x its half)", stack="kernel", tool=tool,
                        transactions_per_second=r["transactions"] / r["seconds"],
                        intervals=[], cpu_utilization_percent=None)
        r = stock.sockperf_pps(layout.server_place, layout.client_place, addr, port, kcfg, cpus)
        return _pps_numbers(dict(r, label=f"{layout.kernel_label} UDP, {args.size - 46} B "
                                          f"payload = {args.size} B frames (sockperf "
                                          f"throughput, sender's rate)",
                                 stack="kernel", tool=tool, intervals=[]), args)
    cfg = dict(kcfg, stack="kernel", port=port)
    scfg = dict(cfg, ip=addr)
    ccfg = dict(cfg, ip=layout.kernel_client_ip, peer=addr)
    roles = ("server", "client") if mode == "stream" else ("rr-server", "rr-client")
    s, c = _pair(*roles, scfg, ccfg, layout, cpus, "kernel", on_interval)
    what = {"stream": f"(Python sockets, {_size(args.size)} sendall/recv_into)",
            "rr": "(Python blocking sockets, the same loop)",
            "crr": "(Python blocking sockets, the same loop)"}[mode]
    return _tcp_result(f"{layout.kernel_label} {_tcp(args)} {what}", "kernel", mode, s, c, args)


# ---- results -------------------------------------------------------------------------

def _size(n):
    for unit, k in (("M", 1 << 20), ("K", 1 << 10)):
        if n >= k and n % k == 0:
            return f"{n // k}{unit}"
    return f"{n} B"


def _cpu_pct(r, seconds):
    if not seconds:
        return 0.0, 0.0, 0.0
    u, s = r.get("cpu_user", 0.0) * 100 / seconds, r.get("cpu_sys", 0.0) * 100 / seconds
    return u + s, u, s


def _tcp_result(label, stack, mode, s, c, args):
    if mode == "stream":
        sender, receiver = (s, c) if args.reverse else (c, s)
        secs = receiver["seconds"] or 1e-9
        out = {"label": label, "stack": stack, "tool": "netchan.bench",
               "sent": {"bytes": sender["bytes"], "seconds": sender["seconds"],
                        "retransmits": sender.get("retransmits"),
                        "stream_bytes": sender.get("stream_bytes")},
               "received": {"bytes": receiver["bytes"], "seconds": secs,
                            "stream_bytes": receiver.get("stream_bytes")},
               "bits_per_second": receiver["bytes"] * 8 / secs,
               "intervals": c.get("intervals", []),
               "client": c, "server": s}
        if sender.get("sha256") or receiver.get("sha256"):
            out["sha256"] = {"sent": sender.get("sha256"), "received": receiver.get("sha256"),
                             "match": sender.get("sha256") == receiver.get("sha256")}
        cs = c["seconds"] or secs
        out["cpu"] = {"client": _cpu_pct(c, cs), "server": _cpu_pct(s, s["seconds"] or cs)}
        return out
    secs = c["seconds"] or 1e-9
    return {"label": label, "stack": stack, "tool": "netchan.bench",
            "transactions": c["transactions"], "seconds": c["seconds"],
            "transactions_per_second": c["transactions"] / secs, "errors": c.get("errors", 0),
            "latency_us": c["latency_us"], "intervals": c.get("intervals", []),
            "cpu": {"client": _cpu_pct(c, secs), "server": _cpu_pct(s, secs)}}


def _iperf3_result(label, j, args):
    end = j["end"]
    out = {"label": label, "stack": "kernel", "tool": "iperf3", "iperf3": j,
           "sent": {"bytes": end["sum_sent"]["bytes"], "seconds": end["sum_sent"]["seconds"],
                    "retransmits": end["sum_sent"].get("retransmits")},
           "received": {"bytes": end["sum_received"]["bytes"],
                        "seconds": end["sum_received"]["seconds"]},
           "bits_per_second": end["sum_received"]["bits_per_second"],
           "intervals": [{"start": i["sum"]["start"], "end": i["sum"]["end"],
                          "bytes": i["sum"]["bytes"], "retransmits": i["sum"].get("retransmits"),
                          "cwnd": [s.get("snd_cwnd") for s in i["streams"]
                                   if s.get("snd_cwnd") is not None]}
                         for i in j.get("intervals", []) if not i["sum"].get("omitted")]}
    cpu = end.get("cpu_utilization_percent", {})
    out["cpu"] = {"client": (cpu.get("host_total", 0.0), cpu.get("host_user", 0.0),
                             cpu.get("host_system", 0.0)),
                  "server": (cpu.get("remote_total", 0.0), cpu.get("remote_user", 0.0),
                             cpu.get("remote_system", 0.0))}
    return out


def _pps_numbers(r, args):
    secs = r["seconds"] or 1e-9
    pps = r["frames"] / secs
    r.update(frame_size=args.size, pps=pps, l2_bits_per_second=pps * args.size * 8,
             wire_bits_per_second=pps * (args.size + 20) * 8)
    return r


def _pps_result(label, s, c, args):
    r = {"label": label, "stack": "netchan", "tool": "netchan.bench",
         "frames": s["frames"], "seconds": s["seconds"], "sent_frames": c["frames"],
         "sent_seconds": c["seconds"], "ring_full": c["ring_full"], "no_buffer": c["no_buffer"],
         "rx_dropped": s.get("rx_dropped", 0), "intervals": c.get("intervals", []),
         "cpu": {"client": _cpu_pct(c, c["seconds"]), "server": _cpu_pct(s, s["seconds"])}}
    return _pps_numbers(r, args)


def cpus_of(args):
    if args.cpu is None:
        return (None, None)
    n = os.cpu_count() or 1
    for c in args.cpu:
        if not 0 <= c < n:
            raise ValueError(f"--cpu {c}: this machine has CPUs 0 to {n - 1}")
    return args.cpu if len(args.cpu) == 2 else (args.cpu[0], args.cpu[0])
