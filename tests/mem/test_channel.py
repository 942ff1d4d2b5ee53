"""The channel (include/netchan/ring.h) through netchan.Channel: geometry,
empty/full, burst vs bulk, the uint32 wrap of the free-running counters,
count/free accounting, cache-line layout, and exactly-once in-order delivery
between two threads and between two processes."""
import collections
import json
import os
import random
import struct
import subprocess
import sys
import threading
import time

import pytest

import netchan
from conftest import unique
from netchan._testing import channel_indices, channel_layout, channel_set_indices

WRAP = 1 << 32


@pytest.fixture
def shm_path():
    """A fresh /dev/shm path for one test; the file is removed afterwards."""
    path = f"/dev/shm/{unique('netchan-test-chan')}"
    yield path
    if os.path.exists(path):
        os.unlink(path)


def child_env():
    """Environment for a child Python that imports this same netchan build."""
    env = dict(os.environ)
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(netchan.__file__)))
    env["PYTHONPATH"] = pkg_parent + os.pathsep + env.get("PYTHONPATH", "")
    return env


# ---- geometry ---------------------------------------------------------------

@pytest.mark.parametrize("size", [0, 1, 3, 6, 100, 1000, (1 << 31) + 1, -1, -4, 1 << 32, 1 << 33, 1.5, "8", None])
def test_size_must_be_a_power_of_two(size):
    with pytest.raises(ValueError, match="power of two in \\[2, 2\\*\\*31\\]"):
        netchan.Channel(size)


def test_bad_size_creates_no_shared_file(shm_path):
    with pytest.raises(ValueError, match="power of two"):
        netchan.Channel.create_shared(shm_path, 12)
    assert not os.path.exists(shm_path)


@pytest.mark.parametrize("size", [2, 4, 64, 1024, 1 << 16])
def test_new_ring_is_empty(size):
    ch = netchan.Channel(size)
    assert ch.size == size
    assert len(ch) == 0
    assert ch.free == size
    assert ch.dequeue_burst(4) == []
    assert ch.dequeue_bulk(1) == []
    assert channel_indices(ch) == (0, 0)


# ---- empty / full, burst / bulk ----------------------------------------------

def test_full_ring_refuses_more_and_keeps_order():
    ch = netchan.Channel(8)
    assert ch.enqueue_burst(range(100, 113)) == 8       # 13 offered, 8 fit
    assert len(ch) == 8 and ch.free == 0
    assert ch.enqueue_burst([1]) == 0
    assert ch.enqueue_bulk([1]) is False
    assert len(ch) == 8
    assert ch.dequeue_burst(64) == list(range(100, 108))
    assert len(ch) == 0 and ch.free == 8
    assert ch.dequeue_burst(64) == []


def test_enqueue_bulk_is_all_or_nothing_burst_is_partial():
    ch = netchan.Channel(8)
    assert ch.enqueue_burst([1, 2, 3, 4, 5]) == 5
    assert ch.enqueue_bulk([10, 11, 12, 13]) is False    # 4 > 3 free: nothing moves
    assert len(ch) == 5 and ch.free == 3
    assert ch.enqueue_burst([20, 21, 22, 23]) == 3       # as many as fit
    assert ch.free == 0
    assert ch.dequeue_burst(8) == [1, 2, 3, 4, 5, 20, 21, 22]
    assert ch.enqueue_bulk([30, 31, 32, 33, 34, 35, 36, 37]) is True   # exactly the free room
    assert ch.enqueue_bulk([]) is True
    assert ch.dequeue_burst(8) == list(range(30, 38))


def test_dequeue_bulk_is_all_or_nothing_burst_is_partial():
    ch = netchan.Channel(16)
    ch.enqueue_burst(range(5))
    assert ch.dequeue_bulk(6) == []                      # only 5 there: nothing moves
    assert len(ch) == 5
    assert ch.dequeue_bulk(2) == [0, 1]
    assert ch.dequeue_burst(6) == [2, 3, 4]              # as many as there are
    assert len(ch) == 0


def test_bulk_larger_than_the_ring_never_succeeds():
    ch = netchan.Channel(4)
    assert ch.enqueue_bulk(range(5)) is False
    assert len(ch) == 0
    assert ch.enqueue_burst(range(5)) == 4
    assert ch.dequeue_bulk(5) == []
    assert len(ch) == 4


