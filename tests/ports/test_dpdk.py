"""The DPDK port (netchan.dpdk + netchan._dpdk) and the hugepages helper.

The EAL can be initialised once per process, so every DPDK scenario runs in
a child process of its own (this file, run as a script: `python
test_dpdk.py SCENARIO ARGS...`), which prints one JSON line with what it saw;
the tests assert on that. Scenarios run real drivers: net_ring and net_null
(no root, --no-huge), net_memif between two processes, net_af_packet on a
veth pair in namespaces the test creates (root), and hugepage-backed pools
after reserving hugepages with the CLI (root).
"""
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
NO_HUGE = ["--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--no-telemetry",
           "--log-level=warning"]

# ======================================================================
# Scenarios: run in a child process; each returns a JSON-able dict.
# ======================================================================


def _eal(extra=()):
    cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    return [f"--file-prefix=nctest-{os.getpid()}", f"--lcores=0@({cpus})", *NO_HUGE, *extra]


def _recv_all(port, n, timeout=10.0):
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        out += port.recv(64)
    return out


def scenario_ring_loopback(pcap):
    import netchan
    import netchan.dpdk as dpdk
    # wrapped in the pcap writer, as any port can be
    port = netchan.open_port(netchan.parse_port_uri(
        f"dpdk:net_ring0?pcap={pcap}&eal=" + "+".join(_eal())))
    dev = port.inner.device
    frames = [bytes([0x02, 0, 0, 0, 0, i]) + bytes(6) + b"\x88\xb5" + bytes([i]) * (46 + i * 7)
              for i in range(64)]
    sent = sum(bool(port.send(f)) for f in frames)
    got = _recv_all(port, len(frames))
    pool = dev.pool_info()
    res = {
        "eal": dpdk.eal_args(),
        "link_up": port.link_up, "link": dev.link(), "mac": port.mac, "mtu": port.mtu,
        "sent": sent, "same": got == frames, "received": len(got),
        "stats": port.stats(), "eth": dev.eth_stats(), "xstats": dev.xstats(),
        "pool": pool, "ports": dpdk.ports(), "features": dpdk.features(),
    }
    dev.reset_stats()
    res["eth_after_reset"] = dev.eth_stats()
    dev.stop()
    res["stopped"] = {"link_up": port.link_up, "recv": port.recv(), "link": dev.link()["up"]}
    dev.start()
    res["restarted"] = {"link_up": port.link_up, "sent": port.send(frames[0]),
                        "back": port.recv() == [frames[0]]}
    port.close()
    res["closed_send"] = _raises(lambda: port.send(frames[0]))
    res["ports_after_close"] = dpdk.ports()
    return res


def scenario_ring_jumbo():
    import netchan.dpdk as dpdk
    dpdk.init(_eal(["--vdev=net_ring0"]))       # made by the EAL, found by name
    before = [p["name"] for p in dpdk.ports()]
    port = dpdk.open_port("net_ring0", mtu=9000)
    frame = bytes(12) + b"\x88\xb5" + os.urandom(9000)
    res = {"mtu": port.mtu, "dev_mtu": port.device.mtu, "pool": port.device.pool_info(),
           "sent": port.send(frame), "ports_before_open": before}
    res["back"] = port.recv() == [frame]
    res["too_big"] = _raises(lambda: port.send(bytes(20000)))
    port.close()
    return res


def scenario_null_rx_tx():
    import netchan
    port = netchan.open_port(netchan.parse_port_uri("dpdk:net_null0?eal=" + "+".join(_eal())))
    got = port.recv(32)
    sent = sum(bool(port.send(b"\x02" * 60)) for _ in range(10))
    res = {"received": len(got), "lengths": sorted({len(f) for f in got}), "sent": sent,
           "stats": port.stats(), "eth": port.device.eth_stats(),
           "free": port.device.pool_info()["free"], "count": port.device.pool_info()["count"]}
    port.close()
    return res


