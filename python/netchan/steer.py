"""Flow steering for one stack per core.

N stacks share one link, each owning queue k of n (`?queue=k/n` in the port
URI). A TCP or UDP flow belongs to queue

    ((((source port ^ destination port) * 0x9e3779b1) mod 2**32) >> 16) % n

which is the same in both directions (xor does not care which end is
which), costs a handful of instructions in any classifier (a classic BPF
program does it), mixes every bit of both ports (Linux gives connect() only
even local ports, so anything that looks at the low bit alone puts all of a
Linux client's connections on one queue), and lets a stack pick its own
ephemeral ports so that the replies come back to it: a stack on queue k
connecting to port p uses only local ports l with steer_queue(l, p, n) == k.
(Linux's skb hash, which PACKET_FANOUT_HASH uses, is seeded at boot and
cannot be predicted from user space; the Toeplitz RSS hash of a NIC is
another matter, see docs/percore.md.)

What carries no ports goes by kind: ARP to every queue (each stack keeps its
own neighbour table and answers for the shared address; the duplicate
replies are harmless), ICMP errors by the ports of the packet they quote,
fragments, ICMP echo and everything else to queue 0.

afpacket: ports attach `afpacket_filter(k, n)`, a classic BPF program, to
their socket before binding it, so the kernel hands each socket only its
queue's frames. shm and pair links: queue k of link NAME is its own link
(NAME.qk), so stack k on one end meets stack k on the other.
"""
from __future__ import annotations

import re
import struct

MAX_QUEUES = 64
_QUEUE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")

# classic BPF (linux/filter.h): class | size | mode, and the ALU/jump ops used here
_LD_H_ABS, _LD_B_ABS, _LD_H_IND, _LD_B_IND = 0x28, 0x30, 0x48, 0x50
_LDX_B_MSH, _LDX_MEM, _ST = 0xb1, 0x61, 0x02
_ALU_ADD_X, _ALU_AND_K, _ALU_LSH_K, _ALU_MOD_K = 0x0c, 0x54, 0x64, 0x94
_ALU_XOR_X, _ALU_MUL_K, _ALU_RSH_K = 0xac, 0x24, 0x74
GOLDEN = 0x9e3779b1                     # Knuth's multiplicative hash constant
_JMP_JA, _JMP_JEQ_K, _JMP_JSET_K = 0x05, 0x15, 0x45
_TAX, _TXA, _RET_K = 0x07, 0x87, 0x06
_ACCEPT = 0x40000                       # snap length: the whole frame


def parse_queue(text) -> tuple[int, int]:
    """'1/4' -> (1, 4): queue 1 of 4."""
    m = _QUEUE.match(str(text))
    if not m:
        raise ValueError(f"queue={text!r}: expected K/N, this stack's queue K of N (e.g. 0/2)")
    k, n = int(m.group(1)), int(m.group(2))
    if not 1 <= n <= MAX_QUEUES:
        raise ValueError(f"queue={text!r}: N must be 1..{MAX_QUEUES}")
    if not 0 <= k < n:
        raise ValueError(f"queue={text!r}: K must be 0..{n - 1}")
    return k, n


def steer_queue(port_a: int, port_b: int, n: int) -> int:
    """The queue of the flow between ports a and b (either order)."""
    return ((((port_a ^ port_b) * GOLDEN) & 0xffffffff) >> 16) % n


