"""Blocking steps on the control connection, for the phases where nothing
else happens (before the streams run and after): wait for a state byte or a
JSON message, with a deadline, optionally draining the data streams
meanwhile (a peer that is still sending must never stall)."""
from __future__ import annotations

import time

from netchan.iperf3 import protocol as P

POLL = 0.05                     # seconds between drains while waiting


def _fill(ctrl, reader, deadline, idle):
    left = deadline - time.monotonic()
    if left <= 0:
        raise P.ProtocolError("timed out waiting for the peer on the control connection")
    ctrl.settimeout(min(left, POLL) if idle else left)
    try:
        data = ctrl.recv(65536)
    except TimeoutError:
        if idle:
            idle()
        return
    if not data:
        raise P.ProtocolError("the peer closed the control connection")
    reader.feed(data)


def await_state(ctrl, reader, timeout, idle=None):
    deadline = time.monotonic() + timeout
    while (state := reader.state()) is None:
        _fill(ctrl, reader, deadline, idle)
    return state


def await_json(ctrl, reader, timeout, idle=None):
    deadline = time.monotonic() + timeout
    while (obj := reader.json()) is None:
        _fill(ctrl, reader, deadline, idle)
    return obj


def await_bytes(conn, n, timeout):
    """Exactly n bytes (a cookie); ProtocolError on EOF or the deadline."""
    deadline = time.monotonic() + timeout
    got = b""
    while len(got) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise P.ProtocolError(f"timed out after {len(got)} of {n} bytes")
        conn.settimeout(left)
        try:
            chunk = conn.recv(n - len(got))
        except TimeoutError:
            continue
        if not chunk:
            raise P.ProtocolError(f"connection closed after {len(got)} of {n} bytes")
        got += chunk
    return got


def await_error(ctrl, reader, timeout):
    """The (iperf3 error, errno) pair after SERVER_ERROR."""
    deadline = time.monotonic() + timeout
    while (err := reader.error()) is None:
        _fill(ctrl, reader, deadline, None)
    return err


def refusal(state, ctrl, reader, timeout):
    """The message for a state that ends the test from the server's side."""
    if state == P.ACCESS_DENIED:
        return "the server is busy running a test. try again later"
    if state == P.SERVER_ERROR:
        try:
            ie, errno = await_error(ctrl, reader, timeout)
        except P.ProtocolError:
            return "the server reported an error"
        what = {P.IE_UNIMPLEMENTED: "not implemented (netchan and iperf3 run TCP tests)",
                P.IE_NUM_STREAMS: "too many parallel streams",
                P.IE_BLOCK_SIZE: "block size too large"}.get(ie, "see the server's output")
        return f"the server refused the test: iperf3 error {ie} ({what}), errno {errno}"
    if state == P.SERVER_TERMINATE:
        return "the server has terminated"
    if state == P.CLIENT_TERMINATE:
        return "the client has terminated"
    return f"unexpected state {state} ({P.STATE_NAMES.get(state, 'unknown')}) from the peer"
