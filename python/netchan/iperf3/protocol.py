"""iperf3's control protocol, without I/O: the pieces both roles share.

What goes over the control connection (verified byte for byte against the
stock iperf3 3.12 binary on loopback):

    client -> server   cookie: 36 characters of [a-z2-7], then NUL (37 bytes)
    server -> client   PARAM_EXCHANGE (one signed byte, 9)
    client -> server   the test's parameters: JSON with a 4-byte big-endian length
    server -> client   CREATE_STREAMS (10)
    client -> server   opens each data connection, whose first 37 bytes are the cookie
    server -> client   TEST_START (1), TEST_RUNNING (2)      ... data flows ...
    client -> server   TEST_END (4) once the time is up
    server -> client   EXCHANGE_RESULTS (13)
    client -> server   its results (length-prefixed JSON); then the server sends its own
    server -> client   DISPLAY_RESULTS (14)
    client -> server   IPERF_DONE (16)

A busy server answers a second client with ACCESS_DENIED (-1); a server that
refuses a test sends SERVER_ERROR (-2) and two big-endian int32: iperf3's
error number and an errno. Stream ids are 1, 3, 4, 5, ... (iperf3 skips 2).
"""
from __future__ import annotations

import json
import secrets
import struct
from dataclasses import dataclass

TEST_START = 1
TEST_RUNNING = 2
TEST_END = 4
PARAM_EXCHANGE = 9
CREATE_STREAMS = 10
SERVER_TERMINATE = 11
CLIENT_TERMINATE = 12
EXCHANGE_RESULTS = 13
DISPLAY_RESULTS = 14
IPERF_DONE = 16
ACCESS_DENIED = -1
SERVER_ERROR = -2

STATE_NAMES = {
    TEST_START: "TEST_START", TEST_RUNNING: "TEST_RUNNING", TEST_END: "TEST_END",
    PARAM_EXCHANGE: "PARAM_EXCHANGE", CREATE_STREAMS: "CREATE_STREAMS",
    SERVER_TERMINATE: "SERVER_TERMINATE", CLIENT_TERMINATE: "CLIENT_TERMINATE",
    EXCHANGE_RESULTS: "EXCHANGE_RESULTS", DISPLAY_RESULTS: "DISPLAY_RESULTS",
    IPERF_DONE: "IPERF_DONE", ACCESS_DENIED: "ACCESS_DENIED", SERVER_ERROR: "SERVER_ERROR",
}

# iperf3's error numbers that a netchan server sends with SERVER_ERROR
IE_UNIMPLEMENTED = 13           # "not implemented yet" (UDP, SCTP, bidirectional, ...)
IE_NUM_STREAMS = 6              # "number of parallel streams too large"
IE_BLOCK_SIZE = 7               # "block size too large"

COOKIE_SIZE = 37
COOKIE_CHARS = "abcdefghijklmnopqrstuvwxyz234567"
MAX_JSON = 1 << 20              # a longer message is a broken or hostile peer
MAX_STREAMS = 128
MAX_BLOCK = 1 << 20             # iperf3's MAX_BLOCKSIZE for TCP
DEFAULT_PORT = 5201
DEFAULT_BLOCK = 128 * 1024      # iperf3's default -l for TCP
VERSION = "3.12"                # the client_version netchan announces (the protocol it speaks)


class ProtocolError(Exception):
    """The peer broke the protocol (or refused the test): one line for the user."""


def make_cookie() -> bytes:
    return "".join(secrets.choice(COOKIE_CHARS) for _ in range(COOKIE_SIZE - 1)).encode() + b"\0"


def check_cookie(data: bytes) -> bytes:
    """The cookie itself; ProtocolError unless it is 36 cookie characters and NUL."""
    if (len(data) != COOKIE_SIZE or data[-1] != 0
            or any(chr(c) not in COOKIE_CHARS for c in data[:-1])):
        raise ProtocolError(f"bad cookie {data[:COOKIE_SIZE]!r}: not an iperf3 client")
    return data


def state_byte(state: int) -> bytes:
    return struct.pack("b", state)


def encode_json(obj) -> bytes:
    """A JSON message: 4-byte big-endian length, then compact UTF-8 text."""
    text = json.dumps(obj, separators=(",", ":")).encode()
    return struct.pack(">I", len(text)) + text


def server_error(ie: int, errno: int = 0) -> bytes:
    return state_byte(SERVER_ERROR) + struct.pack(">ii", ie, errno)


