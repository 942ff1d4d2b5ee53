"""The afpacket port on its own: URI parameters, refusals with messages that
say what to do, raw frames against the kernel, GSO super-frames, problems(),
pcap. Everything that needs an interface runs in namespaces the test makes
(linux_peer.py); the interop with Linux's TCP is in test_interop_linux.py.
"""
import json
import re
import struct
import subprocess

import pytest

from linux_peer import LINUX_IP, NETCHAN_IP, PREFIX, stats_of, veth  # noqa: F401
from netchan.uri import parse_port_uri


# ---- URI (no root) ------------------------------------------------------------

def test_uri_parameters():
    spec = parse_port_uri("afpacket:veth1?blocks=32&block=128k&block_timeout=2ms&frames=512"
                          "&mac=02:00:00:00:00:01&bufs=4096&loss=0.02&seed=3&pcap=/tmp/x.pcap")
    assert spec.kind == "afpacket" and spec.target == "veth1"
    assert spec.link == {"blocks": 32, "block_size": 128 << 10, "block_timeout_ns": 2_000_000,
                         "frames": 512, "mac": "02:00:00:00:00:01", "nbufs": 4096}
    assert spec.fault == {"loss": 0.02, "seed": 3}
    assert spec.pcap == "/tmp/x.pcap"


@pytest.mark.parametrize("uri, message", [
    ("shm:x?blocks=4", "afpacket: parameter"),
    ("afpacket:v?block=big", "expected a size"),
    ("afpacket:v?frames=many", "whole number"),
    ("afpacket:v?block_timeout=soon", "duration"),
    ("afpacket:v?ring=1", "use v2"),
    ("afpacket:v?tso=yes", "use 0"),
    ("afpacket:v?tx=mmap", "use ring"),
    ("afpacket:v?rxring=1", "unknown parameter 'rxring'"),
])
def test_uri_errors_say_what_is_wrong(uri, message):
    with pytest.raises(ValueError, match=message):
        parse_port_uri(uri)


# ---- opening: refusals ----------------------------------------------------------

def _py(veth, code, **kw):
    r = veth.netchan_python(code, **kw)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


_OPEN_ERROR = (
    "import json, netchan\n"
    "try:\n"
    "    netchan.Stack({port!r}, ip='{ip}/{prefix}', **{opts!r})\n"
    "    print(json.dumps(None))\n"
    "except Exception as e:\n"
    "    print(json.dumps([type(e).__name__, getattr(e, 'errno', None), str(e)]))\n")


def _open_error(veth, port, ip=NETCHAN_IP, prefix=(), **opts):
    return _py(veth, _OPEN_ERROR.format(port=port, ip=ip, prefix=PREFIX, opts=opts),
               prefix=prefix)


def test_refusals(veth):
    import errno
    kind, err, msg = _open_error(veth, "afpacket:nosuchdev0")
    assert (kind, err) == ("OSError", errno.ENODEV) and "ip link" in msg, msg

    kind, err, msg = _open_error(veth, veth.port(), mtu=9000)
    assert kind == "ValueError" and "has MTU 1500" in msg, msg

    kind, err, msg = _open_error(veth, veth.port("block=3000"))
    assert kind == "ValueError" and "power of two" in msg, msg

    # without CAP_NET_RAW (root, but the capability taken away)
    kind, err, msg = _open_error(veth, veth.port(),
                                 prefix=("setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw"))
    assert kind == "PermissionError" and "CAP_NET_RAW" in msg, msg
    # the advice never puts the capability on the interpreter everyone runs
    import os
    import sys
    assert f"setcap cap_net_raw+ep {os.path.realpath(sys.executable)}" not in msg or \
        sys.prefix != sys.base_prefix, msg

    # the kernel owns netchan's address there: it would answer ARP and RST
    subprocess.run(["ip", "-n", veth.netchan_ns, "addr", "add", f"{NETCHAN_IP}/{PREFIX}",
                    "dev", veth.netchan_dev], check=True)
    kind, err, msg = _open_error(veth, veth.port())
    assert (kind, err) == ("OSError", errno.EADDRINUSE), msg
    assert f"ip addr del {NETCHAN_IP}" in msg and veth.netchan_dev in msg, msg
    subprocess.run(["ip", "-n", veth.netchan_ns, "addr", "del", f"{NETCHAN_IP}/{PREFIX}",
                    "dev", veth.netchan_dev], check=True)

    subprocess.run(["ip", "-n", veth.netchan_ns, "link", "set", veth.netchan_dev, "down"],
                   check=True)
    kind, err, msg = _open_error(veth, veth.port())
    assert (kind, err) == ("OSError", errno.ENETDOWN), msg
    assert f"ip link set {veth.netchan_dev} up" in msg, msg


