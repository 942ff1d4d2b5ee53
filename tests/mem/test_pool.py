"""The buffer pool (include/netchan/buf.h) through netchan.BufferPool:
burst alloc/free and accounting, refused frees, LIFO reuse, buffer data and
its bounds, the hugepage policy (with pages really reserved, as root), and a
pool shared by two processes that hand buffer indices over channels."""
import gc
import json
import os
import subprocess
import sys
import time

import pytest

import netchan
from conftest import require, require_root, unique

HUGEPAGES = "/sys/kernel/mm/hugepages/hugepages-2048kB"
MiB = 1 << 20


def child_env():
    """Environment for a child Python that imports this same netchan build."""
    env = dict(os.environ)
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(netchan.__file__)))
    env["PYTHONPATH"] = pkg_parent + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture
def shm_names():
    """make(prefix) -> a fresh name under /dev/shm; every such file is removed afterwards."""
    names = []

    def make(prefix="netchan-test-pool"):
        names.append(unique(prefix))
        return names[-1]

    yield make
    for name in names:
        for directory in ("/dev/shm", netchan.hugetlbfs_mount()):
            if directory and os.path.exists(os.path.join(directory, name)):
                os.unlink(os.path.join(directory, name))


# ---- geometry ----------------------------------------------------------------

@pytest.mark.parametrize("count", [0, -1, 1 << 31, 1 << 32, "4", 2.0])
def test_bad_count_is_a_clear_error(count):
    with pytest.raises(ValueError, match="buffer count must be in 1.."):
        netchan.BufferPool(count)


@pytest.mark.parametrize("data_room", [0, 63, -64, MiB + 1, 1 << 32, None])
def test_bad_data_room_is_a_clear_error(data_room):
    with pytest.raises(ValueError, match="data_room must be in 64..1048576"):
        netchan.BufferPool(4, data_room)


def test_geometry_is_reported():
    pool = netchan.BufferPool(10, data_room=700)
    assert (pool.count, pool.data_room, pool.in_use) == (10, 700, 0)
    assert (pool.alloc_failed, pool.double_free) == (0, 0)
    assert pool.path is None


# ---- alloc / free --------------------------------------------------------------

def test_alloc_and_free_in_bursts_keep_in_use_exact():
    pool = netchan.BufferPool(16)
    a = pool.alloc(5)
    b = pool.alloc(7)
    assert len(a) == 5 and len(b) == 7
    assert len(set(a) | set(b)) == 12 and all(0 <= i < 16 for i in a + b)
    assert pool.in_use == 12
    assert pool.free(a) == 5
    assert pool.in_use == 7
    assert pool.alloc(0) == []
    assert pool.free([]) == 0
    assert pool.free(b) == 7
    assert pool.in_use == 0
    assert (pool.alloc_failed, pool.double_free) == (0, 0)


def test_alloc_beyond_capacity_returns_fewer_and_counts_the_shortfall():
    pool = netchan.BufferPool(8)
    first = pool.alloc(5)
    rest = pool.alloc(10)
    assert len(rest) == 3 and pool.alloc_failed == 7
    assert pool.alloc(1) == [] and pool.alloc_failed == 8
    assert sorted(first + rest) == list(range(8))
    assert pool.in_use == 8
    assert pool.free(first + rest) == 8
    assert pool.in_use == 0
    assert len(pool.alloc(8)) == 8 and pool.alloc_failed == 8


