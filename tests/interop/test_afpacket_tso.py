"""TSO out on the afpacket port (issue 11) against the Linux kernel over a
veth pair: bulk data both ways, byte-exact, with offloads on and off on both
ends; and the super-frames checked as they arrive at the kernel's end, by an
independent packet socket with PACKET_VNET_HDR parsed with scapy."""
import hashlib
import json
import sys

import pytest

from interop.test_interop_linux import _curl, _fetch, _http_server, _serve, _sha256_file
from linux_peer import NETCHAN_IP, run, stats_of, veth  # noqa: F401
from netchan.httpdemo import body_bytes

pytestmark = pytest.mark.root


def _netchan_offloads(veth, on):
    state = "on" if on else "off"
    run("ip", "netns", "exec", veth.netchan_ns, "ethtool", "-K", veth.netchan_dev,
        "tso", state, "gso", state, "tx", state)


@pytest.mark.parametrize("ring", ["v2", "v3"])
@pytest.mark.parametrize("offloads", [True, False])
def test_bulk_both_ways_with_offloads(veth, tmp_path, offloads, ring):
    """netchan sends TCP super-frames exactly when its interface has TSO and
    tx checksumming on; either way 16 MiB go each way intact and the kernel
    counts no bad checksum."""
    veth.linux_offloads(offloads)
    _netchan_offloads(veth, offloads)
    size = 16 << 20
    before = veth.linux_snmp("TcpInCsumErrors")
    # without GSO from the peer every frame is MTU-sized: 2 KiB v2 frames
    # give the ring 32x the frames of the 64 KiB default (docs/afpacket.md)
    query = f"ring={ring}" + ("&rx_frame=2k" if ring == "v2" and not offloads else "")
    server = _serve(veth, size, 21, query)
    got = _curl(veth, "", tmp_path / "down")
    assert server.finish(timeout=60) == 0, server.output()
    assert got == size
    assert _sha256_file(tmp_path / "down") == hashlib.sha256(body_bytes(size, 21)).hexdigest()
    out = stats_of(server)
    if offloads:
        assert out["afp_tx_tso_frames"] > 0, out
        assert out["afp_tx_tso_segments"] > 2 * out["afp_tx_tso_frames"], out
        # TCP built them (payload by reference from its send window)
        assert out["tcp_tso_frames"] > 0, out
    else:
        assert out.get("afp_tx_tso_frames", 0) == 0, out
        assert out.get("tcp_tso_frames", 0) == 0, out
    assert out["problems"] == []
    assert veth.linux_snmp("TcpInCsumErrors") == before

    want = _http_server(veth, tmp_path, size, 22)
    got, digest, stats = _fetch(veth, query)
    assert (got, digest) == (size, want)
    # the kernel's super-frames reach TCP whole (GRO buffers), none cut
    assert (stats.get("afp_rx_gro_superframes", 0) > 0) == offloads, stats
    assert stats.get("afp_rx_gso_frames", 0) == 0, stats
    assert stats.get("rx_tcp_csum", 0) == 0
    assert stats["problems"] == []


def _inflow(veth, tmp_path, query):
    """16 MiB from the kernel's http.server into netchan: byte-exact; the
    fetcher's counters."""
    size = 16 << 20
    want = _http_server(veth, tmp_path, size, 25)
    got, digest, stats = _fetch(veth, query)
    assert (got, digest) == (size, want)
    assert stats["problems"] == []
    assert stats.get("rx_tcp_csum", 0) == 0
    return stats


