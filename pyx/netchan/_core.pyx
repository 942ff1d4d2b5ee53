# cython: language_level=3
"""netchan's core: one extension assembled from the layer folders of pyx/.

The declarations (what each piece offers) are in _core.pxd beside this file;
the pieces are included here in data-flow order: base, memory, wire formats,
ports, the interface, IP, UDP, TCP, and the Python API on top.
"""
from libc.string cimport memcpy, memset, memmove, memcmp
from libc.stdlib cimport malloc, calloc, realloc, free, strtol
from libc.stdio cimport snprintf
from cpython.buffer cimport PyBUF_WRITABLE, PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from cpython.exc cimport PyErr_CheckSignals

import errno as _errno
import os as _os

include "base/errors.pxi"
include "base/clock.pxi"
include "base/siphash.pxi"
include "base/ratelimit.pxi"

include "mem/region.pxi"
include "mem/arena.pxi"
include "mem/window.pxi"
include "mem/peer_windows.pxi"
include "mem/pool.pxi"
include "mem/channel.pxi"

include "wire/errors.pxi"
include "wire/bytes.pxi"
include "wire/ethernet.pxi"
include "wire/ipv4.pxi"
include "wire/tcp.pxi"
include "wire/ipv6.pxi"

include "ports/base.pxi"
include "ports/link.pxi"
include "ports/fault.pxi"
include "ports/pcap.pxi"
include "ports/steer.pxi"
include "ports/afpacket_offload.pxi"
include "ports/afpacket_rx.pxi"
include "ports/afpacket_tx.pxi"
include "ports/afpacket.pxi"
include "ports/dpdk.pxi"
include "ports/xdp.pxi"
include "ports/open.pxi"
include "ports/pps.pxi"

include "iface/counters.pxi"
include "iface/state.pxi"
include "iface/shared_windows.pxi"
include "iface/txq.pxi"
include "iface/arp.pxi"
include "iface/ndp.pxi"
include "iface/ip6peers.pxi"
include "iface/router6.pxi"
include "iface/mld.pxi"
include "iface/flows.pxi"
include "iface/classify.pxi"
include "iface/classify6.pxi"
include "iface/poll.pxi"

include "ip/output.pxi"
include "ip/icmp.pxi"
include "ip/icmp6.pxi"
include "ip/frag.pxi"
include "ip/frag6.pxi"

include "udp/udp.pxi"
include "udp/udp6.pxi"

include "tcp/seq.pxi"
include "tcp/tcb.pxi"
include "tcp/wheel.pxi"
include "tcp/cc_newreno.pxi"
include "tcp/cc_cubic.pxi"
include "tcp/cc.pxi"
include "tcp/sack.pxi"
include "tcp/rack.pxi"
include "tcp/segring.pxi"
include "tcp/prr.pxi"
include "tcp/ecn.pxi"
include "tcp/hystart.pxi"
include "tcp/ip6.pxi"
include "tcp/output.pxi"
include "tcp/receive.pxi"
include "tcp/ack.pxi"
include "tcp/input.pxi"
include "tcp/listen.pxi"
include "tcp/timewait.pxi"
include "tcp/timers.pxi"
include "tcp/syncookie.pxi"
include "tcp/icmp.pxi"
include "tcp/close.pxi"

include "api/addresses.pxi"
include "api/stats_segment.pxi"
include "api/readiness.pxi"
include "api/busy_poll.pxi"
include "api/stack.pxi"
include "api/listener.pxi"
include "api/window_export.pxi"
include "api/connection.pxi"
include "api/udp_socket.pxi"