def test_double_free_and_foreign_indices_are_refused_and_counted():
    pool = netchan.BufferPool(8)
    a, b, c = pool.alloc(3)
    assert pool.free([a]) == 1
    assert pool.free([a]) == 0                       # second free of a
    assert pool.double_free == 1
    assert pool.free([b, b]) == 1                    # the same index twice in one burst
    assert pool.double_free == 2
    assert pool.free([5]) == 0                       # never allocated: already free
    assert pool.free([8, 1000, 0x7FFFFFFF]) == 0     # not slots of this pool
    assert pool.double_free == 6
    assert pool.free([0x80000000 | c]) == 0          # pool-bit alias of live slot c
    assert pool.double_free == 7
    assert pool.in_use == 1                          # c is still allocated ...
    assert pool.free([c]) == 1                       # ... and frees normally
    assert pool.in_use == 0
    assert sorted(pool.alloc(8)) == list(range(8))   # the free stack holds each slot once
    assert pool.alloc(1) == []


def test_reuse_is_lifo():
    pool = netchan.BufferPool(8)
    assert pool.alloc(3) == [0, 1, 2]                # a new pool hands out the lowest first
    pool.free([1])
    assert pool.alloc(1) == [1]
    pool.free([0, 2])
    assert pool.alloc(2) == [2, 0]                   # last freed, first reused
    pool.free([2, 0, 1])
    assert pool.alloc(4) == [1, 0, 2, 3]


# ---- buffer data ------------------------------------------------------------------

def test_buffers_hold_their_own_data():
    pool = netchan.BufferPool(4, data_room=256)
    a, b, c = pool.alloc(3)
    pool.write(a, b"alpha")
    pool.write(b, bytearray(b"\x00\xffbeta"))
    pool.write(c, memoryview(b"xxgammaxx")[2:7])
    assert pool.read(a) == b"alpha"
    assert pool.read(b) == b"\x00\xffbeta"
    assert pool.read(c) == b"gamma"
    pool.write(a, b"")
    assert pool.read(a) == b""
    assert pool.read(b) == b"\x00\xffbeta"
    pool.free([b])
    assert pool.alloc(1) == [b]
    assert pool.read(b) == b""                       # a reallocated buffer comes back empty