@pytest.mark.parametrize("ring", ["v2", "v3"])
def test_inflow_superframes_whole_and_acked_once(veth, tmp_path, ring):
    """With offloads on the kernel sends TCP super-frames of up to 64 KiB;
    the port hands each to TCP whole (counted in afp_rx_gro_superframes):
    v2 in its own ring frame (none left held), v3 in a GRO buffer (none
    left taken); TCP ACKs each one once, as Linux ACKs a GRO
    aggregate: no more ACKs than segments received, where cutting them
    into MTU-sized segments ACKed every second one would take ~20x more."""
    veth.linux_offloads(True)
    stats = _inflow(veth, tmp_path, f"ring={ring}")
    frames = stats["afp_rx_gro_superframes"]
    data = stats["tcp_data_in_bytes"]
    assert frames > 0 and stats.get("afp_rx_gso_frames", 0) == 0, stats
    if ring == "v2":
        assert stats.get("afp_rx_frames_held", 0) == 0 and "afp_gro_bufs_total" not in stats, stats
    else:
        assert stats["afp_gro_bufs_free"] == stats["afp_gro_bufs_total"] == 256, stats
    # most of the data came in super-frames of several segments
    assert frames * 1448 * 4 < data, stats
    # about one ACK per segment received (segs_in counts a super-frame
    # once); besides: SYN, request, FIN and a few window updates
    assert stats["tcp_segs_out"] <= stats["tcp_segs_in"] * 11 // 10 + 5, stats
    assert stats["tcp_segs_out"] * 1448 * 4 < data, stats


def test_inflow_superframes_cut_without_gro_buffers(veth, tmp_path):
    """gro_bufs=0: the super-frames are cut into MTU-sized segments (the
    path for UDP GSO, and for TCP when no GRO buffer is free): the same
    bytes arrive, and TCP ACKs every second full segment."""
    veth.linux_offloads(True)
    stats = _inflow(veth, tmp_path, "gro_bufs=0")
    assert stats.get("afp_rx_gro_superframes", 0) == 0, stats
    assert stats["afp_rx_gso_frames"] > 0, stats
    assert stats["afp_rx_gso_segments"] > 4 * stats["afp_rx_gso_frames"], stats
    assert stats["tcp_segs_out"] * 1448 * 3 > stats["tcp_data_in_bytes"], stats


def test_super_frames_lost_whole_are_recovered(veth, tmp_path):
    """nftables drops every 40th TCP frame arriving at the kernel (a counter,
    not numgen random: 16 MiB are only ~260 super-frames, and a 1% random
    draw would hit none of them one run in fifteen): a super-frame is lost
    whole (up to 45 segments, one skb at the veth's ingress). SACK recovery
    resends the holes segment by segment; the 16 MiB arrive byte-exact, and
    new data still goes in super-frames."""
    veth.linux_offloads(True)
    # phase 7: not the handshake's SYN-ACK (which would cost curl a 1 s SYN timeout)
    veth.linux_drop_tcp_every(40, phase=7)
    size = 16 << 20
    server = _serve(veth, size, 26)
    assert _curl(veth, "", tmp_path / "down") == size
    assert server.finish(timeout=60) == 0, server.output()
    assert _sha256_file(tmp_path / "down") == hashlib.sha256(body_bytes(size, 26)).hexdigest()
    out = stats_of(server)
    assert veth.linux_dropped() > 0
    assert out["tcp_retransmits"] > 0 and out["tcp_tso_frames"] > 0, out
    assert out["problems"] == []


def test_a_pcap_tap_gets_whole_frames_not_references(veth, tmp_path):
    """A wrapper that copies frames out (pcap=) takes no super-frame by
    reference (NC_CAP_TX_REF is dropped): TCP builds ordinary segments, the
    port still merges them into super-frames, and the capture holds every
    segment's bytes."""
    from scapy.all import TCP, rdpcap
    veth.linux_offloads(True)
    size = 1 << 20
    pcap = tmp_path / "tap.pcap"
    server = _serve(veth, size, 27, f"pcap={pcap}")
    assert _curl(veth, "", tmp_path / "down") == size
    assert server.finish(timeout=60) == 0, server.output()
    assert _sha256_file(tmp_path / "down") == hashlib.sha256(body_bytes(size, 27)).hexdigest()
    out = stats_of(server)
    assert out.get("tcp_tso_frames", 0) == 0 and out["afp_tx_tso_frames"] > 0, out
    sent = sum(len(p[TCP].payload) for p in rdpcap(str(pcap))
               if TCP in p and p[TCP].sport == 8080)
    assert sent >= size


def test_tso_can_be_turned_off(veth, tmp_path):
    """tso=0 sends MTU-sized frames though the interface could take more."""
    size = 4 << 20
    server = _serve(veth, size, 23, "tso=0")
    assert _curl(veth, "", tmp_path / "down") == size
    assert server.finish(timeout=60) == 0, server.output()
    out = stats_of(server)
    assert out.get("afp_tx_tso_frames", 0) == 0 and out.get("tcp_tso_frames", 0) == 0, out


