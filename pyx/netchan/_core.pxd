# netchan._core: what each piece of the extension offers, in data-flow order.
#
# One extension module (the hot path calls across pieces without an import
# boundary, as uvloop's loop.pyx does), assembled from the layer folders of
# pyx/. Each piece's .pxd below declares what it offers to the others; its
# .pxi beside it holds the code. A piece may use only what the .pxd files of
# its own layer and of the layers it "needs" declare (each .pxd's first lines
# say which); tests/test_layers.py checks that against the code.
#
#   base/   errors, clocks, keyed hashing             needs: -
#   mem/    mapped regions, window arenas, pools       needs: base
#   wire/   parse/emit of frames (pure functions)      needs: base
#   ports/  drivers behind the nc_port vtable          needs: base, mem
#   iface/  the interface: state, classifier, ARP,     needs: base, mem, wire, ports,
#           transmit queue, poll loop                         ip, udp, tcp
#   ip/     IPv4 output, reassembly, ICMP              needs: base, mem, wire, iface (txq, arp)
#   udp/    UDP sockets' C side                        needs: ip, iface (txq)
#   tcp/    control blocks, input, output, timers      needs: base, mem, wire, ip, iface (txq)
#   api/    Python classes (exceptions only here)      needs: everything below
#
# netchan._testing (pyx/netchan/_testing.pyx) cimports this file to build
# connections in any state for the tests; it is not part of the product.

from libc.stdint cimport (int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t,
                          uint32_t, uint64_t, uintptr_t)
from libc.stdio cimport FILE
from includes.netchan cimport *
from includes cimport system as sysc
from includes cimport linux_packet as lpk

cdef struct StackState        # iface/state.pxd; every layer's functions take one

include "base/errors.pxd"
include "base/clock.pxd"
include "base/siphash.pxd"
include "base/ratelimit.pxd"
include "mem/region.pxd"
include "mem/arena.pxd"
include "mem/window.pxd"
include "mem/channel.pxd"
include "wire/constants.pxd"
include "wire/errors.pxd"
include "wire/bytes.pxd"
include "wire/ethernet.pxd"
include "wire/ipv4.pxd"
include "wire/tcp.pxd"
include "ports/base.pxd"
include "iface/counters.pxd"
include "iface/arp.pxd"
include "iface/flows.pxd"
include "ip/frag.pxd"
include "udp/udp.pxd"
include "tcp/seq.pxd"
include "tcp/tcb.pxd"
include "tcp/listen.pxd"
include "iface/state.pxd"
include "iface/txq.pxd"
include "iface/classify.pxd"
include "iface/poll.pxd"
include "ip/output.pxd"
include "ip/icmp.pxd"
include "tcp/wheel.pxd"
include "tcp/cc.pxd"
include "tcp/sack.pxd"
include "tcp/output.pxd"
include "tcp/receive.pxd"
include "tcp/ack.pxd"
include "tcp/input.pxd"
include "tcp/timers.pxd"
include "tcp/syncookie.pxd"
include "tcp/icmp.pxd"
include "api/addresses.pxd"
include "api/stack.pxd"
include "api/listener.pxd"
include "api/window_export.pxd"
include "api/connection.pxd"
include "api/udp_socket.pxd"