@pytest.mark.parametrize("data_room", [64, 100, 1500, 2048, 9000, MiB])
def test_data_room_bounds(data_room):
    pool = netchan.BufferPool(2, data_room=data_room)
    (i,) = pool.alloc(1)
    payload = bytes(range(256)) * (data_room // 256) + bytes(data_room % 256)
    pool.write(i, payload)                           # data_room bytes always fit
    assert pool.read(i) == payload
    # slots are rounded to a cache line, so a little more may fit, never 64 more
    with pytest.raises(ValueError, match="do not fit in buffer"):
        pool.write(i, bytes(data_room + 64))
    assert pool.read(i) == payload                   # a refused write changes nothing


def test_indices_outside_the_pool_are_index_errors():
    pool = netchan.BufferPool(4)
    for bad in (4, 1 << 20, 0x80000000, 0x80000001):
        with pytest.raises(IndexError, match="not in this pool of 4"):
            pool.read(bad)
        with pytest.raises(IndexError, match="not in this pool of 4"):
            pool.write(bad, b"x")


# ---- hugepages -----------------------------------------------------------------------

def _hugepage_counter(name):
    try:
        with open(f"{HUGEPAGES}/{name}") as f:
            return int(f.read())
    except OSError:
        return 0


def _hugepages_available():
    """2 MiB pages a new mapping could get now: unpromised free ones plus
    what overcommit still allows."""
    free = _hugepage_counter("free_hugepages") - _hugepage_counter("resv_hugepages")
    over = _hugepage_counter("nr_overcommit_hugepages") - _hugepage_counter("surplus_hugepages")
    return max(free, 0) + max(over, 0)


def _private_hugetlb_kb():
    """This process's private hugetlb memory, from the kernel's own accounting."""
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            if line.startswith("Private_Hugetlb:"):
                return int(line.split()[1])
    return 0


def _pool_bigger_than_available_hugepages():
    """(count, data_room) of a pool that needs more 2 MiB pages than can be had."""
    pages = _hugepages_available() + 1
    return 2 * pages + 1, MiB                       # each buffer a little over 1 MiB


@pytest.fixture
def reserved_hugepages():
    """Four more 2 MiB hugepages reserved for this test (root), given back
    afterwards. Other processes may hold or reserve pages meanwhile, so the
    fixture adds 4 and later takes 4 off the then-current value: alone on
    the machine that restores the old value; beside others it leaves their
    reservations alone."""
    require_root()
    require(os.access(f"{HUGEPAGES}/nr_hugepages", os.W_OK), f"{HUGEPAGES}/nr_hugepages is not writable")
    added = 4
    try:
        with open(f"{HUGEPAGES}/nr_hugepages", "w") as f:
            f.write(str(_hugepage_counter("nr_hugepages") + added))
        require(_hugepages_available() >= added, "the kernel could not reserve 4 hugepages")
        yield added
    finally:
        gc.collect()                                 # unmap pools of the test first
        with open(f"{HUGEPAGES}/nr_hugepages", "w") as f:
            f.write(str(max(_hugepage_counter("nr_hugepages") - added, 0)))


def test_required_hugepages_without_any_say_what_to_run():
    count, data_room = _pool_bigger_than_available_hugepages()
    with pytest.raises(MemoryError) as e:
        netchan.BufferPool(count, data_room, hugepages=True)
    msg = str(e.value)
    assert "as root, run `netchan hugepages --reserve " in msg
    assert f"{HUGEPAGES}/nr_hugepages`" in msg
    assert "hugepages='auto'" in msg


def test_auto_falls_back_to_normal_pages_without_hugepages():
    count, data_room = _pool_bigger_than_available_hugepages()
    for policy in ("auto", None, False):
        pool = netchan.BufferPool(count, data_room, hugepages=policy)
        assert pool.hugepages is False
        (i,) = pool.alloc(1)
        pool.write(i, b"normal pages")
        assert pool.read(i) == b"normal pages"


def test_hugepage_policy_must_be_one_of_the_three():
    with pytest.raises(ValueError, match="hugepages must be True, False or 'auto'"):
        netchan.BufferPool(4, hugepages="yes")


def test_reserved_hugepages_back_the_pool(reserved_hugepages):
    before = _private_hugetlb_kb()
    pool = netchan.BufferPool(512, 2048, hugepages=True)      # ~1.2 MiB: one 2 MiB page
    assert pool.hugepages is True
    assert _private_hugetlb_kb() - before == 2048            # the kernel agrees
    idx = pool.alloc(512)
    for i in idx:
        pool.write(i, i.to_bytes(4, "little") * 16)
    assert all(pool.read(i) == i.to_bytes(4, "little") * 16 for i in idx)
    assert pool.free(idx) == 512 and pool.in_use == 0
    auto = netchan.BufferPool(1024, 2048, hugepages="auto")  # >= 2 MiB: worth a page
    assert auto.hugepages is True
    never = netchan.BufferPool(1024, 2048, hugepages=False)
    assert never.hugepages is False
    del pool, auto, never
    gc.collect()
    assert _private_hugetlb_kb() == before                   # unmapped with the pools


# ---- shared pools --------------------------------------------------------------------

def test_shared_pool_names_and_files(shm_names):
    for bad in ("", "a/b", "/tmp/escape", "..", "."):
        with pytest.raises(ValueError, match="plain file name"):
            netchan.BufferPool.create_shared(bad, 4)
    assert not os.path.exists("/tmp/escape")
    name = shm_names()
    pool = netchan.BufferPool.create_shared(name, 4, hugepages=False)
    assert pool.path == f"/dev/shm/{name}" and os.path.exists(pool.path)
    with pytest.raises(FileExistsError):
        netchan.BufferPool.create_shared(name, 4, hugepages=False)
    # a pool that cannot be mapped leaves no file behind
    big = shm_names()
    with pytest.raises((OSError, MemoryError)):
        netchan.BufferPool.create_shared(big, (1 << 31) - 1, MiB, hugepages=False)
    assert not os.path.exists(f"/dev/shm/{big}")


def test_shared_hugepages_required_but_unavailable_say_what_to_run(shm_names):
    name = shm_names()
    mount = netchan.hugetlbfs_mount()
    if mount is None:
        with pytest.raises(MemoryError, match="mount -t hugetlbfs"):
            netchan.BufferPool.create_shared(name, 4, hugepages=True)
        assert not os.path.exists(f"/dev/shm/{name}")
    else:
        count, data_room = _pool_bigger_than_available_hugepages()
        with pytest.raises(MemoryError, match="nr_hugepages"):
            netchan.BufferPool.create_shared(name, count, data_room, hugepages=True)
        assert not os.path.exists(os.path.join(mount, name))


HUGETLBFS_CHILD = r"""
import json, os, sys
import netchan
mount, name, big, big_count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
report = {"mount": netchan.hugetlbfs_mount()}
pool = netchan.BufferPool.create_shared(name, 512, 2048, hugepages=True)
try:
    peer = netchan.BufferPool.attach_shared(pool.path)
    report.update(path=pool.path, huge=pool.hugepages, peer_huge=peer.hugepages)
    (i,) = pool.alloc(1)
    peer.write(i, b"via hugetlbfs")
    report["read"] = pool.read(i).decode()
    try:
        netchan.BufferPool.create_shared(big, big_count, 1 << 20, hugepages=True)
    except MemoryError as e:
        report["big_error"] = str(e)
    report["big_left"] = os.path.exists(os.path.join(mount, big))
finally:
    os.unlink(pool.path)
print(json.dumps(report))
"""


def test_shared_pool_on_hugetlbfs(reserved_hugepages, shm_names, tmp_path):
    """A shared pool on a hugetlbfs mounted in a private mount namespace (so
    no other process on the machine sees the mount; it goes with the child)."""
    require(subprocess.run(["which", "unshare"], capture_output=True).returncode == 0, "needs unshare")
    mount = str(tmp_path / "huge")
    os.mkdir(mount)
    name, big = shm_names(), shm_names()
    big_count, _ = _pool_bigger_than_available_hugepages()
    child = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         'mount -t hugetlbfs -o pagesize=2M nodev "$1" && shift && exec "$@"', "sh",
         mount, sys.executable, "-c", HUGETLBFS_CHILD, mount, name, big, str(big_count)],
        capture_output=True, text=True, timeout=60, env=child_env())
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout)
    assert report["mount"] == mount
    assert report["path"] == os.path.join(mount, name)
    assert report["huge"] is True and report["peer_huge"] is True
    assert report["read"] == "via hugetlbfs"
    assert "as root, run `netchan hugepages --reserve " in report["big_error"]
    assert "nr_hugepages" in report["big_error"]
    assert report["big_left"] is False
    assert os.listdir(mount) == []                  # the mount went with the namespace