_CAPTURE = r"""
import json, socket, struct, sys
from scapy.layers.l2 import Ether
from scapy.layers.inet import IP, TCP
PACKET_VNET_HDR = 15
def fold(b):
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return t
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.setsockopt(263, PACKET_VNET_HDR, 1)          # SOL_PACKET
s.bind((sys.argv[1], 0))
s.settimeout(30)
print("capturing", flush=True)
while True:
    raw = s.recv(1 << 17)
    flags, gso_type, hdr_len, gso_size, csum_start, csum_offset = struct.unpack("=BBHHHH", raw[:10])
    if gso_type == 0:
        continue
    frame = Ether(raw[10:])
    ip, tcp = frame[IP], frame[TCP]
    pseudo = struct.pack("!4s4sBBH", socket.inet_aton(ip.src), socket.inet_aton(ip.dst), 0, 6,
                         ip.len - ip.ihl * 4)
    total = sum(struct.unpack("!6H", pseudo))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    print(json.dumps({"flags": flags, "gso_type": gso_type, "hdr_len": hdr_len,
                      "gso_size": gso_size, "csum_start": csum_start, "csum_offset": csum_offset,
                      "frame_len": len(raw) - 10, "ip_len": ip.len, "ihl": ip.ihl,
                      "tcp_hl": tcp.dataofs * 4, "payload": len(bytes(tcp.payload)),
                      "tcp_check": tcp.chksum, "pseudo": total, "sport": tcp.sport,
                      "ip_sum": fold(raw[10 + 14:10 + 14 + ip.ihl * 4])}), flush=True)
    break
"""


def test_super_frame_carries_the_right_vnet_header(veth, tmp_path):
    """The kernel's end receives netchan's super-frames with gso_type TCPV4,
    gso_size = the MSS (1448 with timestamps), the header length, checksum
    partial over TCP (start at the TCP header, offset 16) and the
    pseudo-header sum of the whole super-frame in the checksum field."""
    # the interpreter running the tests: it has scapy (a system python3 may not)
    cap = veth.linux_proc(sys.executable, "-u", "-c", _CAPTURE, veth.linux_dev)
    cap.wait_for("capturing")
    server = _serve(veth, 4 << 20, 24)
    assert _curl(veth, "", tmp_path / "down") == 4 << 20
    assert server.finish(timeout=60) == 0, server.output()
    line = cap.wait_for('{"flags"')
    h = json.loads(line[line.index("{"):])
    assert h["gso_type"] == 1 and h["flags"] & 1, h                 # TCPV4, NEEDS_CSUM
    assert h["sport"] == 8080
    assert h["gso_size"] == 1448, h
    assert h["hdr_len"] == 14 + h["ihl"] * 4 + h["tcp_hl"], h
    assert (h["csum_start"], h["csum_offset"]) == (14 + h["ihl"] * 4, 16), h
    assert h["ip_len"] + 14 == h["frame_len"] and h["payload"] > h["gso_size"], h
    assert h["tcp_check"] == h["pseudo"], h
    assert h["ip_sum"] == 0xffff, h                                 # a valid IP header checksum


@pytest.mark.parametrize("ring", ["v2", "v3"])
def test_inflow_whole_through_a_wrapper_that_holds_frames(veth, tmp_path, ring):
    """A fault wrapper delaying every received frame by 2 ms holds the
    super-frames across polls — v2 ring frames in place, v3 GRO buffers
    (too large to copy into its own, it keeps them): 16 MiB still arrive
    byte-exact, and every frame and buffer is back at the end."""
    veth.linux_offloads(True)
    stats = _inflow(veth, tmp_path, f"ring={ring}&delay=2ms&fault_dir=rx")
    assert stats["afp_rx_gro_superframes"] > 0, stats
    assert stats.get("afp_rx_frames_held", 0) == 0, stats
    assert stats.get("afp_gro_bufs_free", 0) == stats.get("afp_gro_bufs_total", 0), stats