def _raises(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the scenario reports what was raised
        return {"type": type(e).__name__, "msg": str(e)}
    return None


def scenario_errors():
    import netchan
    import netchan.dpdk as dpdk
    args = _eal()
    res = {"first": dpdk.init(args) == args, "same_again": dpdk.init(args) == args,
           "none_again": dpdk.init() == args}
    res["different"] = _raises(lambda: dpdk.init(args + ["--no-hpet"]))
    res["uri_different_eal"] = _raises(
        lambda: netchan.open_port(netchan.parse_port_uri("dpdk:net_ring0?eal=--no-huge,-m,64")))
    res["no_driver"] = _raises(lambda: dpdk.open_port("net_nosuchdriver0"))
    a = dpdk.open_port("net_ring0")
    res["twice"] = _raises(lambda: dpdk.open_port("net_ring0"))
    res["pci_with_no_pci"] = _raises(lambda: dpdk.open_port("0000:03:00.0"))
    res["bad_bufs"] = _raises(lambda: dpdk.open_port("net_ring1", nbufs=100))
    a.close()
    b = dpdk.open_port("net_ring0")        # unplugged on close, so it can come back
    res["reopened"] = b.link_up
    b.close()
    return res


def scenario_vtable_edges():
    """Drive the C vtable from Python (cffi) the way the stack would, with the
    mistakes it must survive: double frees, indices that are not buffers,
    frames that do not fit their buffer, and a pool DPDK laid out itself."""
    import netchan.dpdk as dpdk
    from netchan._dpdk import ffi, lib
    dpdk.init(_eal())
    dev = dpdk.open_device("net_ring0")
    dp = dev._dp
    p = ffi.addressof(dp.port)
    ops = dp.port.ops
    bufs = ffi.new("uint32_t[4]")
    res = {"alloc": ops.alloc_burst(p, bufs, 4)}
    idx = [bufs[i] for i in range(4)]
    h = lib.netchan_dpdk_buf(dp, idx[0])
    res["fresh"] = {"slot_is_index": h.slot == idx[0], "data_off": h.data_off, "len": h.len,
                    "room": h.room, "flags": h.flags}
    one = ffi.new("uint32_t[1]", [idx[0]])
    ops.free_burst(p, one, 1)
    ops.free_burst(p, one, 1)
    res["double_free"] = dp.port.stats.double_free
    ops.free_burst(p, ffi.new("uint32_t[1]", [0x80000005]), 1)
    res["double_free_after_bad_index"] = dp.port.stats.double_free
    for i in (1, 2, 3):
        lib.netchan_dpdk_buf(dp, idx[i]).len = 60
    lib.netchan_dpdk_buf(dp, idx[2]).len = 100000          # past the end of its mbuf
    res["tx_taken"] = ops.tx_burst(p, ffi.new("uint32_t[3]", idx[1:]), 3, 0)
    res["tx_invalid"] = dp.tx_invalid
    res["tx_packets"] = dp.port.stats.tx_packets
    rx = ffi.new("uint32_t[8]")
    res["rx"] = ops.rx_burst(p, rx, 8, 123)
    res["rx_same_buffers"] = sorted(rx[i] for i in range(res["rx"])) == sorted([idx[1], idx[3]])
    res["rx_stamp"] = lib.netchan_dpdk_buf(dp, rx[0]).stamp
    res["rx_len"] = lib.netchan_dpdk_buf(dp, rx[0]).len
    ops.free_burst(p, rx, res["rx"])
    info = dev.pool_info()
    res["all_back"] = info["free"] == info["count"]
    err = ffi.new("char[]", 512)
    plain = lib.rte_pktmbuf_pool_create(b"plain", 1024, 0, 64, 2176, -1)
    res["plain_pool"] = [lib.netchan_dpdk_port_new(dev.port_id, 0, plain, err, 512) == ffi.NULL,
                         ffi.string(err).decode()]
    nopriv = lib.rte_pktmbuf_pool_create(b"nopriv", 1024, 0, 0, 2176, -1)
    res["no_priv_pool"] = [lib.netchan_dpdk_port_new(dev.port_id, 0, nopriv, err, 512) == ffi.NULL,
                           ffi.string(err).decode()]
    dev.close()
    ops = dp.port.ops                   # retired: every call returns at once
    res["closed"] = {"rx": ops.rx_burst(p, rx, 8, 0), "alloc": ops.alloc_burst(p, bufs, 4),
                     "link_up": ops.link_up(p)}
    return res


def scenario_bad_eal_args():
    import netchan.dpdk as dpdk
    return {"bad": _raises(lambda: dpdk.init(["--no-huge", "--surely-not-an-eal-option"]))}


def scenario_without_dpdk():
    sys.modules["netchan._dpdk"] = None      # as if netchan had been built without DPDK
    import netchan
    import netchan.dpdk as dpdk
    return {"has_dpdk": netchan.HAS_DPDK, "available": dpdk.available(),
            "init": _raises(lambda: dpdk.init()),
            "stack": _raises(lambda: netchan.Stack("dpdk:net_ring0", ip="198.18.0.1/15"))}


def scenario_no_hugepages():
    import netchan.dpdk as dpdk
    cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    return {"err": _raises(lambda: dpdk.init([f"--lcores=0@({cpus})", "--no-pci", "--in-memory"]))}


def scenario_hugepage_pool():
    """Default EAL arguments with free hugepages: the pool sits on them."""
    import netchan
    import netchan.dpdk as dpdk
    port = netchan.open_port(netchan.parse_port_uri("dpdk:net_ring0"))
    frames = [bytes(12) + b"\x88\xb5" + bytes([i]) * 100 for i in range(32)]
    sent = sum(bool(port.send(f)) for f in frames)
    got = _recv_all(port, len(frames))
    res = {"eal": dpdk.eal_args(), "pool": port.device.pool_info(), "sent": sent,
           "same": got == frames}
    port.close()
    return res


def _wait_link(port, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not port.link_up:
        if time.monotonic() > deadline:
            raise TimeoutError("memif link did not come up")
        time.sleep(0.002)


def scenario_memif_frames(role, sock, n):
    """Client sends n numbered frames, server checks them and answers with a
    tally frame. memif refuses frames when its ring is full: send() says so
    and the client sends again, so nothing may be lost."""
    import netchan
    n = int(n)
    port = netchan.open_port(netchan.parse_port_uri(f"dpdk:net_memif0,role={role},socket={sock}"))
    _wait_link(port)
    res = {"role": role, "mac": port.mac}
    if role == "client":
        frame = bytearray(b"\xff" * 6 + bytes.fromhex(port.mac.replace(":", "")) + b"\x88\xb5"
                          + bytes(50))
        refused = 0
        t0 = time.monotonic()
        for i in range(n):
            frame[14:18] = i.to_bytes(4, "little")
            while not port.send(frame):
                refused += 1
        res["send_seconds"] = time.monotonic() - t0
        res["refused"] = refused
        tally = None
        deadline = time.monotonic() + 20
        while tally is None and time.monotonic() < deadline:
            for f in port.recv():
                if f[12:14] == b"\x88\xb6":
                    tally = json.loads(f[14:].rstrip(b"\0"))
        res["tally"] = tally
    else:
        count, in_order, t0 = 0, True, None
        deadline = time.monotonic() + 30
        while count < n and time.monotonic() < deadline:
            for f in port.recv(64):
                t0 = t0 or time.monotonic()
                if f[12:14] != b"\x88\xb5":
                    continue
                in_order &= int.from_bytes(f[14:18], "little") == count
                count += 1
        seconds = time.monotonic() - t0 if t0 else 0.0
        body = json.dumps({"count": count, "in_order": in_order, "seconds": seconds}).encode()
        reply = b"\xff" * 6 + bytes.fromhex(port.mac.replace(":", "")) + b"\x88\xb6" + body
        while not port.send(reply.ljust(60, b"\0")):
            pass
        res.update(count=count, in_order=in_order)
        # Stay until the client has had the tally (its link drops when it closes).
        deadline = time.monotonic() + 10
        while port.link_up and time.monotonic() < deadline:
            time.sleep(0.01)
    res["stats"] = port.stats()
    port.close()
    return res


def scenario_memif_tcp(role, sock, nbytes):
    """Two netchan stacks over memif: the client sends nbytes, the server
    answers with their sha256."""
    import netchan
    nbytes = int(nbytes)
    ip = "198.18.0.1/15" if role == "server" else "198.18.0.2/15"
    stack = netchan.Stack(f"dpdk:net_memif0,role={role},socket={sock}", ip=ip)
    deadline = time.monotonic() + 15
    while not stack.port.link_up:
        if time.monotonic() > deadline:
            raise TimeoutError("memif link did not come up")
        stack.poll(0.01)
    res = {"role": role}
    if role == "server":
        listener = stack.listen(5001)
        conn = listener.accept(timeout=30)
        h = hashlib.sha256()
        n, t0 = 0, time.monotonic()
        while True:
            data = conn.recv(1 << 20, timeout=30)
            if not data:
                break
            h.update(data)
            n += len(data)
        res.update(received=n, seconds=time.monotonic() - t0)
        conn.sendall(h.hexdigest().encode())
        conn.close()
    else:
        data = os.urandom(nbytes)
        conn = stack.connect(("198.18.0.1", 5001), timeout=30)
        t0 = time.monotonic()
        conn.sendall(data, timeout=60)
        conn.shutdown(socket.SHUT_WR)
        digest = b""
        while len(digest) < 64:
            part = conn.recv(64, timeout=30)
            if not part:
                break
            digest += part
        res.update(seconds=time.monotonic() - t0,
                   sha_ok=digest.decode() == hashlib.sha256(data).hexdigest())
        conn.close()
    # let the FIN exchange finish before the port goes away
    deadline = time.monotonic() + 5
    while stack.n_connections and time.monotonic() < deadline:
        stack.poll(0.01)
    res["stats"] = stack.port.stats()
    stack.close()
    return res


def scenario_linux_peer_server(uri, ready_file, stop_file, send_bytes, expect_bad=0):
    """A netchan stack on `uri` (net_af_packet, net_af_xdp, net_tap with a
    Linux peer on the interface): answers ARP and ping (while it waits in
    accept), serves one TCP connection (answers with the sha256 of what it
    received), then sends `send_bytes` of REVERSE_SEED's bytes on a second
    connection, then keeps answering until told to stop and until the stack
    has counted `expect_bad` TCP segments with a bad checksum."""
    import random
    import netchan
    stack = netchan.Stack(uri, ip="198.18.0.1/15")
    listener = stack.listen(5001)
    with open(ready_file, "w") as f:
        f.write(stack.port.mac)
    dev = stack.port.device
    res = {"mac": stack.port.mac, "wake_fd": dev.wake_fd,
           "caps_sleep": bool(dev._dp.port.caps & 1),       # NC_CAP_SLEEP
           "offloads": dev.offloads, "offload_capa": dev.offload_capa}
    conn = listener.accept(timeout=60)
    h, n = hashlib.sha256(), 0
    while True:
        data = conn.recv(1 << 20, timeout=60)
        if not data:
            break
        h.update(data)
        n += len(data)
    conn.sendall(h.hexdigest().encode())
    conn.close()
    res["tcp_received"] = n
    if int(send_bytes):
        conn = listener.accept(timeout=60)
        conn.sendall(random.Random(REVERSE_SEED).randbytes(int(send_bytes)), timeout=60)
        conn.close()
    deadline = time.monotonic() + 30
    while ((not os.path.exists(stop_file) or stack.stats()["rx_tcp_csum"] < int(expect_bad))
           and time.monotonic() < deadline):
        stack.poll(0.02)
    res["rx_tcp_csum"] = stack.stats()["rx_tcp_csum"]
    res["stats"] = stack.port.stats()
    res["eth"] = stack.port.device.eth_stats()
    stack.close()
    return res


REVERSE_SEED = 11


if __name__ == "__main__":
    # a scenario in its own process (tests/ports/scenario_child.py)
    from scenario_child import run_from_argv
    run_from_argv(globals())


# ======================================================================
# Tests
# ======================================================================

import netchan  # noqa: E402
from conftest import require, require_root  # noqa: E402
from scenario_child import marked_result, spawn  # noqa: E402
from scenario_child import result as _result  # noqa: E402


def _env():
    env = dict(os.environ)
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(netchan.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([pkg_root, HERE, os.path.dirname(HERE), env.get("PYTHONPATH", "")])
    return env


def _spawn(name, *args, prefix=()):
    return spawn(os.path.join(HERE, "test_dpdk.py"), name, *args, env=_env(), prefix=prefix)


def run_scenario(name, *args, timeout=60):
    return _result(_spawn(name, *args), timeout)


@pytest.fixture
def need_dpdk():
    require(netchan.HAS_DPDK, "netchan was built without DPDK (pkg-config libdpdk missing)")


def _free_hugepages():
    from netchan import hugepages
    return hugepages.free_bytes()


# ---- no DPDK needed ----------------------------------------------------------

def test_dpdk_uri_parsing():
    from netchan.uri import parse_port_uri
    s = parse_port_uri("dpdk:net_memif0,role=server,socket=/tmp/x.sock?eal=--no-huge,-m,256&rxd=512")
    assert s.kind == "dpdk" and s.target == "net_memif0,role=server,socket=/tmp/x.sock"
    assert s.link == {"eal": ["--no-huge", "-m", "256"], "rxd": 512}
    s = parse_port_uri("dpdk:net_ring0?eal=--vdev=net_ring1,nodeaction=r1:0:CREATE+--no-huge&bufs=4096")
    assert s.link["eal"] == ["--vdev=net_ring1,nodeaction=r1:0:CREATE", "--no-huge"]
    assert s.link["nbufs"] == 4096
    s = parse_port_uri("dpdk:0000:03:00.0?promisc=1")
    assert s.target == "0000:03:00.0" and s.link == {"promisc": True}
    with pytest.raises(ValueError, match="dpdk: ports only"):
        parse_port_uri("shm:x?rxd=64")
    with pytest.raises(ValueError, match="hugepages= applies to shm"):
        parse_port_uri("dpdk:net_ring0?hugepages=1")
    with pytest.raises(ValueError, match="descriptor count"):
        parse_port_uri("dpdk:net_ring0?txd=many")
    assert parse_port_uri("dpdk:net_tap0?offload=0").link == {"offload": False}
    with pytest.raises(ValueError, match="offload='no': use 0"):
        parse_port_uri("dpdk:net_tap0?offload=no")
    with pytest.raises(ValueError, match="dpdk: ports only"):
        parse_port_uri("shm:x?offload=0")


def test_default_eal_args_follow_hugepages_and_target():
    from netchan import dpdk
    args = dpdk.default_eal_args("net_ring0")
    assert f"--file-prefix=netchan-{os.getpid()}" in args and "--no-pci" in args
    cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    assert f"--lcores=0@({cpus})" in args
    if _free_hugepages() >= dpdk.HUGEPAGE_DEFAULT_MIN:
        assert "--in-memory" in args and "--no-huge" not in args
    else:
        assert args[args.index("--no-huge"):][:3] == ["--no-huge", "-m", "256"]
    pci = dpdk.default_eal_args("0000:03:00.0")
    assert "--no-pci" not in pci and pci[pci.index("-a") + 1] == "0000:03:00.0"
    assert dpdk.parse_eal_param("--no-huge,-m,256") == ["--no-huge", "-m", "256"]
    assert dpdk.parse_eal_param("--vdev=net_memif0,role=server -m 64") == [
        "--vdev=net_memif0,role=server", "-m", "64"]


def test_without_dpdk_errors_say_how_to_get_it():
    res = run_scenario("without_dpdk")
    assert res["has_dpdk"] is False and res["available"] is False
    for key in ("init", "stack"):
        assert res[key]["type"] == "DpdkUnavailable", res
        assert "libdpdk-dev" in res[key]["msg"] and "rebuild" in res[key]["msg"]


# ---- net_ring / net_null: no root, no hugepages -------------------------------

def test_ring_loopback_frames_link_stats_xstats(need_dpdk, tmp_path):
    pcap = tmp_path / "ring.pcap"
    res = run_scenario("ring_loopback", pcap)
    assert "--no-huge" in res["eal"]
    assert res["link_up"] is True and res["link"]["up"] is True
    assert res["sent"] == 64 and res["received"] == 64 and res["same"] is True
    st = res["stats"]
    nbytes = sum(14 + 46 + i * 7 for i in range(64))
    assert st["port_tx_packets"] == st["port_rx_packets"] == 64
    assert st["port_tx_bytes"] == st["port_rx_bytes"] == nbytes
    assert st["port_rx_dropped"] == st["port_tx_dropped"] == st["port_double_free"] == 0
    assert st["port_bufs_free"] == st["port_bufs_total"]     # every buffer came back
    assert res["eth"]["ipackets"] == res["eth"]["opackets"] == 64
    assert res["xstats"]["rx_good_packets"] == res["xstats"]["tx_good_packets"] == 64
    assert res["eth_after_reset"]["ipackets"] == 0
    assert res["stopped"] == {"link_up": False, "recv": [], "link": False}
    assert res["restarted"] == {"link_up": True, "sent": True, "back": True}
    # net_ring has no MAC of its own: netchan gives it a locally administered one
    first = int(res["mac"].split(":")[0], 16)
    assert res["mac"] != "00:00:00:00:00:00" and first & 0x02 and not first & 0x01
    assert res["mtu"] == 1500
    pool = res["pool"]
    assert pool["stride"] & (pool["stride"] - 1) == 0           # a power of two
    assert pool["data_room"] >= 1518 and pool["hugepages"] is False
    assert [p["name"] for p in res["ports"]] == ["net_ring0"]
    assert res["ports_after_close"] == []                       # closed and unplugged
    assert res["closed_send"]["type"] == "ValueError"
    assert res["features"]["dpdk"] is True and res["features"]["version"].startswith("DPDK")
    assert st["pcap_written"] == 128 and st["pcap_errors"] == 0
    # file header, then a record each way for the 64 frames and the one sent after restart
    assert pcap.stat().st_size == 24 + 130 * 16 + 2 * (nbytes + 60)


def test_ring_jumbo_mtu(need_dpdk):
    res = run_scenario("ring_jumbo")
    assert res["ports_before_open"] == ["net_ring0"]
    assert res["mtu"] == res["dev_mtu"] == 9000
    assert res["pool"]["stride"] == 16384 and res["pool"]["data_room"] >= 9018
    assert res["sent"] is True and res["back"] is True
    assert res["too_big"]["type"] == "ValueError" and "does not fit" in res["too_big"]["msg"]


def test_null_port_generates_and_sinks(need_dpdk):
    res = run_scenario("null_rx_tx")
    assert res["received"] == 32 and res["lengths"] == [64]     # net_null's default size
    assert res["sent"] == 10
    assert res["stats"]["port_rx_packets"] == 32 and res["stats"]["port_tx_packets"] == 10
    assert res["eth"]["opackets"] == 10
    assert res["free"] == res["count"]


def test_clear_errors(need_dpdk):
    res = run_scenario("errors")
    assert res["first"] and res["same_again"] and res["none_again"]
    for key in ("different", "uri_different_eal"):
        assert res[key]["type"] == "EalAlreadyInitialized", res[key]
        assert "only once per process" in res[key]["msg"]
    assert res["no_driver"]["type"] == "PortNotFound"
    msg = res["no_driver"]["msg"]
    assert "net_nosuchdriver" in msg and "Net drivers here:" in msg and "net_memif" in msg
    assert res["twice"]["type"] == "OSError" and "already open" in res["twice"]["msg"]
    assert res["pci_with_no_pci"]["type"] == "PortNotFound"
    assert "--no-pci" in res["pci_with_no_pci"]["msg"]
    assert "net_ring0 (net_ring)" in res["pci_with_no_pci"]["msg"]   # lists what is there
    assert res["bad_bufs"]["type"] == "ValueError" and "at least" in res["bad_bufs"]["msg"]
    assert res["reopened"] is True


def test_vtable_survives_caller_mistakes(need_dpdk):
    res = run_scenario("vtable_edges")
    assert res["alloc"] == 4
    fresh = res["fresh"]
    # data starts after nc_buf (64) + the mbuf headroom (128): nc_buf_reset's default
    assert fresh == {"slot_is_index": True, "data_off": 192, "len": 0, "room": 64 + 1792,
                     "flags": 0}
    assert res["double_free"] == 1 and res["double_free_after_bad_index"] == 2
    assert res["tx_taken"] == 3                     # the bad one is taken and dropped, not retried
    assert res["tx_invalid"] == 1 and res["tx_packets"] == 2
    assert res["rx"] == 2 and res["rx_same_buffers"] is True      # net_ring loops the mbufs back
    assert res["rx_stamp"] == 123 and res["rx_len"] == 60
    assert res["all_back"] is True
    refused, msg = res["plain_pool"]
    assert refused and "not at base + index" in msg and "netchan_dpdk_pool_create" in msg
    refused, msg = res["no_priv_pool"]
    assert refused and "private area" in msg
    assert res["closed"] == {"rx": 0, "alloc": 0, "link_up": 0}


def test_bad_eal_arguments_raise(need_dpdk):
    res = run_scenario("bad_eal_args")
    assert res["bad"]["type"] == "EalInitError"
    assert "--surely-not-an-eal-option" in res["bad"]["msg"]


def test_hugepages_required_but_none_free(need_dpdk):
    if _free_hugepages() > 0:
        pytest.skip("hugepages are free on this machine: the error cannot happen")
    res = run_scenario("no_hugepages")
    assert res["err"]["type"] == "HugepagesError"
    assert "netchan hugepages --reserve 256M" in res["err"]["msg"]
    assert "--no-huge" in res["err"]["msg"]


# ---- net_memif between two processes -------------------------------------------

@pytest.fixture
def memif_socket(tmp_path):
    path = str(tmp_path / "memif.sock")
    yield path
    if os.path.exists(path):
        os.unlink(path)


def _pair(scenario, sock, *args, timeout=90):
    server = _spawn(scenario, "server", sock, *args)
    client = _spawn(scenario, "client", sock, *args)
    try:
        outs = [p.communicate(timeout=timeout) for p in (server, client)]
    finally:
        for p in (server, client):
            if p.poll() is None:
                p.kill()
                p.wait()
    results = []
    for role, p, (out, err) in zip(("server", "client"), (server, client), outs):
        res = marked_result(out)
        if p.returncode != 0 or res is None:
            pytest.fail(f"memif {role} failed (rc {p.returncode})\n"
                        + "\n".join(f"--- {r} stdout:\n{o}\n--- {r} stderr:\n{e}"
                                    for r, (o, e) in zip(("server", "client"), outs)))
        results.append(res)
    return results


def test_memif_frames_between_two_processes(need_dpdk, memif_socket):
    n = 20000
    server, client = _pair("memif_frames", memif_socket, n)
    assert server["count"] == n and server["in_order"] is True
    assert client["tally"]["count"] == n and client["tally"]["in_order"] is True
    assert client["stats"]["port_tx_packets"] == server["stats"]["port_rx_packets"] == n
    assert server["stats"]["port_rx_dropped"] == 0
    assert server["mac"] != client["mac"]
    print(f"memif raw frames via Port.send/recv: {n} in {client['send_seconds']:.3f}s "
          f"({n / client['send_seconds']:.0f} frames/s, {client['refused']} refused and resent)")


def test_memif_tcp_between_two_stacks(need_dpdk, memif_socket):
    nbytes = 8 << 20
    server, client = _pair("memif_tcp", memif_socket, nbytes)
    assert client["sha_ok"] is True
    assert server["received"] == nbytes
    for side in (server, client):
        st = side["stats"]
        assert st["port_rx_dropped"] == st["port_double_free"] == 0
        assert st["port_bufs_free"] == st["port_bufs_total"]
    print(f"TCP over memif: {nbytes} bytes in {server['seconds']:.3f}s "
          f"({nbytes * 8 / server['seconds'] / 1e9:.2f} Gbit/s)")


# ---- net_af_packet on a veth pair to a Linux peer (root) ---------------------

@pytest.fixture
def veth_namespaces(request):
    """Two namespaces joined by a veth pair, no route out: (ns_netchan,
    iface_netchan, ns_linux). The Linux end has 198.18.0.2/15; netchan's end
    has no address (netchan owns 198.18.0.1, the kernel must not).
    Parametrized indirectly with "csum-offload": Linux keeps its tx checksum
    offload on (TSO/GSO off), so its frames carry partial checksums."""
    csum_offload = getattr(request, "param", None) == "csum-offload"
    require_root()
    require(shutil.which("ethtool"), "needs ethtool")
    tag = uuid.uuid4().hex[:6]
    ns_a, ns_b = f"ncdpdk-a-{tag}", f"ncdpdk-b-{tag}"
    if_a, if_b = f"ncd{tag}a", f"ncd{tag}b"
    made = []
    try:
        for ns in (ns_a, ns_b):
            subprocess.run(["ip", "netns", "add", ns], check=True)
            made.append(ns)
        subprocess.run(["ip", "link", "add", if_a, "netns", ns_a, "type", "veth", "peer",
                        "name", if_b, "netns", ns_b], check=True)
        subprocess.run(["ip", "-n", ns_a, "link", "set", if_a, "up"], check=True)
        subprocess.run(["ip", "-n", ns_b, "link", "set", if_b, "up"], check=True)
        subprocess.run(["ip", "-n", ns_b, "addr", "add", "198.18.0.2/15", "dev", if_b], check=True)
        # MTU-sized frames from Linux: net_af_packet copies ring frames of
        # 2 KiB (no virtio-net header, so no GSO). Checksums full, or (param
        # "csum-offload") partial: the port recognises them (ncport.c).
        subprocess.run(["ip", "netns", "exec", ns_b, "ethtool", "-K", if_b, "tso", "off",
                        "gso", "off", "tx", "on" if csum_offload else "off"],
                       check=True, capture_output=True)
        yield ns_a, if_a, ns_b
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], check=False)


VETH_BYTES = 16 << 20


@pytest.mark.parametrize("driver", ["net_af_packet", "net_af_xdp"])
@pytest.mark.parametrize("veth_namespaces", ["full-csum", "csum-offload"], indirect=True)
def test_veth_linux_peer_ping_arp_tcp_both_ways(need_dpdk, veth_namespaces, driver, tmp_path,
                                                request):
    """ARP, ping, 16 MiB from a Linux client and 16 MiB back, byte-exact,
    over a DPDK driver that sits on a veth. net_af_xdp used to stall after
    the handshake: its UMEM chunks were too small for MTU-sized frames."""
    require(shutil.which("ping"), "needs ping (iputils-ping)")
    ns_a, if_a, ns_b = veth_namespaces
    ready, stop = str(tmp_path / "ready"), str(tmp_path / "stop")
    server = _spawn("linux_peer_server", f"dpdk:{driver}0,iface={if_a}", ready, stop, VETH_BYTES,
                    prefix=["ip", "netns", "exec", ns_a])
    try:
        _wait_ready(server, ready, driver)
        ping = subprocess.run(["ip", "netns", "exec", ns_b, "ping", "-c", "3", "-i", "0.2",
                               "-W", "2", "198.18.0.1"], capture_output=True, text=True)
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert " 0% packet loss" in ping.stdout
        neigh = subprocess.run(["ip", "-n", ns_b, "neigh", "show", "198.18.0.1"],
                               capture_output=True, text=True).stdout
        with open(ready) as f:
            mac = f.read().strip()
        assert mac in neigh, neigh       # Linux learnt netchan's MAC by ARP
        payload = os.urandom(VETH_BYTES)
        client = subprocess.run(
            ["ip", "netns", "exec", ns_b, sys.executable, "-c", LINUX_TCP_CLIENT],
            input=payload, capture_output=True, timeout=60)
        assert client.returncode == 0, client.stderr.decode()
        assert client.stdout.decode().strip() == hashlib.sha256(payload).hexdigest()
        _linux_reads_reverse_bytes(ns_b, VETH_BYTES)
    finally:
        open(stop, "w").close()
    res = _result(server, 30)
    assert res["tcp_received"] == VETH_BYTES
    # both have a doorbell (the XSK, the packet socket): an idle stack sleeps on it
    assert res["caps_sleep"] and res["wake_fd"] >= 0
    assert res["stats"]["dpdk_wait_poll_failed"] == 0
    assert res["stats"]["port_rx_dropped"] == 0 and res["eth"]["ipackets"] > 0
    assert _linux_tcp_counter(ns_b, "InCsumErrors") == 0      # netchan's checksums were right
    partial = res["stats"]["dpdk_rx_csum_partial"]
    if request.node.callspec.params["veth_namespaces"] == "csum-offload":
        assert partial > 10000      # every TCP frame of 16 MiB came with a partial checksum
    else:
        # a full checksum equals the pseudo-header sum by chance (2^-16 per
        # frame; it is then trusted, rightly): a few in 16 MiB, never most
        assert partial <= res["eth"]["ipackets"] // 1000


def test_af_xdp_mtu_beyond_one_umem_chunk_is_refused(need_dpdk, veth_namespaces):
    """A frame must fit one page-sized UMEM chunk: a larger MTU is a config
    error that names the largest that fits, not a socket that drops."""
    ns_a, if_a, _ = veth_namespaces
    res = subprocess.run(
        ["ip", "netns", "exec", ns_a, sys.executable, "-c",
         f"import netchan.dpdk as d\n"
         f"try:\n d.open_device('net_af_xdp0,iface={if_a}', mtu=9000)\n"
         f"except ValueError as e:\n print('REFUSED', e)\n"],
        capture_output=True, text=True, env=_env(), timeout=60)
    assert "REFUSED mtu=9000" in res.stdout, res.stdout + res.stderr


@pytest.mark.parametrize("offload", ["1", "0"])
def test_tap_checksum_offloads_with_linux_peer(need_dpdk, offload, tmp_path):
    """net_tap has checksum offloads (22.11: rx IPv4/TCP/UDP, tx IPv4/TCP/UDP
    and TSO): with offload=1 the stack leaves TCP checksums to the PMD and
    skips its own check where the PMD vouched; offload=0 does both in
    software. Either way 16 MiB each way arrive byte-exact and Linux counts
    no bad checksum. The tap is in a namespace of the test's, Linux on it."""
    require_root()
    ns = f"ncdpdk-tap-{uuid.uuid4().hex[:6]}"
    tap = f"nct{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    ready, stop = str(tmp_path / "ready"), str(tmp_path / "stop")
    server = None
    try:
        server = _spawn("linux_peer_server", f"dpdk:net_tap0,iface={tap}?offload={offload}",
                        ready, stop, VETH_BYTES, BAD_SEGMENTS, prefix=["ip", "netns", "exec", ns])
        _wait_ready(server, ready, "net_tap")
        _tap_up(ns, tap)
        payload = os.urandom(VETH_BYTES)
        client = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", LINUX_TCP_CLIENT],
                                input=payload, capture_output=True, timeout=60)
        assert client.returncode == 0, client.stderr.decode()
        assert client.stdout.decode().strip() == hashlib.sha256(payload).hexdigest()
        _linux_reads_reverse_bytes(ns, VETH_BYTES)
        with open(ready) as f:
            mac = f.read().strip()
        bad = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", BAD_TCP_SENDER,
                              tap, mac], capture_output=True, text=True, timeout=60)
        assert bad.returncode == 0, bad.stderr
        open(stop, "w").close()
        res = _result(server, 30)
        server = None
        assert _linux_tcp_counter(ns, "InCsumErrors") == 0
    finally:
        if server is not None:
            open(stop, "w").close()
            server.kill()
            server.communicate()
        subprocess.run(["ip", "netns", "del", ns], check=False)
    assert res["tcp_received"] == VETH_BYTES
    st = res["stats"]
    assert res["offload_capa"]["tx"] == ["ipv4_cksum", "tcp_cksum", "udp_cksum", "tcp_tso"]
    if offload == "1":
        # not TSO: on net_tap it takes tso=1 (tests/ports/test_dpdk_tso.py)
        assert res["offloads"] == {"rx": ["ipv4_cksum", "tcp_cksum", "udp_cksum"],
                                   "tx": ["tcp_cksum"]}
        assert st["dpdk_tx_csum_offloaded"] > 10000      # every segment of 16 MiB out
        assert st["dpdk_rx_csum_good"] > 10000           # every segment of 16 MiB in
        assert st["dpdk_rx_csum_bad"] == BAD_SEGMENTS    # the PMD saw them...
    else:
        assert res["offloads"] == {"rx": [], "tx": []}
        assert st["dpdk_tx_csum_offloaded"] == 0 and st["dpdk_rx_csum_good"] == 0
        assert st["dpdk_rx_csum_bad"] == 0
    assert res["rx_tcp_csum"] == BAD_SEGMENTS       # ...and the stack dropped and counted them
    assert st["port_rx_dropped"] == 0