def test_tx_parameter_and_its_conflict_with_frames(veth):
    """tx= reaches the port; frames= sizes a tx ring that tx=sendmmsg does
    not have, and the refusal says so. TSO on (veth's default) picks
    sendmmsg; tso=0 the ring, with every checksum in software."""
    assert parse_port_uri("afpacket:v?tx=sendmmsg").link == {"tx": "sendmmsg"}
    kind, err, msg = _open_error(veth, veth.port("tx=sendmmsg&frames=512"))
    assert kind == "ValueError" and "leave frames= out" in msg, msg
    geo = _py(veth, _GEOMETRY.format(port=veth.port()))
    assert (geo["tx"], geo["tso"], geo["tx_csum"]) == ("sendmmsg", True, True), geo
    geo = _py(veth, _GEOMETRY.format(port=veth.port("tso=0")))
    assert (geo["tx"], geo["tso"], geo["tx_csum"]) == ("ring", False, False), geo


_GEOMETRY = """
import json, netchan
from netchan.uri import parse_port_uri
port = netchan.open_port(parse_port_uri({port!r}))
print(json.dumps(port.geometry))
port.close()
"""


# ---- raw frames: the port without a stack -----------------------------------------

_RAW_ARP = """
import json, time, netchan
from netchan.uri import parse_port_uri
port = netchan.open_port(parse_port_uri({port!r}))
mac = bytes.fromhex(port.mac.replace(':', ''))
ip = bytes([198, 18, 0, 2])
linux = bytes([198, 18, 0, 1])
arp = (b'\\xff' * 6 + mac + b'\\x08\\x06' + b'\\x00\\x01\\x08\\x00\\x06\\x04\\x00\\x01'
       + mac + ip + b'\\x00' * 6 + linux).ljust(60, b'\\x00')
up = port.link_up
assert port.send(arp)
reply = None
end = time.monotonic() + 5
while reply is None and time.monotonic() < end:
    for f in port.recv():
        if f[12:14] == b'\\x08\\x06' and f[20:22] == b'\\x00\\x02':
            reply = f
    time.sleep(0.001)
stats = port.stats()
geometry = port.geometry
port.close()
print(json.dumps({{'up': up, 'mac': port.mac, 'reply': reply.hex() if reply else None,
                  'stats': stats, 'geometry': geometry}}))
"""


@pytest.mark.parametrize("tx", ["ring", "sendmmsg"])
def test_raw_arp_with_the_kernel(veth, tx):
    """Port.send/recv on the bare port: an ARP request from the port's own
    MAC gets the kernel's reply addressed to that MAC (so it reached the
    kernel and the reply came back through the rx ring), sent either way."""
    out = _py(veth, _RAW_ARP.format(port=veth.port(f"tx={tx}")))
    assert out["geometry"]["tx"] == tx and out["geometry"]["tx_csum"] is True
    assert out["up"] is True
    assert out["mac"].startswith("02:6e:63:")
    reply = bytes.fromhex(out["reply"])
    assert reply[0:6].hex(":") == out["mac"]                  # to us
    assert reply[28:32] == bytes([198, 18, 0, 1])             # sender: the kernel's address
    linux_mac = veth.linux("cat", f"/sys/class/net/{veth.linux_dev}/address").stdout.strip()
    assert reply[22:28].hex(":") == linux_mac
    assert out["stats"]["port_tx_packets"] == 1 and out["stats"]["port_rx_packets"] >= 1
    assert out["stats"]["port_bufs_free"] == out["stats"]["port_bufs_total"]
    assert out["geometry"]["vnet_hdr"] is True