def test_attach_checks_what_it_maps(shm_names):
    name = shm_names()
    pool = netchan.BufferPool.create_shared(name, 8, 512, hugepages=False)
    other = netchan.BufferPool.attach_shared(pool.path)
    assert (other.count, other.data_room, other.path) == (8, 512, pool.path)
    # not a pool
    junk = f"/dev/shm/{shm_names()}"
    with open(junk, "wb") as f:
        f.write(b"\x01" * 8192)
    with pytest.raises(ValueError, match="does not hold a netchan buffer pool"):
        netchan.BufferPool.attach_shared(junk)
    # a pool whose file lost its tail: the header no longer fits it
    short = f"/dev/shm/{shm_names()}"
    with open(pool.path, "rb") as src, open(short, "wb") as dst:
        dst.write(src.read(8192))
    with pytest.raises(ValueError, match="does not fit the file"):
        netchan.BufferPool.attach_shared(short)


OWNER_PEER = r"""
import json, sys, time
import netchan
pool_path, to_peer_path, to_owner_path, total, timeout = sys.argv[1:6]
total, deadline = int(total), time.monotonic() + float(timeout)
pool = netchan.BufferPool.attach_shared(pool_path)
to_peer = netchan.Channel.attach_shared(to_peer_path)
to_owner = netchan.Channel.attach_shared(to_owner_path)
report = {"count": pool.count, "data_room": pool.data_room, "bad": [], "permission": []}
for attempt in (lambda: pool.alloc(1), lambda: pool.free([0])):
    try:
        attempt()
    except PermissionError as e:
        report["permission"].append(str(e))

def payload(seq, idx):
    return f"seq={seq} buf={idx} ".encode() * (1 + seq % 7)

seq = 0
pending = []
while seq < total or pending:
    if time.monotonic() > deadline:
        report["timeout"] = True
        break
    for idx in to_peer.dequeue_burst(32):
        if pool.read(idx) != payload(seq, idx):
            report["bad"].append([seq, idx])
        pool.write(idx, f"ack {seq}".encode())      # the peer writes in place too
        pending.append(idx)
        seq += 1
    if pending:
        pending = pending[to_owner.enqueue_burst(pending):]
report["received"] = seq
print(json.dumps(report))
"""