BAD_SEGMENTS = 3

# Three TCP segments to netchan with a wrong checksum, sent on the tap by a
# packet socket (scapy builds them, then the checksum is spoiled).
BAD_TCP_SENDER = """
import sys
from scapy.all import Ether, IP, TCP, Raw, sendp, conf
conf.verb = 0
iface, mac = sys.argv[1], sys.argv[2]
for i in range(3):
    f = Ether(dst=mac) / IP(src="198.18.0.2", dst="198.18.0.1") / TCP(sport=40000 + i, dport=5001, flags="A") / Raw(b"x" * 20)
    f = Ether(bytes(f))
    f[TCP].chksum ^= 0x1234
    sendp(f, iface=iface)
"""


def _wait_ready(server, ready, what):
    """Wait (30 s at most) for a scenario child to create its ready file;
    fails with its output if it exits first."""
    deadline = time.monotonic() + 30
    while not os.path.exists(ready):
        assert server.poll() is None, server.communicate()
        assert time.monotonic() < deadline, f"netchan on {what} did not come up"
        time.sleep(0.02)


def _tap_up(ns, tap):
    """The kernel's end of a net_tap device, in namespace ns, at 198.18.0.2."""
    subprocess.run(["ip", "-n", ns, "addr", "add", "198.18.0.2/15", "dev", tap], check=True)
    subprocess.run(["ip", "-n", ns, "link", "set", tap, "up"], check=True)


