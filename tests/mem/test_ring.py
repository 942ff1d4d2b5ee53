"""include/netchan/ring.h in C, through a small cffi module compiled from the
header for this test: the peek API (peek, peek_burst, consume) including the
wrap of the free-running indices at 2**32, the cache guard in the layout, and
the magic that publishes an initialised ring."""
import importlib.util
import os
import sys

import pytest

import netchan
from conftest import require, unique
from netchan._testing import channel_layout

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WRAP = 1 << 32

CDEF = """
#define NC_RING_MAGIC ...
#define NC_CACHE_LINE ...
struct nc_ring {
    uint32_t size;
    uint32_t mask;
    uint32_t magic;
    uint32_t prod_tail;
    uint32_t prod_seen;
    uint32_t cons_head;
    uint32_t cons_seen;
    ...;
};
size_t nc_ring_memsize(uint32_t size);
uint32_t *nc_ring_slots(struct nc_ring *r);
int nc_ring_init(struct nc_ring *r, uint32_t size);
int nc_ring_published(const struct nc_ring *r);
uint32_t nc_ring_enqueue_burst(struct nc_ring *r, const uint32_t *objs, uint32_t n);
uint32_t nc_ring_dequeue_burst(struct nc_ring *r, uint32_t *objs, uint32_t n);
uint32_t nc_ring_peek_burst(struct nc_ring *r, uint32_t *objs, uint32_t n);
uint32_t nc_ring_peek(struct nc_ring *r, uint32_t i, uint32_t *obj);
uint32_t nc_ring_consume(struct nc_ring *r, uint32_t n);
uint32_t nc_ring_count(const struct nc_ring *r);
uint32_t nc_ring_free_count(const struct nc_ring *r);
"""


@pytest.fixture(scope="module")
def ring_c(tmp_path_factory):
    """(ffi, lib) of ring.h compiled on its own (the static inline functions
    are called through cffi's wrappers, compiled in the same unit)."""
    try:
        from cffi import FFI
    except ImportError:
        require(False, "needs cffi")
    ffi = FFI()
    ffi.cdef(CDEF)
    ffi.set_source("_nc_ring_test", '#include "netchan/ring.h"\n',
                   include_dirs=[os.path.join(ROOT, "include")],
                   extra_compile_args=["-O1", "-Wall", "-Wextra", "-Werror",
                                       "-Wno-unused-parameter", "-Wno-unused-function"])
    out = tmp_path_factory.mktemp("ringffi")
    try:
        so = ffi.compile(tmpdir=str(out))
    except Exception as e:      # no C compiler
        require(False, f"cannot compile a cffi module: {e}")
    spec = importlib.util.spec_from_file_location("_nc_ring_test", so)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.ffi, mod.lib


class Ring:
    """A ring in cache-line-aligned memory, driven from Python."""

    def __init__(self, ring_c, size):
        self.ffi, self.lib = ring_c
        n = self.lib.nc_ring_memsize(size) + 64
        self.mem = self.ffi.new("char[]", n)       # zeroed
        addr = int(self.ffi.cast("uintptr_t", self.mem))
        self.r = self.ffi.cast("struct nc_ring *", self.mem + (-addr % 64))
        assert self.lib.nc_ring_init(self.r, size) == 0

    def set_indices(self, index):
        """Start an empty ring at `index` (to cross the uint32 wrap soon)."""
        assert self.lib.nc_ring_count(self.r) == 0
        self.r.prod_tail = self.r.prod_seen = index
        self.r.cons_head = self.r.cons_seen = index

    def enqueue(self, values):
        buf = self.ffi.new("uint32_t[]", list(values) or [0])
        return self.lib.nc_ring_enqueue_burst(self.r, buf, len(values))

    def dequeue(self, n):
        buf = self.ffi.new("uint32_t[]", max(n, 1))
        got = self.lib.nc_ring_dequeue_burst(self.r, buf, n)
        return list(buf[0:got])

    def peek_burst(self, n):
        buf = self.ffi.new("uint32_t[]", max(n, 1))
        got = self.lib.nc_ring_peek_burst(self.r, buf, n)
        return list(buf[0:got])

    def peek(self, i):
        out = self.ffi.new("uint32_t *")
        return out[0] if self.lib.nc_ring_peek(self.r, i, out) else None

    def consume(self, n):
        return self.lib.nc_ring_consume(self.r, n)


@pytest.fixture
def shm_path():
    path = f"/dev/shm/{unique('netchan-test-ring')}"
    yield path
    if os.path.exists(path):
        os.unlink(path)


# ---- peek ------------------------------------------------------------------------

def test_peek_on_an_empty_ring_sees_nothing(ring_c):
    r = Ring(ring_c, 8)
    assert r.peek_burst(4) == []
    assert r.peek(0) is None
    assert r.consume(3) == 0
    assert r.r.cons_head == 0