# ---- GSO super-frames and problems() -----------------------------------------------

_UDP_GSO_SEND = """
import socket, sys, time
SOL_UDP, UDP_SEGMENT = 17, 103
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(SOL_UDP, UDP_SEGMENT, 1000)
payload = bytes(i % 251 for i in range(10 * 1000 + 500))
s.sendto(payload, ('198.18.0.2', 9000))
print('sent', len(payload), flush=True)
"""

_UDP_RECEIVE = """
import json, netchan
s = netchan.Stack({port!r}, ip='{ip}/{prefix}')
u = s.udp(('{ip}', 9000))
print('ready', flush=True)
got = []
try:
    while sum(map(len, got)) < 10500:
        data, src = u.recvfrom(65536, timeout={timeout})
        got.append(data)
except TimeoutError:
    pass
port = s.port
while not hasattr(port, 'problems'):
    port = port.inner
print(json.dumps({{'sizes': [len(g) for g in got], 'data': b''.join(got).hex(),
                  'stats': {{k: v for k, v in s.stats().items() if v}},
                  'problems': port.problems()}}), flush=True)
s.close()
"""


def _udp_gso_run(veth, port, timeout):
    rx = veth.netchan_proc("-c", _UDP_RECEIVE.format(port=port, ip=NETCHAN_IP, prefix=PREFIX,
                                                     timeout=timeout))
    rx.wait_for("ready")
    # the kernel must know netchan's MAC first: a ping resolves it
    assert veth.linux("ping", "-c", "1", "-W", "2", NETCHAN_IP, check=False).returncode == 0
    veth.linux("python3", "-c", _UDP_GSO_SEND)
    assert rx.finish(timeout=timeout + 30) == 0, rx.output()
    return json.loads(rx.lines[-1])


def test_udp_gso_superframe_is_cut_into_datagrams(veth):
    """A UDP_SEGMENT send leaves the kernel as one 10.5 KB super-frame on an
    MTU-1500 veth; the port cuts it into the eleven datagrams it stands for."""
    out = _udp_gso_run(veth, veth.port(), timeout=5)
    assert out["sizes"] == [1000] * 10 + [500], out
    assert bytes.fromhex(out["data"]) == bytes(i % 251 for i in range(10500))
    assert out["stats"]["afp_rx_gso_frames"] == 1
    assert out["stats"]["afp_rx_gso_segments"] == 11
    assert out["problems"] == []


@pytest.mark.parametrize("params, knob", [("ring=v3&block=4k", "block="),
                                           ("ring=v2&rx_frame=4k", "rx_frame=")])
def test_frames_longer_than_a_ring_slot_are_reported(veth, params, knob):
    """With ring frames (v2) or blocks (v3) too small for a GSO super-frame
    the kernel truncates it; the port drops and counts it, and problems()
    names the fix."""
    out = _udp_gso_run(veth, veth.port(params), timeout=2)
    assert out["sizes"] == [], out
    assert out["stats"]["afp_rx_truncated"] >= 1
    assert any("ethtool -K PEER tso off gso off" in p and knob in p
               for p in out["problems"]), out["problems"]


_INJECT = """
import json, struct, netchan
from netchan.uri import parse_port_uri
from scapy.layers.l2 import Ether
from scapy.layers.inet import IP, TCP
port = netchan.open_port(parse_port_uri({port!r}))
payload = bytes(i % 251 for i in range(3000))
frame = bytes(Ether(src='02:00:00:00:00:01', dst=port.mac) / IP(src='198.18.0.1', dst='198.18.0.2')
              / TCP(sport=5000, dport=80, seq=1000, flags='PA') / payload)
def vnet(flags=1, gso_type=1, hdr_len=54, gso_size=1448, csum_start=34, csum_offset=16):
    return struct.pack('=BBHHHH', flags, gso_type, hdr_len, gso_size, csum_start, csum_offset)
out = {{}}
for name, h in [('good', vnet()), ('gso_size_0', vnet(gso_size=0)),
                ('hdr_len_past_end', vnet(hdr_len=len(frame) + 1)),
                ('csum_past_end', vnet(csum_start=len(frame) - 10)),
                ('not_trusted', vnet(flags=0))]:
    got = port._rx_inject(h, frame)
    out[name] = [[len(f), int(TCP(f[34:]).seq), str(TCP(f[34:]).flags)] for f in got]
    out[name + '_whole'] = got == [frame]
out['stats'] = {{k: v for k, v in port.stats().items() if k.startswith('afp_') and v}}
out['problems'] = port.problems()
port.close()
print(json.dumps(out))
"""