def _linux_reads_reverse_bytes(ns, nbytes, timeout=60):
    """LINUX_TCP_READER in ns reads what netchan sends (REVERSE_SEED's
    nbytes): byte count and sha256 must match."""
    import random
    reader = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", LINUX_TCP_READER],
                            capture_output=True, timeout=timeout)
    assert reader.returncode == 0, reader.stderr.decode()
    want = random.Random(REVERSE_SEED).randbytes(nbytes)
    assert reader.stdout.decode().split() == [str(nbytes), hashlib.sha256(want).hexdigest()]


def _linux_tcp_counter(ns, name):
    snmp = subprocess.run(["ip", "netns", "exec", ns, "cat", "/proc/net/snmp"],
                          capture_output=True, text=True, check=True).stdout
    rows = [ln.split() for ln in snmp.splitlines() if ln.startswith("Tcp:")]
    return int(dict(zip(rows[0][1:], rows[1][1:]))[name])


LINUX_TCP_CLIENT = """
import socket, sys
data = sys.stdin.buffer.read()
s = socket.create_connection(("198.18.0.1", 5001), timeout=30)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
out = b""
while True:
    d = s.recv(100)
    if not d:
        break
    out += d
print(out.decode())
"""

LINUX_TCP_READER = """
import hashlib, socket
s = socket.create_connection(("198.18.0.1", 5001), timeout=30)
h, n = hashlib.sha256(), 0
while True:
    d = s.recv(1 << 20)
    if not d:
        break
    h.update(d)
    n += len(d)
print(n, h.hexdigest())
"""