def test_values_keep_all_32_bits():
    ch = netchan.Channel(4)
    vals = [0, 1, 0x7FFFFFFF, 0xFFFFFFFF]
    assert ch.enqueue_bulk(vals)
    assert ch.dequeue_bulk(4) == vals


def test_python_wrappers_reject_out_of_range_arguments():
    ch = netchan.Channel(128)
    with pytest.raises(ValueError, match="at most 64"):
        ch.dequeue_burst(65)
    with pytest.raises(ValueError, match="at most 64"):
        ch.dequeue_bulk(65)
    with pytest.raises(ValueError, match="at most 64"):
        ch.enqueue_bulk(range(65))
    with pytest.raises(ValueError, match="burst must be in 1..256"):
        ch.produce_sequence(0, 10, 0)
    with pytest.raises(ValueError, match="burst must be in 1..256"):
        ch.consume_sequence(0, 10, 257)
    with pytest.raises(ValueError, match="timeout"):
        ch.produce_sequence(0, 10, 1, timeout=0)
    assert len(ch) == 0


def test_sequence_loops_time_out_instead_of_hanging():
    ch = netchan.Channel(4)
    with pytest.raises(TimeoutError, match="0 of 10 values arrived"):
        ch.consume_sequence(0, 10, 1, timeout=0.2)
    with pytest.raises(TimeoutError, match="4 of 10 values enqueued"):
        ch.produce_sequence(0, 10, 1, timeout=0.2)
    assert ch.dequeue_burst(8) == [0, 1, 2, 3]


# ---- the uint32 wrap of the free-running counters ------------------------------

def test_set_indices_is_for_empty_rings_only():
    ch = netchan.Channel(8)
    ch.enqueue_burst([1])
    with pytest.raises(ValueError, match="empty"):
        channel_set_indices(ch, WRAP - 2)


@pytest.mark.parametrize("start", [WRAP - 1, WRAP - 2, WRAP - 8, (1 << 31) - 3])
def test_full_and_empty_are_exact_across_the_wrap(start):
    ch = netchan.Channel(8)
    channel_set_indices(ch, start)
    assert channel_indices(ch) == (start, start)
    assert len(ch) == 0 and ch.free == 8
    assert ch.enqueue_burst(range(10)) == 8              # tail crosses 2**32 ...
    tail, head = channel_indices(ch)
    assert tail == (start + 8) % WRAP and head == start
    assert len(ch) == 8 and ch.free == 0                 # ... and full is still full
    assert ch.enqueue_bulk([99]) is False
    assert ch.enqueue_burst([99]) == 0
    assert ch.dequeue_bulk(9) == []
    assert ch.dequeue_bulk(3) == [0, 1, 2]
    assert len(ch) == 5 and ch.free == 3
    assert ch.enqueue_bulk([8, 9, 10]) is True
    assert ch.dequeue_burst(64) == list(range(3, 11))
    assert len(ch) == 0 and ch.free == 8
    assert channel_indices(ch) == ((start + 11) % WRAP,) * 2


