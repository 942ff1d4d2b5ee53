# cython: language_level=3
"""netchan._testing: hooks for the tests, built beside netchan._core and not
part of the product: connections built directly in any TCP state, the ARP
cache filled by hand, the wire code driven from Python (parse_frame,
build_*), a channel's indices set to any value, and TcbHarness: one
control block driven without a port (input, output and timers called
directly, the segments it sends captured)."""
from libc.string cimport memcpy, memset
from libc.stdlib cimport calloc, malloc, free
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING

from netchan._core cimport *

import errno as _errno
from netchan._core import WIRE_ERROR_NAMES, TCP_STATE_NAMES

cdef int _EADDRINUSE = _errno.EADDRINUSE
import os as _os

include "testing/wire_py.pxi"
include "testing/wire6_py.pxi"
include "testing/debug.pxi"
include "testing/channel.pxi"
include "testing/capture_port.pxi"
include "testing/tcb_harness.pxi"
