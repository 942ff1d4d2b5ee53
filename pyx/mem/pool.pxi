# BufferPool: fixed-size packet buffers in one mapped region, as a Python
# object. The stack's ports lay out the same structures (nc_pool +
# nc_freestack from buf.h) inside their own regions; this class is the
# standalone form for tests and tools, and shows the layout:
#
#   [pool header: 1 cache line][free stack][slots: count x stride]
#
# Placed in a shared file, a second process can attach and read or write
# buffers by index; only the creating process allocates and frees (the free
# stack has a single owner, as every structure here does).

cdef struct PoolHeader:
    uint32_t magic
    uint32_t count
    uint32_t stride
    uint32_t data_room
    uint64_t slots_offset
    uint64_t alloc_failed
    uint64_t double_free


cdef uint32_t POOL_MAGIC = 0x4e43504c   # "NCPL"


cdef class BufferPool:
    """count buffers of data_room bytes each (plus header and headroom).

    hugepages: None/'auto' uses 2 MiB pages when enough are reserved, True
    requires them, False never uses them. The `hugepages` attribute says what
    was obtained."""
    cdef MappedRegion region
    cdef PoolHeader *hdr
    cdef nc_freestack *fs
    cdef nc_pool pool
    cdef bint owner

    def __init__(self, count, data_room=2048, hugepages=None):
        BufferPool._check(count, data_room)
        self.region = map_private(BufferPool._memsize(count, data_room), hugepages)
        self._format(count, data_room)

    @staticmethod
    cdef size_t _memsize(uint32_t count, uint32_t data_room):
        return (round_up(sizeof(PoolHeader) + nc_freestack_memsize(count), 4096)
                + <size_t>count * nc_pool_stride_for(data_room))

    @staticmethod
    def _check(count, data_room):
        # on the Python ints, so that -1 or 2**32 get these messages too
        # rather than an OverflowError from the uint32_t conversion
        if not isinstance(count, int) or count < 1 or count > NC_BUF_SLOT_MASK:
            raise ValueError(f"buffer count must be in 1..{NC_BUF_SLOT_MASK}, not {count!r}")
        if not isinstance(data_room, int) or data_room < 64 or data_room > 1 << 20:
            raise ValueError(f"data_room must be in 64..{1 << 20} (1 MiB), not {data_room!r}")

    cdef _bind(self):
        self.hdr = <PoolHeader *>self.region.ptr
        self.fs = <nc_freestack *>(self.region.ptr + round_up(sizeof(PoolHeader), 64))
        self.pool.base = self.region.ptr + self.hdr.slots_offset
        self.pool.stride = self.hdr.stride
        self.pool.hdr_off = 0
        self.pool.count = self.hdr.count
        self.pool.data_room = self.hdr.data_room

    cdef _format(self, uint32_t count, uint32_t data_room):
        self.hdr = <PoolHeader *>self.region.ptr
        self.hdr.count = count
        self.hdr.stride = nc_pool_stride_for(data_room)
        self.hdr.data_room = data_room
        self.hdr.slots_offset = round_up(sizeof(PoolHeader) + nc_freestack_memsize(count), 4096)
        self.hdr.alloc_failed = 0
        self.hdr.double_free = 0
        self._bind()
        nc_freestack_init_full(self.fs, count)
        nc_pool_format(&self.pool)
        self.owner = True
        # release: an attacher that sees the magic sees the formatted pool
        nc_store_release_u32(&self.hdr.magic, POOL_MAGIC)

    @staticmethod
    def create_shared(str name, count, data_room=2048, hugepages=None):
        """A pool in a named shared file (hugetlbfs when hugepages are
        reserved and mounted, else /dev/shm). The creator owns allocation."""
        BufferPool._check(count, data_room)
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"shared pool name must be a plain file name, not {name!r}")
        path, huge, size = shared_file_path(name, BufferPool._memsize(count, data_room), hugepages)
        fd = _os.open(path, _os.O_RDWR | _os.O_CREAT | _os.O_EXCL, 0o600)
        try:
            _os.ftruncate(fd, size)
            try:
                region = map_fd(fd, size, huge, path)
            except OSError as e:
                if huge and e.errno == _errno.ENOMEM:
                    # hugetlbfs reserves the pages at mmap: too few are free
                    raise MemoryError(f"no hugepages for the shared pool {path}: "
                                      f"{_hugepages.reserve_hint(size)}; or pass hugepages='auto'") from e
                raise
        except BaseException:
            _os.unlink(path)        # ours (O_EXCL): leave nothing half-made behind
            raise
        finally:
            _os.close(fd)
        cdef BufferPool bp = BufferPool.__new__(BufferPool)
        bp.region = region
        bp._format(count, data_room)
        return bp

    @staticmethod
    def attach_shared(str path):
        """Map a pool another process created; read and write buffers only."""
        fd = _os.open(path, _os.O_RDWR)
        try:
            size = _os.fstat(fd).st_size
            region = map_fd(fd, size, path.startswith(_hugepages.mount_for() or "\0"), path)
        finally:
            _os.close(fd)
        cdef BufferPool bp = BufferPool.__new__(BufferPool)
        bp.region = region
        bp.hdr = <PoolHeader *>region.ptr
        if size < sizeof(PoolHeader) or nc_load_acquire_u32(&bp.hdr.magic) != POOL_MAGIC:
            raise ValueError(f"{path} does not hold a netchan buffer pool")
        # the header comes from another process: check it against the file
        # before trusting any offset in it
        if (bp.hdr.count == 0 or bp.hdr.count > NC_BUF_SLOT_MASK
                or bp.hdr.stride < nc_pool_stride_for(bp.hdr.data_room)
                or bp.hdr.slots_offset < sizeof(PoolHeader) + nc_freestack_memsize(bp.hdr.count)
                or bp.hdr.slots_offset + <uint64_t>bp.hdr.count * bp.hdr.stride > size):
            raise ValueError(f"{path}: the pool header does not fit the file ({size} bytes)")
        bp._bind()
        bp.owner = False
        return bp

    @property
    def path(self):
        return self.region.path

    @property
    def hugepages(self):
        return bool(self.region.hugepages)

    @property
    def count(self):
        return self.pool.count

    @property
    def data_room(self):
        return self.pool.data_room

    @property
    def in_use(self):
        return self.pool.count - self.fs.count

    @property
    def alloc_failed(self):
        return self.hdr.alloc_failed

    @property
    def double_free(self):
        return self.hdr.double_free

    cdef _need_owner(self):
        if not self.owner:
            raise PermissionError("only the process that created a pool allocates and frees")

    def alloc(self, uint32_t n):
        """Allocate up to n buffers in one burst; returns their indices (fewer
        than n when the pool runs short; each shortfall is counted)."""
        self._need_owner()
        cdef uint32_t *tmp = <uint32_t *>malloc(max(n, 1) * 4)
        if tmp == NULL:
            raise MemoryError()
        try:
            got = nc_pool_alloc_burst(&self.pool, self.fs, tmp, n, 0)
            if got < n:
                self.hdr.alloc_failed += n - got
            return [tmp[i] for i in range(got)]
        finally:
            free(tmp)

    def free(self, indices):
        """Return buffers in one burst. A double free or an index that is not
        this pool's is refused and counted in double_free."""
        self._need_owner()
        vals = list(indices)
        cdef uint32_t n = len(vals)
        cdef uint32_t *tmp = <uint32_t *>malloc(max(n, 1) * 4)
        if tmp == NULL:
            raise MemoryError()
        try:
            for i in range(n):
                tmp[i] = vals[i]
                if tmp[i] & NC_BUF_POOL_BIT:
                    # this pool hands out pool-bit-0 indices only; the C free
                    # ignores the bit (a port picks the pool by it), so an
                    # alias of a live slot must be refused here
                    tmp[i] = NC_BUF_SLOT_MASK   # >= count: refused and counted
            bad = nc_pool_free_burst(&self.pool, self.fs, tmp, n)
            self.hdr.double_free += bad
            return n - bad
        finally:
            free(tmp)

    cdef nc_buf *_buf(self, uint32_t idx) except NULL:
        if idx >= self.pool.count:      # also refuses a pool-bit alias of a slot
            raise IndexError(f"buffer {idx} is not in this pool of {self.pool.count}")
        return nc_pool_buf(&self.pool, idx)

    cdef uint32_t _capacity(self, nc_buf *b, uint32_t idx) except? 0:
        # Bytes from the data start to the end of the slot. The header may
        # have been written by the other process of a shared pool: trust the
        # pool's geometry, never the header's own room, and refuse a data
        # start outside the slot.
        cdef uint32_t slot_room = self.pool.stride - self.pool.hdr_off
        if b.data_off < sizeof(nc_buf) or b.data_off > slot_room:
            raise ValueError(f"buffer {idx}: corrupt header (data offset {b.data_off} "
                             f"outside a slot of {slot_room} bytes)")
        return slot_room - b.data_off

    def write(self, uint32_t idx, const uint8_t[:] data):
        """Set buffer idx's data to `data` (for tests and tools)."""
        cdef nc_buf *b = self._buf(idx)
        cdef uint32_t cap = self._capacity(b, idx)
        if <size_t>data.shape[0] > cap:
            raise ValueError(f"{data.shape[0]} bytes do not fit in buffer {idx}: "
                             f"it holds {cap} (data_room {self.pool.data_room} plus rounding)")
        cdef uint32_t n = <uint32_t>data.shape[0]
        if n:
            memcpy(nc_buf_data(b), &data[0], n)
        b.len = n

    def read(self, uint32_t idx):
        """A copy of buffer idx's data."""
        cdef nc_buf *b = self._buf(idx)
        cdef uint32_t cap = self._capacity(b, idx)
        if b.len > cap:
            raise ValueError(f"buffer {idx}: corrupt header ({b.len} bytes, room for {cap})")
        return PyBytes_FromStringAndSize(<char *>nc_buf_data(b), b.len)