class ControlReader:
    """Reassembles what arrives on the control connection, whatever its
    chunking: state bytes, length-prefixed JSON, the error after SERVER_ERROR."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data) -> None:
        self.buf += data

    def take(self, n: int):
        """n raw bytes, or None while fewer have arrived."""
        if len(self.buf) < n:
            return None
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def state(self):
        """The next state byte as a signed int, or None."""
        b = self.take(1)
        return None if b is None else struct.unpack("b", b)[0]

    def error(self):
        """After SERVER_ERROR: (iperf3 error number, errno), or None."""
        b = self.take(8)
        return None if b is None else struct.unpack(">ii", b)

    def json(self):
        """The next length-prefixed JSON object, or None while incomplete."""
        if len(self.buf) < 4:
            return None
        (n,) = struct.unpack(">I", self.buf[:4])
        if n > MAX_JSON:
            raise ProtocolError(f"JSON message of {n} bytes announced: more than {MAX_JSON}")
        if len(self.buf) < 4 + n:
            return None
        raw = bytes(self.buf[4:4 + n])
        del self.buf[:4 + n]
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise ProtocolError(f"bad JSON from the peer: {e}") from None
        if not isinstance(obj, dict):
            raise ProtocolError("bad JSON from the peer: expected an object")
        return obj


def stream_ids(n: int) -> list:
    """iperf3 numbers its streams 1, 3, 4, 5, ...: 2 is skipped."""
    return [1] + list(range(3, n + 2))[: max(n - 1, 0)] if n > 0 else []


@dataclass
class TestParams:
    """What the client asks for (iperf3's parameter JSON, TCP only)."""
    time: float = 10.0
    parallel: int = 1
    reverse: bool = False
    length: int = DEFAULT_BLOCK
    omit: int = 0
    client_version: str = VERSION

    def to_json(self) -> dict:
        d = {"tcp": True, "omit": self.omit, "time": self.time, "num": 0, "blockcount": 0,
             "parallel": self.parallel}
        if self.reverse:
            d["reverse"] = True
        d.update({"len": self.length, "pacing_timer": 1000, "client_version": self.client_version})
        return d

    @classmethod
    def from_json(cls, d: dict) -> "TestParams":
        """Checked parameters; ProtocolError(message, ie) for a test netchan
        does not run (the server sends SERVER_ERROR with ie)."""
        def refuse(what, ie=IE_UNIMPLEMENTED):
            err = ProtocolError(f"client asked for {what}: netchan iperf3 runs TCP tests only, "
                                f"timed (-t), one direction")
            err.ie = ie
            return err
        if not d.get("tcp"):
            raise refuse("UDP" if d.get("udp") else "a protocol other than TCP")
        for key, what in (("bidirectional", "--bidir"), ("num", "-n"), ("blockcount", "-k"),
                          ("udp", "UDP")):
            if d.get(key):
                raise refuse(what)
        try:
            t = float(d.get("time", 10))
            parallel = int(d.get("parallel", 1))
            length = int(d.get("len", DEFAULT_BLOCK))
            omit = int(d.get("omit", 0))
        except (TypeError, ValueError):
            raise refuse("malformed parameters") from None
        if not (0 < t <= 86400):
            raise refuse(f"time {t}")
        if not 1 <= parallel <= MAX_STREAMS:
            raise refuse(f"{parallel} streams", IE_NUM_STREAMS)
        if not 1 <= length <= MAX_BLOCK:
            raise refuse(f"block length {length}", IE_BLOCK_SIZE)
        return cls(time=t, parallel=parallel, reverse=bool(d.get("reverse")), length=length,
                   omit=omit, client_version=str(d.get("client_version", "")))


def results_json(cpu: tuple, streams: list, sender: bool) -> dict:
    """What one side tells the other at EXCHANGE_RESULTS. cpu is (total,
    user, system) percent; streams are dicts with id, bytes, retransmits
    (-1 when this side did not send: iperf3's "unknown"), start and end."""
    unknown = 2 ** 64 - 1           # iperf3 3.12 sends -1 as this
    return {
        "cpu_util_total": cpu[0], "cpu_util_user": cpu[1], "cpu_util_system": cpu[2],
        "sender_has_retransmits": 1 if sender else unknown,
        "congestion_used": "cubic",
        "streams": [{"id": s["id"], "bytes": s["bytes"],
                     "retransmits": s["retransmits"] if sender else unknown,
                     "jitter": 0, "errors": 0, "packets": 0,
                     "start_time": 0, "end_time": round(s["seconds"], 6)} for s in streams],
    }


def parse_results(d: dict) -> tuple:
    """The peer's results: (cpu (total, user, system), {id: stream dict})."""
    try:
        cpu = (float(d["cpu_util_total"]), float(d["cpu_util_user"]),
               float(d["cpu_util_system"]))
        streams = {}
        for s in d["streams"]:
            r = int(s.get("retransmits", -1))
            streams[int(s["id"])] = {"bytes": int(s["bytes"]),
                                     "retransmits": -1 if r < 0 or r >= 2 ** 63 else r,
                                     "seconds": float(s.get("end_time", 0)) - float(s.get("start_time", 0))}
    except (KeyError, TypeError, ValueError) as e:
        raise ProtocolError(f"bad results from the peer: {e!r}") from None
    return cpu, streams
