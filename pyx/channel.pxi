# Channel: the SPSC ring of include/netchan/ring.h as a Python object.
#
# The stack embeds rings directly (one per socket, one per link direction);
# this class exists so that tests and tools can drive a ring from Python,
# from two threads (the stress loops release the GIL) or from two processes
# (a ring placed in a shared file).

cdef class Channel:
    """A bounded single-producer/single-consumer ring of 32-bit indices.

    Channel(size) makes a private ring; Channel.create_shared(path, size) and
    Channel.attach_shared(path) place one in a shared file so that one process
    produces and another consumes."""
    cdef nc_ring *ring
    cdef MappedRegion region

    def __init__(self, uint32_t size):
        self._setup(map_private(nc_ring_memsize(size), False), size, True)

    cdef _setup(self, MappedRegion region, uint32_t size, bint init):
        if init and (size < 2 or size > NC_RING_MAX_SIZE or not nc_is_pow2(size)):
            raise ValueError(f"channel size must be a power of two in [2, 2**31], not {size}")
        self.region = region
        self.ring = <nc_ring *>region.ptr
        if init:
            nc_ring_init(self.ring, size)

    @staticmethod
    def create_shared(str path, uint32_t size):
        """Create a ring in a new file at path (e.g. under /dev/shm)."""
        if size < 2 or size > NC_RING_MAX_SIZE or not nc_is_pow2(size):
            raise ValueError(f"channel size must be a power of two in [2, 2**31], not {size}")
        cdef size_t n = round_up(nc_ring_memsize(size), PAGE_SIZE)
        fd = _os.open(path, _os.O_RDWR | _os.O_CREAT | _os.O_EXCL, 0o600)
        try:
            _os.ftruncate(fd, n)
            region = map_fd(fd, n, False, path)
        finally:
            _os.close(fd)
        cdef Channel ch = Channel.__new__(Channel)
        ch._setup(region, size, True)
        return ch

    @staticmethod
    def attach_shared(str path):
        """Map a ring that another process created with create_shared."""
        fd = _os.open(path, _os.O_RDWR)
        try:
            n = _os.fstat(fd).st_size
            region = map_fd(fd, n, False, path)
        finally:
            _os.close(fd)
        cdef Channel ch = Channel.__new__(Channel)
        ch._setup(region, 0, False)
        if ch.ring.magic != 0x4e43524e:
            raise ValueError(f"{path} does not hold a netchan channel")
        return ch

    @property
    def size(self):
        return self.ring.size

    def __len__(self):
        return nc_ring_count(self.ring)

    @property
    def free(self):
        return nc_ring_free_count(self.ring)

    def enqueue_burst(self, values):
        """Enqueue as many of values as fit; returns how many."""
        cdef uint32_t tmp[64]
        cdef uint32_t done = 0, k, i, got
        vals = list(values)
        while done < len(vals):
            k = min(64, len(vals) - done)
            for i in range(k):
                tmp[i] = vals[done + i]
            got = nc_ring_enqueue_burst(self.ring, tmp, k)
            done += got
            if got < k:
                break
        return done

    def enqueue_bulk(self, values):
        """Enqueue all of values or none (at most 64); returns True if done."""
        cdef uint32_t tmp[64]
        vals = list(values)
        if len(vals) > 64:
            raise ValueError("enqueue_bulk takes at most 64 values")
        for i in range(len(vals)):
            tmp[i] = vals[i]
        return nc_ring_enqueue_bulk(self.ring, tmp, len(vals)) == len(vals)

    def dequeue_burst(self, uint32_t n):
        """Dequeue up to n values (at most 64)."""
        cdef uint32_t tmp[64]
        if n > 64:
            raise ValueError("dequeue_burst takes at most 64")
        cdef uint32_t got = nc_ring_dequeue_burst(self.ring, tmp, n)
        return [tmp[i] for i in range(got)]

    def dequeue_bulk(self, uint32_t n):
        """Dequeue exactly n values or none; returns a list (empty if fewer were there)."""
        cdef uint32_t tmp[64]
        if n > 64:
            raise ValueError("dequeue_bulk takes at most 64")
        cdef uint32_t got = nc_ring_dequeue_bulk(self.ring, tmp, n)
        return [tmp[i] for i in range(got)]

    def produce_sequence(self, uint32_t start, uint64_t count, uint32_t burst=32):
        """Enqueue start, start+1, ... (count values, mod 2^32) in bursts,
        spinning while full, with the GIL released. Returns full-ring spins."""
        cdef uint32_t tmp[256]
        cdef uint64_t sent = 0, spins = 0
        cdef uint32_t k, i, got, off
        if burst == 0 or burst > 256:
            raise ValueError("burst must be in 1..256")
        with nogil:
            while sent < count:
                k = burst if count - sent > burst else <uint32_t>(count - sent)
                for i in range(k):
                    tmp[i] = <uint32_t>(start + sent + i)
                off = 0
                while off < k:
                    got = nc_ring_enqueue_burst(self.ring, tmp + off, k - off)
                    if got == 0:
                        spins += 1
                        nc_cpu_relax()
                        if spins % 1024 == 0:
                            sysc.sched_yield()
                    off += got
                sent += k
        return spins

    def consume_sequence(self, uint32_t start, uint64_t count, uint32_t burst=32):
        """Dequeue count values in bursts with the GIL released, checking that
        they are start, start+1, ... Returns (errors, first_bad_index, got)."""
        cdef uint32_t tmp[256]
        cdef uint64_t seen = 0, errors = 0, first_bad = <uint64_t>-1, spins = 0
        cdef uint32_t got, i, want
        if burst == 0 or burst > 256:
            raise ValueError("burst must be in 1..256")
        with nogil:
            while seen < count:
                want = burst if count - seen > burst else <uint32_t>(count - seen)
                got = nc_ring_dequeue_burst(self.ring, tmp, want)
                if got == 0:
                    spins += 1
                    nc_cpu_relax()
                    if spins % 1024 == 0:
                        sysc.sched_yield()
                    continue
                for i in range(got):
                    if tmp[i] != <uint32_t>(start + seen + i):
                        if errors == 0:
                            first_bad = seen + i
                        errors += 1
                seen += got
        return errors, (None if first_bad == <uint64_t>-1 else first_bad), seen
