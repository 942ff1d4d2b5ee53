"""IPv4 fragments (RFC 791 reassembly, bounded; RFC 1191 PMTU; ICMP errors),
with scapy building and checking the fragments."""
import pytest
from scapy.all import ICMP, IP, TCP, UDP, Ether, Raw, defragment, fragment

import netchan
from conftest import unique
from netchan._testing import debug_arp_add
from tcp_harness import IRS, ISS, LOCAL_IP, PEER_IP, Peer, describe, payload


def frames(peer_port, stack, pkt, size=600):
    """scapy fragments of an IP packet, as Ethernet frames to the stack."""
    return [bytes(Ether(dst=stack.mac, src=peer_port.mac) / f) for f in fragment(pkt, fragsize=size)]


@pytest.fixture
def raw(raw_peer):
    stack, port = raw_peer
    debug_arp_add(stack, PEER_IP, port.mac)
    port.recv()
    return stack, port


def replies(stack, port):
    stack.poll()
    return [Ether(f) for f in port.recv(64)]


def test_udp_fragments_out_of_order_are_reassembled(raw):
    stack, port = raw
    u = stack.udp((LOCAL_IP, 5000))
    data = bytes(range(256)) * 20
    frs = frames(port, stack, IP(src=PEER_IP, dst=LOCAL_IP, id=77) / UDP(sport=9, dport=5000) / data)
    assert len(frs) > 3
    for f in reversed(frs):
        port.send(f)
        stack.poll()
    got, addr = u.recvfrom(timeout=0)
    assert got == data and addr == (PEER_IP, 9)
    st = stack.stats()
    assert st["ip_frags_in"] == len(frs) and st["ip_reassembled"] == 1


def test_overlapping_fragments_drop_the_datagram(raw):
    stack, port = raw
    u = stack.udp((LOCAL_IP, 5000))
    udp = bytes(UDP(sport=9, dport=5000, len=8 + 32) / (b"a" * 32))
    first = Ether(dst=stack.mac, src=port.mac) / IP(src=PEER_IP, dst=LOCAL_IP, id=5, proto=17,
                                                    flags="MF", frag=0) / Raw(udp[:24])
    overlap = Ether(dst=stack.mac, src=port.mac) / IP(src=PEER_IP, dst=LOCAL_IP, id=5, proto=17,
                                                      frag=2) / Raw(udp[16:])
    port.send(bytes(first))
    port.send(bytes(overlap))
    stack.poll()
    assert stack.stats()["ip_reasm_overlap"] == 1
    with pytest.raises(BlockingIOError):
        u.recvfrom(timeout=0)


def test_incomplete_datagram_times_out(raw, vclock):
    stack, port = raw
    frs = frames(port, stack, IP(src=PEER_IP, dst=LOCAL_IP, id=9) / UDP(sport=9, dport=5000) /
                 (b"z" * 3000))
    port.send(frs[0])
    stack.poll()
    vclock.advance(29 * 10**9)
    stack.poll()
    assert stack.stats()["ip_reasm_timeout"] == 0
    vclock.advance(2 * 10**9)
    stack.poll()
    assert stack.stats()["ip_reasm_timeout"] == 1
    port.send(frs[1])                   # the rest is too late: a new, incomplete datagram
    stack.poll()
    assert stack.stats()["ip_reassembled"] == 0


def test_reassembly_is_bounded_in_datagrams(vclock):
    name = unique("fragcap")
    stack = netchan.Stack(f"pair:{name}", ip="198.18.0.1/15", clock=vclock, frag_max_datagrams=4)
    port = netchan.open_port(netchan.parse_port_uri(f"pair:{name}"))
    try:
        for ident in range(10):
            f = frames(port, stack, IP(src=PEER_IP, dst=LOCAL_IP, id=ident) / UDP(dport=9) /
                       (b"q" * 2000))[0]
            port.send(f)
        stack.poll()
        st = stack.stats()
        assert st["ip_frags_in"] == 10 and st["ip_reasm_dropped"] == 6
    finally:
        port.close()
        stack.close()


def test_fragment_past_64k_is_dropped(raw):
    stack, port = raw
    bad = Ether(dst=stack.mac, src=port.mac) / IP(src=PEER_IP, dst=LOCAL_IP, id=3, proto=17,
                                                  frag=8189) / Raw(b"x" * 100)
    port.send(bytes(bad))
    stack.poll()
    assert stack.stats()["ip_reasm_dropped"] == 1


