"""`netchan bench pps`: 64-byte frames through the port layer alone, no
IP or TCP (testpmd's txonly -> rxonly): the link's packet ceiling.

One process floods copies of one frame through its port
(netchan._core.port_flood: a C loop without the GIL), the other receives
and frees them (port_drain); both call the loop once per interval slice.
The frames carry EtherType 0x88B5 (IEEE local experimental), which a Linux
peer's stack ignores. The rate that counts is the receiver's; the sender's
refused frames (ring full) and empty pools are reported beside it."""
from __future__ import annotations

import struct
import time

from netchan.bench.procs import cpu_times, emit
from netchan.bench.stream import emit_ready

ETHERTYPE_EXPERIMENTAL = 0x88B5
FCS = 4            # counted in a frame's size (testpmd's and the wire's), not sent by a port
WIRE_OVERHEAD = 20  # preamble, SFD and inter-frame gap


def frame_for(dst_mac, src_mac, size):
    mac = lambda m: bytes(int(x, 16) for x in m.split(":"))  # noqa: E731
    body = mac(dst_mac) + mac(src_mac) + struct.pack("!H", ETHERTYPE_EXPERIMENTAL)
    return body + bytes(size - FCS - len(body))


def _open(cfg):
    import netchan
    return netchan.open_port(netchan.parse_port_uri(cfg["uri"]), mtu=cfg.get("mtu"))


def _wait_link(port, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not port.link_up:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{port.uri}: the link never came up")
        time.sleep(0.005)


def run_rx(cfg):
    from netchan._core import port_drain
    port = _open(cfg)
    try:
        emit_ready(mac=port.mac)
        _wait_link(port, 30)
        slice_s = min(cfg.get("interval", 1.0), 0.1)
        give_up = time.monotonic() + cfg["warmup"] + cfg["time"] + 30
        slices = []             # (end time, frames, bytes)
        seen = False
        t0 = time.perf_counter()
        u0, s0 = cpu_times()
        while time.monotonic() < give_up:
            frames, nbytes, _ = port_drain(port, slice_s)
            now = time.perf_counter()
            if frames:
                seen = True
                slices.append((now - t0, frames, nbytes))
            elif seen:
                break           # the sender stopped
        u1, s1 = cpu_times()
        # the measured period: from the first frame plus the warm-up to the last frame
        if slices:
            first = slices[0][0] - slice_s
            start = first + cfg["warmup"]
            kept = [s for s in slices if s[0] > start] or slices[-1:]
            begin = max(start, kept[0][0] - slice_s)
            seconds = kept[-1][0] - begin
            frames = sum(s[1] for s in kept)
            nbytes = sum(s[2] for s in kept)
        else:
            seconds, frames, nbytes = 0.0, 0, 0
        st = port.stats()
        emit(event="result", frames=frames, bytes=nbytes, seconds=seconds,
             cpu_user=u1 - u0, cpu_sys=s1 - s0, rx_dropped=st.get("rx_dropped", 0),
             series=[[round(t, 3), f] for t, f, _ in slices])
    finally:
        port.close()


def run_tx(cfg):
    from netchan._core import port_flood
    port = _open(cfg)
    try:
        emit_ready(mac=port.mac)
        _wait_link(port, 30)
        frame = frame_for(cfg["dst_mac"], port.mac, cfg["size"])
        interval = cfg.get("interval", 1.0)
        if cfg["warmup"] > 0:
            port_flood(port, frame, cfg["warmup"])
        u0, s0 = cpu_times()
        t0 = time.perf_counter()
        sent = refused = empty = 0
        elapsed = 0.0
        while elapsed < cfg["time"] - 1e-9:
            step = min(interval, cfg["time"] - elapsed)
            a, b, c = port_flood(port, frame, step)
            now = time.perf_counter() - t0
            emit(event="interval", start=round(elapsed, 6), end=round(now, 6), frames=a,
                 ring_full=b, no_buffer=c)
            sent, refused, empty, elapsed = sent + a, refused + b, empty + c, now
        u1, s1 = cpu_times()
        st = port.stats()
        emit(event="result", frames=sent, seconds=elapsed, ring_full=refused, no_buffer=empty,
             tx_dropped=st.get("tx_dropped", 0), cpu_user=u1 - u0, cpu_sys=s1 - s0)
    finally:
        port.close()
