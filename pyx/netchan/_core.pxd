# netchan._core: what each piece of the extension offers, in data-flow order.
#
# One extension module (the hot path calls across pieces without an import
# boundary, as uvloop's loop.pyx does), assembled from the layer folders of
# pyx/. Each piece's .pxd below declares what it offers to the others; its
# .pxi beside it holds the code; what a .pxd does not declare is private to
# its piece. A piece may use its own layer and what the table below allows.
#
# Layers, in data-flow order, and what each may use besides itself (a name
# is a layer folder, or folder/piece for one piece of it):
#
#   base:   -                                      errors, clocks, hashing, rate limits
#   mem:    base                                   mapped regions, window arenas, pools, channels
#   wire:   base                                   parse/emit of frames (pure functions)
#   ports:  base mem wire                          drivers behind the nc_port vtable
#   ip:     base mem wire iface/state iface/counters iface/txq iface/arp iface/ndp iface/ip6peers
#                                                  IP output, reassembly, ICMP, ICMPv6
#   udp:    base mem wire ip iface/state iface/counters iface/txq iface/arp iface/ndp iface/ip6peers
#                                                  UDP sockets' C side
#   tcp:    base mem wire ip iface/state iface/counters iface/txq iface/arp iface/ndp iface/ip6peers iface/flows
#                                                  control blocks, input, output, timers
#   iface:  base mem wire ports ip udp tcp         the interface: state, classifier, ARP,
#                                                  transmit queue, poll loop (the only
#                                                  layer that touches a port)
#   api:    base mem wire ports ip udp tcp iface   Python classes (exceptions only here)
#
# iface/state.pxd declares StackState, which holds every layer's state (the
# interface may name them all); tests/structure/test_layers.py checks this
# table against every piece.
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
include "mem/peer_windows.pxd"
include "mem/channel.pxd"
include "wire/constants.pxd"
include "wire/errors.pxd"
include "wire/bytes.pxd"
include "wire/ethernet.pxd"
include "wire/ipv4.pxd"
include "wire/tcp.pxd"
include "wire/ipv6.pxd"
include "ports/base.pxd"
include "ports/afpacket.pxd"
include "iface/counters.pxd"
include "iface/arp.pxd"
include "iface/ndp.pxd"
include "iface/ip6peers.pxd"
include "iface/flows.pxd"
include "iface/router6.pxd"
include "iface/mld.pxd"
include "ip/frag.pxd"
include "udp/udp.pxd"
include "udp/udp6.pxd"
include "tcp/seq.pxd"
include "tcp/tcb.pxd"
include "tcp/listen.pxd"
include "tcp/timewait.pxd"
include "iface/state.pxd"
include "iface/shared_windows.pxd"
include "iface/txq.pxd"
include "iface/classify.pxd"
include "iface/classify6.pxd"
include "iface/poll.pxd"
include "ip/output.pxd"
include "ip/icmp.pxd"
include "ip/icmp6.pxd"
include "tcp/wheel.pxd"
include "tcp/cc.pxd"
include "tcp/cc_newreno.pxd"
include "tcp/cc_cubic.pxd"
include "tcp/sack.pxd"
include "tcp/rack.pxd"
include "tcp/segring.pxd"
include "tcp/prr.pxd"
include "tcp/ecn.pxd"
include "tcp/hystart.pxd"
include "tcp/ip6.pxd"
include "tcp/output.pxd"
include "tcp/receive.pxd"
include "tcp/ack.pxd"
include "tcp/input.pxd"
include "tcp/timers.pxd"
include "tcp/syncookie.pxd"
include "tcp/icmp.pxd"
include "tcp/close.pxd"
include "api/addresses.pxd"
include "api/readiness.pxd"
include "api/stack.pxd"
include "api/listener.pxd"
include "api/window_export.pxd"
include "api/connection.pxd"
include "api/udp_socket.pxd"