def test_peek_does_not_take_and_consume_does(ring_c):
    r = Ring(ring_c, 8)
    assert r.enqueue([10, 11, 12, 13]) == 4
    assert r.peek_burst(2) == [10, 11]
    assert r.peek_burst(8) == [10, 11, 12, 13]      # as many as wait
    assert [r.peek(i) for i in range(5)] == [10, 11, 12, 13, None]
    assert r.peek(1 << 31) is None and r.peek(0xffffffff) is None
    assert r.lib.nc_ring_count(r.r) == 4             # nothing was taken
    assert r.consume(1) == 1
    assert r.peek(0) == 11
    assert r.consume(10) == 3                        # never more than wait
    assert r.lib.nc_ring_count(r.r) == 0
    assert r.peek(0) is None


def test_peeked_slots_stay_the_consumers_until_consumed(ring_c):
    r = Ring(ring_c, 4)
    assert r.enqueue([1, 2, 3, 4]) == 4
    assert r.peek_burst(4) == [1, 2, 3, 4]
    assert r.enqueue([5]) == 0                       # full: peeking freed nothing
    assert r.consume(2) == 2
    assert r.enqueue([5, 6, 7]) == 2                 # two slots came back
    assert r.dequeue(8) == [3, 4, 5, 6]


@pytest.mark.parametrize("before", [1, 3, 5])
def test_peek_and_consume_across_the_2_32_wrap(ring_c, before):
    """Indices start `before` short of 2**32, so the head crosses the uint32
    wrap in the middle of what is peeked."""
    r = Ring(ring_c, 8)
    start = WRAP - before
    r.set_indices(start)
    values = [100 + i for i in range(8)]
    assert r.enqueue(values) == 8
    assert r.r.prod_tail == (start + 8) % WRAP
    assert r.peek_burst(8) == values
    assert [r.peek(i) for i in range(9)] == values + [None]
    assert r.consume(before + 1) == before + 1       # the head crosses 2**32 here
    assert r.r.cons_head == (start + before + 1) % WRAP
    assert r.peek(0) == values[before + 1]
    assert r.peek_burst(8) == values[before + 1:]
    assert r.enqueue([200 + i for i in range(before + 1)]) == before + 1
    assert r.peek_burst(8) == values[before + 1:] + [200 + i for i in range(before + 1)]
    assert r.consume(8) == 8
    assert r.lib.nc_ring_count(r.r) == 0
    assert r.r.cons_head == r.r.prod_tail == (start + 8 + before + 1) % WRAP


def test_dequeue_after_peek_returns_the_same_values(ring_c):
    r = Ring(ring_c, 16)
    r.set_indices(WRAP - 7)
    for rnd in range(40):
        vals = [rnd * 10 + i for i in range(rnd % 5 + 1)]
        assert r.enqueue(vals) == len(vals)
        assert r.peek_burst(len(vals)) == vals
        assert r.dequeue(len(vals)) == vals


# ---- layout and publication -----------------------------------------------------

def test_a_cache_guard_line_separates_the_consumer_from_the_slots(ring_c):
    ffi, lib = ring_c
    line = lib.NC_CACHE_LINE
    assert line == 64
    r = Ring(ring_c, 8)
    base = int(ffi.cast("uintptr_t", r.r))
    slots = int(ffi.cast("uintptr_t", lib.nc_ring_slots(r.r))) - base
    cons = ffi.offsetof("struct nc_ring", "cons_head")
    prod = ffi.offsetof("struct nc_ring", "prod_tail")
    assert slots == ffi.sizeof("struct nc_ring")
    assert slots % line == 0
    assert slots - cons >= 2 * line                  # the consumer's line, then a guard line
    assert cons - prod >= line
    assert lib.nc_ring_memsize(8) == slots + 64      # 8 slots round up to one line


def test_magic_is_published_by_init_and_names_layout_2(ring_c):
    ffi, lib = ring_c
    assert lib.NC_RING_MAGIC == 0x4e435232           # "NCR2"; "NCRN" was the layout without a guard
    mem = ffi.new("char[]", 1024)
    r = ffi.cast("struct nc_ring *", mem)
    assert lib.nc_ring_published(r) == 0              # zeroed memory holds no ring
    assert lib.nc_ring_init(r, 3) == -1               # refused: not a power of two
    assert lib.nc_ring_published(r) == 0
    assert lib.nc_ring_init(r, 4) == 0
    assert lib.nc_ring_published(r) == 1 and r.magic == lib.NC_RING_MAGIC
    r.magic = 0x4e43524e                              # a ring of the old layout
    assert lib.nc_ring_published(r) == 0


def test_a_ring_of_the_old_layout_is_refused(shm_path):
    ch = netchan.Channel.create_shared(shm_path, 8)
    magic = channel_layout(ch)["magic"]
    del ch
    with open(shm_path, "r+b") as f:
        f.seek(magic)
        f.write((0x4e43524e).to_bytes(4, sys.byteorder))     # "NCRN"
    with pytest.raises(ValueError, match="does not hold a netchan channel"):
        netchan.Channel.attach_shared(shm_path)