def afpacket_filter(k: int, n: int) -> list[tuple[int, int, int, int]]:
    """The classic BPF program that accepts queue k's frames of n, as
    (code, jt, jf, k) instructions; jumps are resolved from labels."""
    prog = []                           # (code, jt label, jf label, k) or a label string

    def op(code, k=0, jt=None, jf=None):
        prog.append((code, jt, jf, k))

    op(_LD_H_ABS, 12)                               # ethertype
    op(_JMP_JEQ_K, 0x0806, "accept", None)          # ARP: every queue
    op(_JMP_JEQ_K, 0x86DD, "ipv6", None)
    op(_JMP_JEQ_K, 0x0800, None, "other")           # IPv4, else queue 0
    op(_LD_H_ABS, 20)                               # flags and fragment offset
    op(_JMP_JSET_K, 0x3fff, "other", None)          # a fragment: not every piece has ports
    op(_LDX_B_MSH, 14)                              # X = IP header length
    op(_LD_B_ABS, 23)                               # protocol
    op(_JMP_JEQ_K, 6, "ports", None)
    op(_JMP_JEQ_K, 17, "ports", None)
    op(_JMP_JEQ_K, 1, None, "other")                # ICMP
    op(_LD_B_IND, 14)                               # its type
    op(_JMP_JEQ_K, 3, "quoted", None)               # unreachable (incl. need-to-fragment)
    op(_JMP_JEQ_K, 11, "quoted", "other")           # time exceeded
    prog.append("quoted")                           # the ports of the packet it quotes
    op(_TXA)
    op(_ST, 1)                                      # M[1] = outer header length
    op(_LD_B_IND, 14 + 8)                           # quoted version/IHL
    op(_ALU_AND_K, 0xf)
    op(_ALU_LSH_K, 2)
    op(_LDX_MEM, 1)
    op(_ALU_ADD_X)
    op(_TAX)                                        # X = outer + quoted header lengths
    op(_LD_H_IND, 14 + 8)
    op(_ST, 0)
    op(_LD_H_IND, 14 + 8 + 2)
    op(_JMP_JA, 0, "sum", "sum")
    # IPv6 with TCP/UDP/ICMPv6 right after the fixed header (as every peer
    # sends them; extension headers go to queue 0)
    prog.append("ipv6")
    op(_LD_B_ABS, 20)                               # next header
    op(_JMP_JEQ_K, 6, "ports6", None)
    op(_JMP_JEQ_K, 17, "ports6", None)
    op(_JMP_JEQ_K, 58, None, "other")
    op(_LD_B_ABS, 54)                               # ICMPv6 type
    op(_JMP_JEQ_K, 135, "accept", None)             # neighbour solicitation and
    op(_JMP_JEQ_K, 136, "accept", None)             # advertisement: every queue, as ARP
    op(_JMP_JEQ_K, 1, "quoted6", None)              # unreachable
    op(_JMP_JEQ_K, 2, "quoted6", "other")           # packet too big
    prog.append("quoted6")                          # the ports of the packet it quotes
    op(_LD_H_ABS, 54 + 8 + 40)
    op(_ST, 0)
    op(_LD_H_ABS, 54 + 8 + 42)
    op(_JMP_JA, 0, "sum", "sum")
    prog.append("ports6")
    op(_LD_H_ABS, 54)
    op(_ST, 0)
    op(_LD_H_ABS, 56)
    op(_JMP_JA, 0, "sum", "sum")
    prog.append("ports")
    op(_LD_H_IND, 14)                               # source port
    op(_ST, 0)
    op(_LD_H_IND, 16)                               # destination port
    prog.append("sum")
    op(_LDX_MEM, 0)
    op(_ALU_XOR_X)
    op(_ALU_MUL_K, GOLDEN)                          # 32-bit, as steer_queue
    op(_ALU_RSH_K, 16)
    op(_ALU_MOD_K, n)
    op(_JMP_JEQ_K, k, "accept", "drop")
    prog.append("other")
    op(_RET_K, _ACCEPT if k == 0 else 0)
    prog.append("accept")
    op(_RET_K, _ACCEPT)
    prog.append("drop")
    op(_RET_K, 0)

    labels, out = {}, []
    for item in prog:
        if isinstance(item, str):
            labels[item] = len(out)
        else:
            out.append(item)
    resolved = []
    for i, (code, jt, jf, kk) in enumerate(out):
        if code == _JMP_JA:
            resolved.append((code, 0, 0, labels[jt] - i - 1))
            continue
        t = 0 if jt is None else labels[jt] - i - 1
        f = 0 if jf is None else labels[jf] - i - 1
        if not (0 <= t < 256 and 0 <= f < 256):
            raise AssertionError("cBPF jump out of range")
        resolved.append((code, t, f, kk))
    return resolved


def pack_filter(prog) -> bytes:
    """struct sock_filter[] as the kernel reads it."""
    return b"".join(struct.pack("=HBBI", code, jt, jf, k) for code, jt, jf, k in prog)


def queue_target(name: str, k: int, n: int) -> str:
    """The link name of queue k on a shm/pair link called name."""
    return name if n == 1 else f"{name}.q{k}"
