# Channel: the SPSC ring of include/netchan/ring.h as a Python object.
#
# The stack embeds rings directly (one per socket, one per link direction);
# this class exists so that tests and tools can drive a ring from Python,
# from two threads (the stress loops release the GIL) or from two processes
# (a ring placed in a shared file).

cdef uint32_t _channel_size(object size) except 0:
    # Checked on the Python int, so that 2**32 or -1 get the same clear
    # message as 3 instead of an OverflowError from the uint32_t conversion.
    if not isinstance(size, int) or size < 2 or size > NC_RING_MAX_SIZE or size & (size - 1):
        raise ValueError(f"channel size must be a power of two in [2, 2**31], not {size!r}")
    return <uint32_t>size


cdef uint64_t _spin_deadline(object timeout) except? 0:
    # 0 = spin forever. The deadline is checked only every 1024 empty spins,
    # so it costs nothing while values flow.
    if timeout is None:
        return 0
    if timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds or None, not {timeout!r}")
    return mono_ns() + <uint64_t>(timeout * 1e9)


cdef class Channel:
    """A bounded single-producer/single-consumer ring of 32-bit indices.

    Channel(size) makes a private ring; Channel.create_shared(path, size) and
    Channel.attach_shared(path) place one in a shared file so that one process
    produces and another consumes."""

    def __init__(self, size):
        cdef uint32_t n = _channel_size(size)
        self._setup(map_private(nc_ring_memsize(n), False), n, True)

    cdef _setup(self, MappedRegion region, uint32_t size, bint init):
        self.region = region
        self.ring = <nc_ring *>region.ptr
        if init:
            nc_ring_init(self.ring, size)

    @staticmethod
    def create_shared(str path, size):
        """Create a ring in a new file at path (e.g. under /dev/shm)."""
        cdef uint32_t nslots = _channel_size(size)
        cdef size_t n = round_up(nc_ring_memsize(nslots), PAGE_SIZE)
        fd = _os.open(path, _os.O_RDWR | _os.O_CREAT | _os.O_EXCL, 0o600)
        try:
            _os.ftruncate(fd, n)
            region = map_fd(fd, n, False, path)
        except BaseException:
            _os.unlink(path)        # ours (O_EXCL): leave nothing half-made behind
            raise
        finally:
            _os.close(fd)
        cdef Channel ch = Channel.__new__(Channel)
        ch._setup(region, nslots, True)
        return ch

    @staticmethod
    def attach_shared(str path):
        """Map a ring that another process created with create_shared."""
        fd = _os.open(path, _os.O_RDWR)
        try:
            n = _os.fstat(fd).st_size
            if n < sizeof(nc_ring):
                raise ValueError(f"{path} does not hold a netchan channel ({n} bytes)")
            region = map_fd(fd, n, False, path)
        finally:
            _os.close(fd)
        cdef Channel ch = Channel.__new__(Channel)
        ch._setup(region, 0, False)
        if not nc_ring_published(ch.ring):     # acquire; pairs with nc_ring_init's release
            raise ValueError(f"{path} does not hold a netchan channel")
        # the geometry comes from another process: the slots must lie inside the file
        cdef uint32_t size = ch.ring.size
        if (size < 2 or size > NC_RING_MAX_SIZE or not nc_is_pow2(size)
                or ch.ring.mask != size - 1 or nc_ring_memsize(size) > <size_t>n):
            raise ValueError(f"{path}: the channel header (size {size}) does not fit the file ({n} bytes)")
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

    def produce_sequence(self, uint32_t start, uint64_t count, uint32_t burst=32, timeout=None):
        """Enqueue start, start+1, ... (count values, mod 2^32) in bursts,
        spinning while full, with the GIL released. Returns full-ring spins.
        timeout (seconds for the whole call): raise TimeoutError if not done
        by then, so that a consumer that died cannot hang the producer."""
        cdef uint32_t tmp[256]
        cdef uint64_t sent = 0, spins = 0
        cdef uint32_t k, i, got, off = 0
        cdef uint64_t deadline = _spin_deadline(timeout)
        cdef bint timed_out = False
        if burst == 0 or burst > 256:
            raise ValueError("burst must be in 1..256")
        with nogil:
            while sent < count and not timed_out:
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
                            if deadline and mono_ns() > deadline:
                                timed_out = True
                                break
                    off += got
                sent += off
        if timed_out:
            raise TimeoutError(f"produce_sequence did not finish within {timeout} s (ring full): "
                               f"{sent} of {count} values enqueued")
        return spins

    def consume_sequence(self, uint32_t start, uint64_t count, uint32_t burst=32, timeout=None):
        """Dequeue count values in bursts with the GIL released, checking that
        they are start, start+1, ... Returns (errors, first_bad_index, got).
        timeout (seconds for the whole call): raise TimeoutError if not done
        by then, so that a producer that died cannot hang the consumer."""
        cdef uint32_t tmp[256]
        cdef uint64_t seen = 0, errors = 0, first_bad = <uint64_t>-1, spins = 0
        cdef uint32_t got, i, want
        cdef uint64_t deadline = _spin_deadline(timeout)
        cdef bint timed_out = False
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
                        if deadline and mono_ns() > deadline:
                            timed_out = True
                            break
                    continue
                for i in range(got):
                    if tmp[i] != <uint32_t>(start + seen + i):
                        if errors == 0:
                            first_bad = seen + i
                        errors += 1
                seen += got
        if timed_out:
            raise TimeoutError(f"consume_sequence did not finish within {timeout} s (ring empty): "
                               f"{seen} of {count} values arrived, {errors} out of order")
        return errors, (None if first_bad == <uint64_t>-1 else first_bad), seen
