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
  ports/link.pxi      pair and shm ports (two ends of one link)
  ports/fault.pxi     seeded fault-injection wrapper
  ports/pcap.pxi      pcap writer wrapper
  ports/afpacket.pxi  AF_PACKET port (TPACKET_V3 rings on a Linux interface)
  ports/open.pxi      build a port chain from a parsed URI
  window.pxi          zero-copy byte windows (double-mapped rings)
  timers.pxi          hashed timing wheel
  tcp.pxi             TCP control block and state machine
  stack.pxi           the interface: ARP, ICMP, UDP, classifier, poll()
  api.pxi             Python API: Stack, Listener, Connection, UdpSocket
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
include "ports/base.pxi"
include "ports/link.pxi"
include "ports/fault.pxi"
include "ports/pcap.pxi"
include "ports/afpacket.pxi"
include "ports/open.pxi"
include "window.pxi"
include "stack_types.pxi"
include "timers.pxi"
include "tcp_core.pxi"
include "netout.pxi"
include "tcp_output.pxi"
include "tcp_input.pxi"
include "tcp_timers.pxi"
include "stack.pxi"
include "api.pxi"