@pytest.mark.parametrize("size", [2, 8, 64])
def test_many_laps_across_the_wrap(size):
    """Fill and drain in odd-sized steps while both counters cross 2**32."""
    ch = netchan.Channel(size)
    start = WRAP - 5 * size - 3
    channel_set_indices(ch, start)
    nxt_in = nxt_out = 0
    step = max(1, size // 2 + 1)
    for _ in range(40):
        n = ch.enqueue_burst(range(nxt_in, nxt_in + step))
        nxt_in += n
        got = ch.dequeue_burst(min(64, step - 1) or 1)
        assert got == list(range(nxt_out, nxt_out + len(got)))
        nxt_out += len(got)
        assert len(ch) == nxt_in - nxt_out
        assert ch.free == size - (nxt_in - nxt_out)
    while len(ch):
        got = ch.dequeue_burst(64)
        assert got == list(range(nxt_out, nxt_out + len(got)))
        nxt_out += len(got)
    assert nxt_in == nxt_out > 5 * size + 3              # enough moved to cross the wrap
    assert channel_indices(ch) == ((start + nxt_in) % WRAP,) * 2
    assert channel_indices(ch)[0] < start


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_count_and_free_follow_a_model(seed):
    """Random bursts and bulks against a deque, starting just below the wrap."""
    rng = random.Random(seed)
    size = 16
    ch = netchan.Channel(size)
    start = WRAP - rng.randrange(1, 200)
    channel_set_indices(ch, start)
    model = collections.deque()
    value = 0
    moved = 0
    for _ in range(2000):
        op = rng.randrange(4)
        n = rng.randrange(0, 20)
        if op == 0:
            vals = list(range(value, value + n))
            k = ch.enqueue_burst(vals)
            assert k == min(n, size - len(model))
            model.extend(vals[:k])
            value += k
        elif op == 1:
            vals = list(range(value, value + n))
            ok = ch.enqueue_bulk(vals)
            assert ok == (n <= size - len(model))
            if ok:
                model.extend(vals)
                value += n
        elif op == 2:
            got = ch.dequeue_burst(n)
            want = [model.popleft() for _ in range(min(n, len(model)))]
            assert got == want
            moved += len(got)
        else:
            got = ch.dequeue_bulk(n)
            if n <= len(model):
                want = [model.popleft() for _ in range(n)]
            else:
                want = []
            assert got == want
            moved += len(got)
        assert len(ch) == len(model)
        assert ch.free == size - len(model)
    assert channel_indices(ch) == ((start + value) % WRAP, (start + moved) % WRAP)


# ---- layout -------------------------------------------------------------------

def _check_layout(lay):
    line = lay["cache_line"]
    assert line == 64
    assert lay["base_misalignment"] == 0          # so offset lines are real cache lines

    def line_of(field):
        return lay[field] // line

    geometry = {line_of("size"), line_of("mask"), line_of("magic")}
    producer = {line_of("prod_tail"), line_of("prod_seen")}
    consumer = {line_of("cons_head"), line_of("cons_seen")}
    assert len(geometry) == len(producer) == len(consumer) == 1
    assert producer != consumer
    assert not (geometry & (producer | consumer))
    first_slot_line = lay["slots"] // line
    assert lay["slots"] % line == 0
    # a whole guard line between the consumer's line and the first slot
    assert first_slot_line > max(producer | consumer | geometry) + 1
    assert lay["slots"] == lay["sizeof"] == 4 * line


def test_producer_and_consumer_indices_have_cache_lines_of_their_own(shm_path):
    _check_layout(channel_layout(netchan.Channel(8)))
    _check_layout(channel_layout(netchan.Channel.create_shared(shm_path, 8)))


# ---- two threads ---------------------------------------------------------------

def run_pair(ch, first_value, count, prod_burst, cons_burst, while_running=None):
    """Producer and consumer threads (GIL released inside the loops); returns
    the consumer's (errors, first_bad, seen). while_running(producer,
    consumer) runs in this thread meanwhile."""
    result = {}

    def run(name, fn):
        try:
            result[name] = fn()
        except BaseException as e:   # reported below, never lost in the thread
            result[name + "_error"] = e

    consumer = threading.Thread(target=run, args=(
        "consumed", lambda: ch.consume_sequence(first_value, count, cons_burst, timeout=120)))
    producer = threading.Thread(target=run, args=(
        "spins", lambda: ch.produce_sequence(first_value, count, prod_burst, timeout=120)))
    consumer.start()
    producer.start()
    try:
        if while_running is not None:
            while_running(producer, consumer)
    finally:
        producer.join(timeout=150)
        consumer.join(timeout=150)
    assert not producer.is_alive() and not consumer.is_alive()
    assert "spins_error" not in result, result.get("spins_error")
    assert "consumed_error" not in result, result.get("consumed_error")
    return result["consumed"]


@pytest.mark.parametrize("size,prod_burst,cons_burst,start_index", [
    (2, 1, 1, 0),
    (2, 3, 1, WRAP - 100_000),
    (8, 3, 5, 0),
    (64, 1, 1, WRAP - 1_000_000),
    (64, 7, 32, 0),
    (1024, 32, 32, WRAP - 1_234_567),
    (1024, 100, 13, 0),
    (4096, 256, 255, WRAP - 3),
])
def test_two_threads_exactly_once_in_order(size, prod_burst, cons_burst, start_index):
    # a ring of 2 hands over one value at a time: slow when both threads share a core
    count = 1_000_000 if size <= 2 else 3_000_000
    first_value = 0xFFFFFF00          # the values wrap too
    ch = netchan.Channel(size)
    channel_set_indices(ch, start_index)
    assert run_pair(ch, first_value, count, prod_burst, cons_burst) == (0, None, count)
    assert len(ch) == 0
    assert channel_indices(ch) == ((start_index + count) % WRAP,) * 2


def test_a_third_party_never_sees_an_impossible_fill_level():
    """len() and free from a thread that is neither side: a snapshot of two
    counters that both move must still be a fill level in [0, size]. (Before
    the clamp in nc_ring_count this saw len() == 6 on a ring of 2.)"""
    size = 4
    ch = netchan.Channel(size)
    channel_set_indices(ch, WRAP - 500_000)
    levels = collections.Counter()

    def watch(producer, consumer):
        # bounded effort: sample while both run, for at most a few seconds
        # (this thread takes a core from the two spinning ones)
        stop = time.monotonic() + 3
        while (producer.is_alive() or consumer.is_alive()) and time.monotonic() < stop:
            for _ in range(1000):
                n, free = len(ch), ch.free
                assert 0 <= n <= size and 0 <= free <= size, (n, free)
                levels[n] += 1

    count = 2_000_000
    assert run_pair(ch, 0, count, 3, 2, watch) == (0, None, count)
    assert sum(levels.values()) >= 1000


# ---- two processes over a shared file -------------------------------------------

CONSUMER = r"""
import json, sys
import netchan
from netchan._testing import channel_indices
path, first, count, burst = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ch = netchan.Channel.attach_shared(path)
errors, first_bad, seen = ch.consume_sequence(first, count, burst, timeout=120)
print(json.dumps({"size": ch.size, "errors": errors, "first_bad": first_bad, "seen": seen,
                  "left": len(ch), "indices": channel_indices(ch)}))
"""


@pytest.mark.parametrize("size,prod_burst,cons_burst,start_index", [
    (1024, 32, 32, WRAP - 2_500_000),
    (64, 1, 7, 0),
    (4, 3, 1, WRAP - 10_000),
])
def test_two_processes_exactly_once_in_order(shm_path, size, prod_burst, cons_burst, start_index):
    count = 5_000_000 if size >= 64 else 1_000_000
    first_value = 12345
    ch = netchan.Channel.create_shared(shm_path, size)
    channel_set_indices(ch, start_index)          # before the consumer exists
    child = subprocess.Popen(
        [sys.executable, "-c", CONSUMER, shm_path, str(first_value), str(count), str(cons_burst)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
    try:
        ch.produce_sequence(first_value, count, prod_burst, timeout=120)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    report = json.loads(out)
    assert report == {"size": size, "errors": 0, "first_bad": None, "seen": count, "left": 0,
                      "indices": [(start_index + count) % WRAP] * 2}
    assert len(ch) == 0


def test_attach_checks_what_it_maps(shm_path):
    ch = netchan.Channel.create_shared(shm_path, 16)
    other = netchan.Channel.attach_shared(shm_path)
    assert other.size == 16
    assert ch.enqueue_bulk([5, 6, 7])
    assert other.dequeue_bulk(3) == [5, 6, 7]
    with pytest.raises(FileExistsError):
        netchan.Channel.create_shared(shm_path, 16)
    del ch, other
    with open(shm_path, "r+b") as f:   # a header claiming more slots than the file holds
        f.write(struct.pack("<II", 1 << 20, (1 << 20) - 1))
    with pytest.raises(ValueError, match="does not fit the file"):
        netchan.Channel.attach_shared(shm_path)
    with open(shm_path, "r+b") as f:
        f.write(struct.pack("<II", 16, 7))          # mask does not match size
    with pytest.raises(ValueError, match="does not fit the file"):
        netchan.Channel.attach_shared(shm_path)
    with open(shm_path, "r+b") as f:
        f.write(b"\0" * 64)                         # no magic any more
    with pytest.raises(ValueError, match="does not hold a netchan channel"):
        netchan.Channel.attach_shared(shm_path)
    os.truncate(shm_path, 0)
    with pytest.raises(ValueError, match="does not hold a netchan channel \\(0 bytes\\)"):
        netchan.Channel.attach_shared(shm_path)