def test_superframes_whole_or_cut_and_bad_vnet_headers_dropped(veth):
    """A TCP super-frame (3000 bytes of payload, gso_size 1448) as the
    kernel puts it in the ring: handed over whole in a GRO buffer (ring=v3;
    a v2 ring hands over its own frame, which an injected frame is not), or,
    with gro_bufs=0, cut into 1448 + 1448 + 104 (PSH on the last only). A
    virtio-net header that contradicts its frame (gso_size 0, hdr_len or
    the checksum past the end) is dropped and counted, and problems() says
    so."""
    out = _py(veth, _INJECT.format(port=veth.port("ring=v3")))
    assert out["good_whole"] and out["not_trusted_whole"], out
    for bad in ("gso_size_0", "hdr_len_past_end", "csum_past_end"):
        assert out[bad] == [], out
    assert out["stats"]["afp_rx_vnet_bad"] == 3, out
    assert out["stats"]["afp_rx_gro_superframes"] == 2, out
    assert out["stats"]["afp_gro_bufs_free"] == out["stats"]["afp_gro_bufs_total"], out
    assert "afp_rx_gso_frames" not in out["stats"], out
    assert any("virtio-net header" in p for p in out["problems"]), out["problems"]

    out = _py(veth, _INJECT.format(port=veth.port("gro_bufs=0")))
    assert out["good"] == [[54 + 1448, 1000, "A"], [54 + 1448, 2448, "A"],
                           [54 + 104, 3896, "PA"]], out
    assert out["stats"]["afp_rx_gso_frames"] == 2 and out["stats"]["afp_rx_vnet_bad"] == 3, out
    assert "afp_rx_gro_superframes" not in out["stats"], out


# ---- pcap ---------------------------------------------------------------------------

def test_pcap_of_an_afpacket_port_reads_in_tcpdump(veth, tmp_path):
    """?pcap=FILE on the afpacket port records what the stack sent and got:
    tcpdump reads the ARP exchange and the echo requests and replies."""
    pcap = tmp_path / "afpacket.pcap"
    server = veth.netchan_proc("-m", "netchan.httpdemo", "serve", "--port",
                               veth.port(f"pcap={pcap}"), "--ip", f"{NETCHAN_IP}/{PREFIX}")
    server.wait_for("httpdemo: listening")
    assert veth.linux("ping", "-c", "3", "-i", "0.2", NETCHAN_IP, check=False).returncode == 0
    r = veth.linux("curl", "-sS", "-o", "/dev/null", f"http://{NETCHAN_IP}:8080/", check=False)
    assert r.returncode == 0, r.stderr
    server.stop()
    assert stats_of(server)["pcap_written"] > 0
    r = subprocess.run(["tcpdump", "-nr", str(pcap)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    text = r.stdout
    assert re.search(rf"ARP, Request who-has {NETCHAN_IP} tell {LINUX_IP}", text), text
    assert re.search(rf"ARP, Reply {NETCHAN_IP} is-at 02:6e:63", text), text
    assert len(re.findall(rf"{LINUX_IP} > {NETCHAN_IP}: ICMP echo request", text)) == 3, text
    assert len(re.findall(rf"{NETCHAN_IP} > {LINUX_IP}: ICMP echo reply", text)) == 3, text
    assert re.search(rf"{NETCHAN_IP}\.8080 > {LINUX_IP}\.\d+: Flags \[S\.\]", text), text
    # the global header: nanosecond pcap, Ethernet
    magic, _, _, _, _, _, linktype = struct.unpack("=IHHiIII", pcap.read_bytes()[:24])
    assert (magic, linktype) == (0xa1b23c4d, 1)