def test_fragmented_ping_gets_a_fragmented_reply(raw):
    stack, port = raw
    data = bytes(range(200)) * 20
    for f in frames(port, stack, IP(src=PEER_IP, dst=LOCAL_IP, id=11) / ICMP(id=1, seq=2) / data):
        port.send(f)
    reply = replies(stack, port)
    assert len(reply) > 1 and all(IP in r for r in reply)
    whole = defragment([r[IP] for r in reply])
    icmp = [p for p in whole if ICMP in p][0]
    assert icmp[ICMP].type == 0 and icmp[ICMP].id == 1 and icmp[ICMP].seq == 2
    assert bytes(icmp[ICMP].payload) == data


def test_udp_to_closed_port_gets_port_unreachable(raw):
    stack, port = raw
    port.send(bytes(Ether(dst=stack.mac, src=port.mac) / IP(src=PEER_IP, dst=LOCAL_IP) /
                    UDP(sport=1234, dport=4321) / b"hi"))
    (r,) = replies(stack, port)
    assert r[ICMP].type == 3 and r[ICMP].code == 3
    quoted = bytes(r[ICMP].payload)             # the datagram's header and 8 bytes
    assert IP(quoted).dst == LOCAL_IP and quoted[20:22] == (1234).to_bytes(2, "big")
    assert len(quoted) == 28


def test_frag_needed_lowers_the_mss_and_resends_smaller(peer):
    conn = peer.established(peer_mss=1460)
    conn.send(b"d" * 1460)
    (seg,) = peer.recv()
    assert len(payload(seg)) == 1460
    ip_of_seg = IP(src=LOCAL_IP, dst=PEER_IP) / TCP(sport=80, dport=49152, seq=ISS + 1, flags="PA")
    icmp = (Ether(dst=peer.stack.mac, src=peer.mac) / IP(src="198.18.0.9", dst=LOCAL_IP) /
            ICMP(type=3, code=4, nexthopmtu=1000) / bytes(ip_of_seg)[:28])
    peer.send_raw(icmp)
    segs = peer.recv()
    assert conn.mss == 1000 - 40
    assert segs and all(len(payload(s)) <= 960 for s in segs), [describe(s) for s in segs]
    assert segs[0].seq == ISS + 1
    assert peer.stack.stats()["tcp_pmtu_updates"] == 1


def test_mss_goes_back_up_ten_minutes_after_a_reduction(peer):
    """RFC 1191 6.3: the next ACK after 10 minutes restores the handshake's
    MSS; the path says again if it still cannot carry it."""
    conn = peer.established(peer_mss=1460)
    conn.send(b"d" * 1460)
    (seg,) = peer.recv()
    ip_of_seg = IP(src=LOCAL_IP, dst=PEER_IP) / TCP(sport=80, dport=49152, seq=ISS + 1, flags="PA")
    peer.send_raw(Ether(dst=peer.stack.mac, src=peer.mac) / IP(src="198.18.0.9", dst=LOCAL_IP) /
                  ICMP(type=3, code=4, nexthopmtu=1000) / bytes(ip_of_seg)[:28])
    peer.recv()
    peer.send("A", ack=ISS + 1 + 1460)
    peer.advance(599)
    conn.send(b"e" * 100)
    peer.recv()
    peer.send("A", ack=ISS + 1 + 1560)
    assert conn.mss == 960
    peer.advance(1)
    conn.send(b"f" * 100)
    peer.recv()
    peer.send("A", ack=ISS + 1 + 1660)
    assert conn.mss == 1460
    assert peer.stack.stats()["tcp_pmtu_raised"] == 1
    conn.send(b"g" * 1460)
    (seg,) = peer.recv()
    assert len(payload(seg)) == 1460


def test_frag_needed_for_a_sequence_not_in_flight_is_ignored(peer):
    conn = peer.established(peer_mss=1460)
    ip_of_seg = IP(src=LOCAL_IP, dst=PEER_IP) / TCP(sport=80, dport=49152, seq=ISS + 99999)
    peer.send_raw(Ether(dst=peer.stack.mac, src=peer.mac) / IP(src="198.18.0.9", dst=LOCAL_IP) /
                  ICMP(type=3, code=4, nexthopmtu=600) / bytes(ip_of_seg)[:28])
    assert conn.mss == 1460
