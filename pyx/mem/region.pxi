# Mapped memory: hugepage-backed when pages are reserved, normal pages
# otherwise. Every region netchan maps goes through here so that the policy
# (and its reporting in stats) is in one place.

cdef size_t HUGEPAGE_SIZE = 2 * 1024 * 1024
cdef size_t PAGE_SIZE = 4096

# what is reserved, free and mounted is read in one place: netchan.hugepages
from netchan import hugepages as _hugepages


cdef inline size_t round_up(size_t n, size_t to) noexcept nogil:
    return (n + to - 1) // to * to


cdef class MappedRegion:
    """One mmap'd region, unmapped when the object dies. `hugepages` says
    whether 2 MiB pages back it; `path` names the backing file of a shared
    region (None for private memory)."""

    def __cinit__(self):
        self.ptr = NULL
        self.size = 0

    def __dealloc__(self):
        if self.ptr != NULL:
            sysc.munmap(self.ptr, self.size)
            self.ptr = NULL

    @property
    def address(self):
        return <uintptr_t>self.ptr

    def __repr__(self):
        return (f"MappedRegion(size={self.size}, hugepages={bool(self.hugepages)}, "
                f"path={self.path!r})")


cdef bint _want_hugepages(object hugepages, size_t size) except -1:
    if hugepages is None or hugepages == "auto":
        return size >= HUGEPAGE_SIZE and _hugepages.free_bytes() >= round_up(size, HUGEPAGE_SIZE)
    if hugepages is True:
        return True
    if hugepages is False:
        return False
    raise ValueError(f"hugepages must be True, False or 'auto', not {hugepages!r}")


cdef MappedRegion map_private(size_t size, object hugepages=None):
    """Private zeroed memory. hugepages: True (required: raise if none are
    reserved), False, or None/'auto' (use them when enough are free)."""
    cdef MappedRegion r = MappedRegion.__new__(MappedRegion)
    cdef void *p = sysc.MAP_FAILED
    cdef bint want = _want_hugepages(hugepages, size)
    cdef size_t hsize
    if want:
        hsize = round_up(size, HUGEPAGE_SIZE)
        p = sysc.mmap(NULL, hsize, sysc.PROT_READ | sysc.PROT_WRITE,
                      sysc.MAP_PRIVATE | sysc.MAP_ANONYMOUS | sysc.MAP_HUGETLB, -1, 0)
        if p != sysc.MAP_FAILED:
            r.ptr = <uint8_t *>p
            r.size = hsize
            r.hugepages = True
            r.path = None
            return r
        if hugepages is True:
            raise MemoryError(
                f"no hugepages for {hsize >> 20} MiB: {_hugepages.reserve_hint(hsize)}; "
                f"or pass hugepages='auto' to fall back to normal pages")
    size = round_up(size, PAGE_SIZE)
    p = sysc.mmap(NULL, size, sysc.PROT_READ | sysc.PROT_WRITE,
                  sysc.MAP_PRIVATE | sysc.MAP_ANONYMOUS, -1, 0)
    if p == sysc.MAP_FAILED:
        raise MemoryError(f"mmap of {size} bytes failed")
    r.ptr = <uint8_t *>p
    r.size = size
    r.hugepages = False
    r.path = None
    return r


cdef MappedRegion map_fd(int fd, size_t size, bint hugepages, object path):
    """Map an already sized shared file."""
    cdef MappedRegion r = MappedRegion.__new__(MappedRegion)
    cdef void *p = sysc.mmap(NULL, size, sysc.PROT_READ | sysc.PROT_WRITE, sysc.MAP_SHARED, fd, 0)
    if p == sysc.MAP_FAILED:
        raise OSError(sysc.errno, f"mmap of {path} ({size} bytes): {_os.strerror(sysc.errno)}")
    r.ptr = <uint8_t *>p
    r.size = size
    r.hugepages = hugepages
    r.path = path
    return r


def shared_file_path(str name, size_t size, object hugepages=None):
    """Where a named shared region lives: on hugetlbfs when hugepages are
    wanted and mounted, else in /dev/shm. Returns (path, hugepages, size)."""
    mount = _hugepages.mount_for()
    if mount is not None and _want_hugepages(hugepages, size):
        return _os.path.join(mount, name), True, round_up(size, HUGEPAGE_SIZE)
    if hugepages is True:
        raise MemoryError(
            "hugepages were required for a shared region but no hugetlbfs is mounted: "
            "as root, run `mkdir -p /dev/hugepages && mount -t hugetlbfs -o pagesize=2M "
            f"nodev /dev/hugepages`; {_hugepages.reserve_hint(size)}; or pass hugepages='auto'")
    return _os.path.join("/dev/shm", name), False, round_up(size, PAGE_SIZE)
