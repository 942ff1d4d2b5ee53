# The writer's side of the stats segment: a Stack's counters live in shared
# memory so that `netchan stats` can read a running stack from another
# process. The layout is netchan.stats_segment's (one place for writer and
# reader); this file only points the C counters into it.

# struct nc_port_stats field by field, from its one list (NC_PORT_STATS in
# include/netchan/port.h)
PORT_STAT_FIELDS = tuple([nc_port_stat_name(i).decode() for i in range(NC_PORT_STAT_COUNT)])

_stats_seq = 0


cdef tuple stats_segment_open(Stack stack, bint export):
    """(region, path): a segment in /dev/shm when `export` (path None
    otherwise: private memory), with st.ctr, st.wire_err and st.stats_ports
    pointing into it and the magic published last."""
    global _stats_seq
    from netchan import stats_segment as layout
    cdef StackState *st = stack.st
    cdef MappedRegion region
    cdef uint32_t *words
    kinds = []
    p = stack.port
    while p is not None:
        kinds.append(type(p).__name__)
        p = p.inner
    head = layout.encode_header(C_COUNT, WIRE_ERROR_COUNT - 1, {
        "pid": _os.getpid(), "uri": stack.uri, "ip": stack.ip, "mac": stack.mac,
        "addresses": stack.addresses,
        "counters": list(COUNTER_NAMES), "wire": list(WIRE_ERROR_NAMES[1:]),
        "port_fields": list(PORT_STAT_FIELDS), "ports": kinds[:layout.PORT_SLOTS],
    })
    if sizeof(nc_port_stats) != 8 * len(PORT_STAT_FIELDS):
        raise AssertionError("struct nc_port_stats is not all uint64 counters")
    cdef size_t size = round_up(layout.segment_size(C_COUNT, WIRE_ERROR_COUNT - 1,
                                                    len(PORT_STAT_FIELDS)), PAGE_SIZE)
    path = None
    if export:
        layout.remove_stale_segments_once()
        _stats_seq += 1
        fd, path = layout.create(_stats_seq, size)
        try:
            region = map_fd(fd, size, False, path)
        except BaseException:
            _os.unlink(path)
            raise
        finally:
            _os.close(fd)
    else:
        region = map_private(size, False)
    memcpy(region.ptr, <const char *>head, len(head))
    st.ctr = <uint64_t *>(region.ptr + <size_t>layout.HEADER)
    st.wire_err = st.ctr + C_COUNT
    st.stats_ports = <nc_port_stats *>(st.wire_err + WIRE_ERROR_COUNT)
    # a reader trusts the header once it sees the magic: pairs with the
    # reader's check of word 0 (netchan.stats_segment.read_segment)
    words = <uint32_t *>region.ptr
    nc_store_release_u32(&words[0], layout.MAGIC)
    return region, path
