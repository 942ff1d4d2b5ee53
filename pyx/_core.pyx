# cython: language_level=3
"""netchan's core: one extension assembled from focused pieces (as uvloop does).

Order matters: each piece may use what the earlier ones define.

  includes/*.pxd      C declarations (our headers, system calls)
  errors.pxi          errno -> Python exception
  clock.pxi           monotonic and virtual clocks
  memory.pxi          mapped regions: hugepages when reserved, double-mapped rings
  channel.pxi         Channel: the SPSC ring of buffer indices, exposed for tests
  pool.pxi            BufferPool: a standalone pool, exposed for tests
  wire.pxi            parse/emit of Ethernet, ARP, IPv4, ICMP, UDP, TCP
  wire_py.pxi         Python shim over wire.pxi for tests and tools (not the hot path)
  ports/link.pxi      pair and shm ports (two ends of one link)
  ports/fault.pxi     seeded fault-injection wrapper
  ports/pcap.pxi      pcap writer wrapper
  ports/afpacket.pxi  AF_PACKET port (TPACKET_V3 rings on a Linux interface)
  ports/dpdk.pxi      DPDK port: the nc_port filled by the cffi module (netchan.dpdk)
  ports/open.pxi      build a port chain from a parsed URI
  window.pxi          zero-copy byte windows (double-mapped rings)
  stack_types.pxi     every C struct of the stack (StackState, Tcb, ...) and counters
  timers.pxi          hashed timing wheel
  tcp_core.pxi        sequence arithmetic, ISNs, flow table, Tcb lifetime, tcp_set_state
  tcp_cc.pxi          congestion control: NewReno, CUBIC
  netout.pxi          transmit batch, ARP, ICMP, UDP output
  tcp_sack.pxi        SACK: receiver blocks, sender scoreboard (RFC 2018/2883/6675)
  tcp_output.pxi      building segments ("dispatch")
  tcp_input.pxi       segment arrival, RFC 9293 3.10.7 ("process")
  tcp_timers.pxi      RTO, persist, keepalive, delayed ACK, TIME_WAIT
  tcp_syncookie.pxi   SYN cookies (RFC 4987)
  ip_frag.pxi         IPv4 reassembly and fragmentation, ICMP errors, PMTU
  stack.pxi           the interface: classifier, listeners, poll()
  api.pxi             Python API: Stack, Listener, Connection, UdpSocket
  debug.pxi           test hooks: connections built directly in any state
"""
from libc.stdint cimport (int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t,
                          uint32_t, uint64_t, uintptr_t)
from libc.string cimport memcpy, memset, memmove, memcmp
from libc.stdlib cimport malloc, calloc, realloc, free
from cpython.buffer cimport PyBUF_WRITABLE, PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from cpython.exc cimport PyErr_CheckSignals

from includes.netchan cimport *
from includes cimport system as sysc

import errno as _errno
import os as _os

include "errors.pxi"
include "clock.pxi"
include "memory.pxi"
include "channel.pxi"
include "pool.pxi"
include "wire.pxi"
include "wire_py.pxi"
include "ports/base.pxi"
include "ports/link.pxi"
include "ports/fault.pxi"
include "ports/pcap.pxi"
include "ports/afpacket.pxi"
include "ports/dpdk.pxi"
include "ports/open.pxi"
include "window.pxi"
include "stack_types.pxi"
include "timers.pxi"
include "tcp_core.pxi"
include "tcp_cc.pxi"
include "netout.pxi"
include "tcp_sack.pxi"
include "tcp_output.pxi"
include "tcp_input.pxi"
include "tcp_timers.pxi"
include "tcp_syncookie.pxi"
include "ip_frag.pxi"
include "stack.pxi"
include "api.pxi"
include "debug.pxi"