# ---- hugepages (root) ------------------------------------------------------------

def _nr_hugepages():
    with open("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages") as f:
        return int(f.read())


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "netchan", *args], capture_output=True,
                          text=True, env=_env(), **kw)


@pytest.fixture
def reserved_hugepages():
    """Reserve 128 MiB of 2 MiB hugepages with the CLI; give back exactly
    what was there before (and unmount what the CLI mounted)."""
    require_root()
    require(os.path.exists("/sys/kernel/mm/hugepages/hugepages-2048kB"), "no 2 MiB hugepages")
    from netchan import hugepages
    before = _nr_hugepages()
    mounted_before = [m["path"] for m in hugepages.mounts()]
    try:
        want = before + 64          # on top of whatever others hold
        r = _cli("hugepages", "--reserve", f"{want * 2}M", "--json")
        assert r.returncode == 0, r.stderr
        yield json.loads(r.stdout)
    finally:
        with open("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "w") as f:
            f.write(str(before))
        for m in hugepages.mounts():
            if m["path"] not in mounted_before:
                # Lazily if busy: while pages were free, another process on this
                # machine may have put a file there; it keeps it until it closes it.
                if subprocess.run(["umount", m["path"]], capture_output=True).returncode:
                    subprocess.run(["umount", "-l", m["path"]], check=False)


def test_hugepages_cli_reserve_and_report(reserved_hugepages):
    rep = reserved_hugepages
    assert rep["reserve"]["got"] == rep["reserve"]["asked"] == _nr_hugepages()
    assert rep["sizes"]["2048"]["total"] == _nr_hugepages()
    assert any(m["page_kb"] == 2048 for m in rep["mounts"])        # mounted if it was not
    text = _cli("hugepages")
    assert text.returncode == 0
    assert f"2M pages: {_nr_hugepages()} reserved" in text.stdout
    assert "hugetlbfs mounted at" in text.stdout


def test_dpdk_pool_on_hugepages(need_dpdk, reserved_hugepages):
    res = run_scenario("hugepage_pool")
    assert "--in-memory" in res["eal"] and "--no-huge" not in res["eal"]
    pool = res["pool"]
    assert pool["hugepages"] is True and pool["page_size"] == 2 << 20
    assert pool["chunks"] >= 1 and pool["count"] == 8192
    assert res["sent"] == 32 and res["same"] is True


def test_hugepages_reserve_without_root_says_so():
    require_root()          # to become an unprivileged user for the check
    # everything imported before the uid changes (building the parser loads
    # what it loads lazily): this interpreter's library may be root-only
    code = ("import os, sys, netchan.cli, netchan.hugepages, argparse, json, gettext, locale\n"
            "netchan.cli.build_parser()\n"
            "os.setgroups([]); os.setgid(65534); os.setuid(65534)\n"
            "sys.exit(netchan.cli.main(['hugepages', '--reserve', '2M']))\n")
    before = _nr_hugepages()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env())
    assert r.returncode == 2
    assert "needs root" in r.stderr and "sudo netchan hugepages --reserve 2M" in r.stderr
    assert _nr_hugepages() == before


def test_hugepages_size_parsing():
    from netchan.hugepages import format_size, parse_size
    assert parse_size("256M") == 256 << 20 and parse_size("1G") == 1 << 30
    assert parse_size("0") == 0 and parse_size("2MiB") == 2 << 20
    assert format_size(256 << 20) == "256M"
    with pytest.raises(ValueError, match="256M"):
        parse_size("lots")