def test_shared_pool_hands_buffers_between_processes(shm_names):
    """The owner allocates and fills buffers, passes their indices to a
    peer process through one channel; the peer checks each payload, writes
    an ack in place and passes the index back through another; the owner
    checks the ack and frees. Every buffer exactly once, in order."""
    total = 20_000
    pool = netchan.BufferPool.create_shared(shm_names(), 64, 512, hugepages=False)
    to_peer_path = f"/dev/shm/{shm_names()}"
    to_owner_path = f"/dev/shm/{shm_names()}"
    to_peer = netchan.Channel.create_shared(to_peer_path, 32)
    to_owner = netchan.Channel.create_shared(to_owner_path, 32)

    def payload(seq, idx):
        return f"seq={seq} buf={idx} ".encode() * (1 + seq % 7)

    peer = subprocess.Popen(
        [sys.executable, "-c", OWNER_PEER, pool.path, to_peer_path, to_owner_path, str(total), "120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
    sent = []           # indices in the order handed to the peer
    returned = []       # indices in the order they came back
    unsent = []         # allocated and filled, not yet in the channel
    seq = 0
    bad_acks = []
    try:
        deadline = time.monotonic() + 120
        while len(returned) < total:
            assert time.monotonic() < deadline, f"only {len(returned)} of {total} buffers came back"
            if peer.poll() is not None and len(to_owner) == 0:
                pytest.fail(f"the peer exited early: {peer.communicate()}")
            want = min(total - seq, pool.count - pool.in_use, 16)
            for idx in pool.alloc(want):
                pool.write(idx, payload(seq, idx))
                unsent.append(idx)
                seq += 1
            k = to_peer.enqueue_burst(unsent)
            sent += unsent[:k]
            unsent = unsent[k:]
            back = to_owner.dequeue_burst(32)
            for idx in back:
                if pool.read(idx) != f"ack {len(returned)}".encode():
                    bad_acks.append((len(returned), idx))
                returned.append(idx)
            assert pool.free(back) == len(back)
        out, err = peer.communicate(timeout=60)
    finally:
        if peer.poll() is None:
            peer.kill()
            peer.wait()
    assert peer.returncode == 0, err
    report = json.loads(out)
    assert report["received"] == total and "timeout" not in report
    assert report["bad"] == [] and bad_acks == []
    assert (report["count"], report["data_room"]) == (64, 512)
    assert len(report["permission"]) == 2
    assert all("only the process that created a pool" in m for m in report["permission"])
    assert returned == sent and len(sent) == total       # each buffer once, in order
    assert pool.in_use == 0
    assert (pool.double_free, pool.alloc_failed) == (0, 0)
    assert len(to_peer) == len(to_owner) == 0
