/* netchan's port vtable (include/netchan/port.h) over one AF_XDP socket,
 * through libxdp's xsk.h (which also loads the default redirect program).
 * ncxsk.h has the UMEM layout and the functions Python calls
 * (python/netchan/xdp.py, through the cffi module netchan._xdp).
 *
 * The stack calls rx_burst/tx_burst/alloc_burst/free_burst through
 * nc_port.ops: one indirect call per burst, no GIL, no allocation. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include "netchan/csum_partial.h"
#include "ncxsk.h"

#ifndef SOL_XDP
#define SOL_XDP 283
#endif

#define XSK_FRAME_SHIFT 12
#define XSK_BATCH 64u      /* completions / fill entries handled per step */
#define XSK_MIN_REFILL 32u /* top the fill ring up by at least this many at once */

_Static_assert(NETCHAN_XSK_FRAME_SIZE == 1u << XSK_FRAME_SHIFT, "frame shift");
_Static_assert(sizeof(struct nc_buf) == NETCHAN_XSK_FRAME_HEADROOM,
               "the UMEM frame headroom holds struct nc_buf exactly");

struct nc_xsk {
    struct nc_port port;          /* first: an nc_port* is an nc_xsk* */
    struct xsk_ring_prod fq, tx;
    struct xsk_ring_cons cq, rx;
    struct xsk_umem *umem;
    struct xsk_socket *xsk;
    uint8_t *area;
    size_t area_len;
    struct nc_freestack *fs;
    int fd;
    uint32_t nframes;
    uint32_t reserve;             /* frames the fill ring leaves for transmit */
    uint32_t ring_size;
    int zerocopy, skb_mode, need_wakeup, closed;
    uint64_t tx_kicks, fill_kicks, fill_short, tx_ring_full, tx_invalid, rx_invalid,
             rx_csum_partial;
};

_Static_assert(offsetof(struct nc_xsk, port) == 0, "an nc_port* is an nc_xsk*");

/* ---- libxdp/libbpf messages: kept, not printed ------------------------- */

static char xsk_log[512];

static void xsk_log_keep(const char *fmt, va_list ap)
{
    char line[256];
    size_t n;
    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = 0;
    if (n)
        snprintf(xsk_log, sizeof(xsk_log), "%s", line);
}

static int xsk_log_libxdp(enum libxdp_print_level level, const char *fmt, va_list ap)
{
    if (level == LIBXDP_WARN)
        xsk_log_keep(fmt, ap);
    return 0;
}

static int xsk_log_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    if (level == LIBBPF_WARN)
        xsk_log_keep(fmt, ap);
    return 0;
}

const char *netchan_xsk_last_log(void)
{
    return xsk_log;
}

/* ---- buffers ------------------------------------------------------------ */

/* Completed transmissions back to the free stack. */
static void xsk_reap(struct nc_xsk *x)
{
    uint32_t idx, k, slots[XSK_BATCH];
    while ((k = xsk_ring_cons__peek(&x->cq, XSK_BATCH, &idx)) != 0) {
        for (uint32_t i = 0; i < k; i++)
            slots[i] = (uint32_t)(*xsk_ring_cons__comp_addr(&x->cq, idx + i) >> XSK_FRAME_SHIFT);
        xsk_ring_cons__release(&x->cq, k);
        x->port.stats.double_free += nc_pool_free_burst(&x->port.pools[0], x->fs, slots, k);
    }
}

/* Top the fill ring up from the free stack, leaving `reserve` frames for
 * transmit; kick the driver if it said it needs it. */
static void xsk_refill(struct nc_xsk *x)
{
    uint32_t avail = x->fs->count > x->reserve ? x->fs->count - x->reserve : 0;
    uint32_t room = xsk_prod_nb_free(&x->fq, x->ring_size);
    uint32_t want = room < avail ? room : avail, idx, got, slots[XSK_BATCH];
    if (room >= XSK_MIN_REFILL && avail < XSK_MIN_REFILL)
        x->fill_short++;
    if (want >= XSK_MIN_REFILL || (want && room == x->ring_size)) {
        while (want) {
            uint32_t k = want < XSK_BATCH ? want : XSK_BATCH;
            if (xsk_ring_prod__reserve(&x->fq, k, &idx) != k)
                break;
            got = nc_freestack_pop_burst(x->fs, slots, k);   /* k <= avail: all of them */
            for (uint32_t i = 0; i < got; i++) {
                nc_pool_buf(&x->port.pools[0], slots[i])->flags = 0;   /* the kernel's now */
                *xsk_ring_prod__fill_addr(&x->fq, idx + i) = (uint64_t)slots[i] << XSK_FRAME_SHIFT;
            }
            xsk_ring_prod__submit(&x->fq, got);
            want -= k;
        }
    }
    if (x->need_wakeup && xsk_ring_prod__needs_wakeup(&x->fq)) {
        recvfrom(x->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
        x->fill_kicks++;
    }
}

/* ---- the vtable --------------------------------------------------------- */

static uint32_t xsk_rx_burst(struct nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now)
{
    struct nc_xsk *x = (struct nc_xsk *)p;
    uint32_t idx, k, got = 0;
    if (nc_unlikely(x->closed))
        return 0;
    xsk_reap(x);
    xsk_refill(x);
    k = xsk_ring_cons__peek(&x->rx, n, &idx);
    for (uint32_t i = 0; i < k; i++) {
        const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx, idx + i);
        uint32_t slot = (uint32_t)(d->addr >> XSK_FRAME_SHIFT);
        uint32_t off = (uint32_t)(d->addr & (NETCHAN_XSK_FRAME_SIZE - 1));
        struct nc_buf *h;
        if (nc_unlikely(slot >= x->nframes || off < NETCHAN_XSK_FRAME_HEADROOM ||
                        d->len > NETCHAN_XSK_FRAME_SIZE - off)) {
            x->rx_invalid++;      /* cannot happen with a sane kernel; the frame is lost */
            p->stats.rx_dropped++;
            continue;
        }
        h = nc_pool_buf(&p->pools[0], slot);
        h->data_off = off;
        h->len = d->len;
        h->flags = 0;
        if (nc_csum_is_partial((const uint8_t *)h + off, d->len)) {
            h->flags = NC_BUF_F_CSUM_OK;
            x->rx_csum_partial++;
        }
        h->next = NC_BUF_NONE;
        h->stamp = now;
        bufs[got++] = slot;
        p->stats.rx_packets++;
        p->stats.rx_bytes += d->len;
    }
    if (k)
        xsk_ring_cons__release(&x->rx, k);
    return got;
}

/* Start transmission of what the tx ring holds. Copy mode sends at most 32
 * descriptors per call (EAGAIN: call again); zero-copy only wakes the
 * driver. Without need_wakeup every submission kicks. */
static void xsk_kick_tx(struct nc_xsk *x)
{
    for (int tries = 0; tries < 64; tries++) {
        if (x->need_wakeup && !xsk_ring_prod__needs_wakeup(&x->tx))
            return;
        x->tx_kicks++;
        if (sendto(x->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0)
            return;
        if (errno != EAGAIN && errno != EBUSY && errno != ENOBUFS)
            return;                 /* ENETDOWN etc: the frames wait in the ring */
        xsk_reap(x);                /* EAGAIN may mean a full completion ring */
        if (__atomic_load_n(x->tx.consumer, __ATOMIC_ACQUIRE) == *x->tx.producer)
            return;                 /* the kernel took every descriptor */
    }
}

static uint32_t xsk_tx_burst(struct nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now)
{
    struct nc_xsk *x = (struct nc_xsk *)p;
    uint32_t idx, room, k, taken = 0, used = 0;
    (void)now;
    if (nc_unlikely(x->closed))
        return 0;
    xsk_reap(x);
    room = xsk_prod_nb_free(&x->tx, n);
    k = room < n ? room : n;
    if (k < n)
        x->tx_ring_full++;
    if (k == 0 || xsk_ring_prod__reserve(&x->tx, k, &idx) != k)
        return 0;
    for (; taken < k; taken++) {
        uint32_t slot = bufs[taken];
        struct nc_buf *h;
        struct xdp_desc *d;
        if (nc_unlikely(slot >= x->nframes)) {
            x->tx_invalid++;
            p->stats.tx_dropped++;
            continue;
        }
        h = nc_pool_buf(&p->pools[0], slot);
        if (nc_unlikely((h->flags & NC_BUF_F_FREE) || h->len == 0 ||
                        h->data_off > NETCHAN_XSK_FRAME_SIZE ||
                        h->len > NETCHAN_XSK_FRAME_SIZE - h->data_off)) {
            /* taken and dropped: a buffer that cannot be sent would come back forever */
            x->tx_invalid++;
            p->stats.tx_dropped++;
            if (!(h->flags & NC_BUF_F_FREE))
                p->stats.double_free += nc_pool_free_burst(&p->pools[0], x->fs, &slot, 1);
            continue;
        }
        d = xsk_ring_prod__tx_desc(&x->tx, idx + used++);
        d->addr = ((uint64_t)slot << XSK_FRAME_SHIFT) + h->data_off;
        d->len = h->len;
        d->options = 0;
        p->stats.tx_packets++;
        p->stats.tx_bytes += h->len;
    }
    /* reserve() moved cached_prod by k; give back the entries of dropped buffers */
    x->tx.cached_prod -= k - used;
    if (used) {
        xsk_ring_prod__submit(&x->tx, used);
        xsk_kick_tx(x);
    }
    return taken;
}

static uint32_t xsk_alloc_burst(struct nc_port *p, uint32_t *bufs, uint32_t n)
{
    struct nc_xsk *x = (struct nc_xsk *)p;
    uint32_t got;
    if (nc_unlikely(x->closed))
        return 0;
    if (x->fs->count < n)
        xsk_reap(x);
    got = nc_pool_alloc_burst(&p->pools[0], x->fs, bufs, n, 0);
    if (got < n)
        p->stats.alloc_failed++;
    return got;
}

static void xsk_free_burst(struct nc_port *p, const uint32_t *bufs, uint32_t n)
{
    struct nc_xsk *x = (struct nc_xsk *)p;
    if (nc_unlikely(x->closed))
        return;
    p->stats.double_free += nc_pool_free_burst(&p->pools[0], x->fs, bufs, n);
}

static uint64_t xsk_next_deadline(struct nc_port *p)
{
    (void)p;
    return UINT64_MAX;
}

static void xsk_wait(struct nc_port *p, uint64_t timeout_ns)
{
    struct nc_xsk *x = (struct nc_xsk *)p;
    struct pollfd pfd;
    struct timespec ts;
    if (x->closed || xsk_cons_nb_avail(&x->rx, 1))
        return;
    pfd.fd = x->fd;
    pfd.events = POLLIN;
    ts.tv_sec = (time_t)(timeout_ns / 1000000000ull);
    ts.tv_nsec = (long)(timeout_ns % 1000000000ull);
    ppoll(&pfd, 1, &ts, NULL);
}

static int xsk_link_up(struct nc_port *p)
{
    return !((struct nc_xsk *)p)->closed;
}

static void xsk_close_op(struct nc_port *p)
{
    netchan_xsk_close(p);
}

static const struct nc_port_ops xsk_ops = {
    .rx_burst = xsk_rx_burst,
    .tx_burst = xsk_tx_burst,
    .alloc_burst = xsk_alloc_burst,
    .free_burst = xsk_free_burst,
    .next_deadline = xsk_next_deadline,
    .wait = xsk_wait,
    .link_up = xsk_link_up,
    .close = xsk_close_op,
};

int netchan_xsk_rx_ready(struct nc_port *p)
{
    struct nc_xsk *x = (struct nc_xsk *)p;
    return !x->closed && xsk_cons_nb_avail(&x->rx, 1) != 0;
}

/* ---- open / close ------------------------------------------------------- */

static int xsk_try_bind(struct nc_xsk *x, const struct netchan_xsk_config *cfg,
                        uint32_t xdp_flags, uint16_t bind_flags)
{
    struct xsk_socket_config sc;
    memset(&sc, 0, sizeof(sc));
    sc.rx_size = cfg->ring_size;
    sc.tx_size = cfg->ring_size;
    sc.xdp_flags = xdp_flags;
    sc.bind_flags = bind_flags | (cfg->need_wakeup ? XDP_USE_NEED_WAKEUP : 0);
    xsk_log[0] = 0;
    return xsk_socket__create(&x->xsk, cfg->ifname, cfg->queue_id, x->umem, &x->rx, &x->tx, &sc);
}

struct nc_port *netchan_xsk_open(const struct netchan_xsk_config *cfg, int *errno_out,
                                 char *err, size_t errlen)
{
    static const struct { uint32_t mode, xdp_flags; uint16_t bind_flags; } tries[] = {
        { NETCHAN_XSK_MODE_AUTO, XDP_FLAGS_DRV_MODE, XDP_ZEROCOPY },
        { NETCHAN_XSK_MODE_AUTO, XDP_FLAGS_DRV_MODE, XDP_COPY },
        { NETCHAN_XSK_MODE_AUTO, XDP_FLAGS_SKB_MODE, XDP_COPY },
        { NETCHAN_XSK_MODE_COPY, XDP_FLAGS_DRV_MODE, XDP_COPY },
        { NETCHAN_XSK_MODE_ZEROCOPY, XDP_FLAGS_DRV_MODE, XDP_ZEROCOPY },
        { NETCHAN_XSK_MODE_SKB, XDP_FLAGS_SKB_MODE, XDP_COPY },
    };
    struct xsk_umem_config uc;
    struct xdp_options opts;
    socklen_t optlen = sizeof(opts);
    struct nc_xsk *x;
    struct nc_pool *pool;
    int r = -EINVAL;
    const char *step = "";

    *errno_out = 0;
    libxdp_set_print(xsk_log_libxdp);
    libbpf_set_print(xsk_log_libbpf);
    if (cfg->nframes < 2 * cfg->ring_size || cfg->ring_size < 64 ||
        (cfg->ring_size & (cfg->ring_size - 1))) {
        snprintf(err, errlen, "frames=%u must be at least twice ring=%u, a power of two >= 64",
                 cfg->nframes, cfg->ring_size);
        *errno_out = EINVAL;
        return NULL;
    }
    x = calloc(1, sizeof(*x));
    if (x == NULL) {
        *errno_out = ENOMEM;
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    x->fd = -1;
    x->closed = 1;
    x->nframes = cfg->nframes;
    x->ring_size = cfg->ring_size;
    x->reserve = cfg->nframes / 4;
    x->need_wakeup = !!cfg->need_wakeup;
    x->port.ops = &xsk_ops;
    x->port.mtu = cfg->mtu;
    x->port.caps = NC_CAP_SLEEP;
    x->port.peer_lost_handled = NC_PEER_LOST_NO_STACK;
    memcpy(x->port.mac, cfg->mac, 6);

    x->area_len = (size_t)cfg->nframes * NETCHAN_XSK_FRAME_SIZE;
    x->area = mmap(NULL, x->area_len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (x->area == MAP_FAILED) {
        x->area = NULL;
        r = -errno;
        step = "mmap of the UMEM";
        goto fail;
    }
    x->fs = aligned_alloc(NC_CACHE_LINE, nc_freestack_memsize(cfg->nframes));
    if (x->fs == NULL) {
        r = -ENOMEM;
        step = "the free stack";
        goto fail;
    }
    pool = &x->port.pools[0];
    pool->base = x->area;
    pool->stride = NETCHAN_XSK_FRAME_SIZE;
    pool->hdr_off = 0;
    pool->count = cfg->nframes;
    pool->data_room = NETCHAN_XSK_FRAME_SIZE - (uint32_t)sizeof(struct nc_buf) - NC_BUF_HEADROOM;
    nc_pool_format(pool);
    nc_freestack_init_full(x->fs, cfg->nframes);

    memset(&uc, 0, sizeof(uc));
    uc.fill_size = cfg->ring_size;
    uc.comp_size = cfg->ring_size;
    uc.frame_size = NETCHAN_XSK_FRAME_SIZE;
    uc.frame_headroom = NETCHAN_XSK_FRAME_HEADROOM;
    xsk_log[0] = 0;
    r = xsk_umem__create(&x->umem, x->area, x->area_len, &x->fq, &x->cq, &uc);
    if (r) {
        x->umem = NULL;
        step = "xsk_umem__create";
        goto fail;
    }
    step = "xsk_socket__create";
    r = -EINVAL;
    for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
        if (tries[i].mode != cfg->mode)
            continue;
        r = xsk_try_bind(x, cfg, tries[i].xdp_flags, tries[i].bind_flags);
        if (r == 0) {
            x->skb_mode = tries[i].xdp_flags == XDP_FLAGS_SKB_MODE;
            break;
        }
        x->xsk = NULL;
    }
    if (r)
        goto fail;
    x->fd = xsk_socket__fd(x->xsk);
    if (getsockopt(x->fd, SOL_XDP, XDP_OPTIONS, &opts, &optlen) == 0)
        x->zerocopy = !!(opts.flags & XDP_OPTIONS_ZEROCOPY);
    x->closed = 0;
    xsk_refill(x);
    return &x->port;

fail:
    *errno_out = r < 0 ? -r : EIO;
    snprintf(err, errlen, "%s: %s%s%s", step, strerror(*errno_out),
             xsk_log[0] ? " (libxdp: " : "", xsk_log[0] ? xsk_log : "");
    if (xsk_log[0])
        strncat(err, ")", errlen - strlen(err) - 1);
    x->closed = 0;
    netchan_xsk_close(&x->port);
    free(x);
    return NULL;
}

void netchan_xsk_close(struct nc_port *p)
{
    struct nc_xsk *x = (struct nc_xsk *)p;
    if (x == NULL || (x->closed && x->area == NULL))
        return;
    x->closed = 1;
    if (x->xsk != NULL)
        xsk_socket__delete(x->xsk);      /* detaches the program if it was the last socket */
    x->xsk = NULL;
    x->fd = -1;
    if (x->umem != NULL)
        xsk_umem__delete(x->umem);
    x->umem = NULL;
    if (x->area != NULL)
        munmap(x->area, x->area_len);
    x->area = NULL;
    memset(&x->port.pools[0], 0, sizeof(x->port.pools[0]));
    free(x->fs);
    x->fs = NULL;
}

void netchan_xsk_free(struct nc_port *p)
{
    netchan_xsk_close(p);
    free(p);
}

int netchan_xsk_info(struct nc_port *p, struct netchan_xsk_info *out)
{
    struct nc_xsk *x = (struct nc_xsk *)p;
    struct xdp_statistics st;
    socklen_t len = sizeof(st);
    memset(out, 0, sizeof(*out));
    out->fd = x->fd;
    out->zerocopy = (uint32_t)x->zerocopy;
    out->skb_mode = (uint32_t)x->skb_mode;
    out->need_wakeup = (uint32_t)x->need_wakeup;
    out->nframes = x->nframes;
    out->frames_free = x->fs != NULL ? x->fs->count : 0;
    out->rx_frames = p->stats.rx_packets;
    out->tx_frames = p->stats.tx_packets;
    out->tx_kicks = x->tx_kicks;
    out->fill_kicks = x->fill_kicks;
    out->fill_short = x->fill_short;
    out->tx_ring_full = x->tx_ring_full;
    out->tx_invalid = x->tx_invalid;
    out->rx_invalid = x->rx_invalid;
    out->rx_csum_partial = x->rx_csum_partial;
    if (x->fd < 0)
        return -1;
    memset(&st, 0, sizeof(st));
    if (getsockopt(x->fd, SOL_XDP, XDP_STATISTICS, &st, &len) != 0)
        return -1;
    out->xdp_rx_dropped = st.rx_dropped;
    out->xdp_rx_invalid_descs = st.rx_invalid_descs;
    out->xdp_tx_invalid_descs = st.tx_invalid_descs;
    out->xdp_rx_ring_full = st.rx_ring_full;
    out->xdp_rx_fill_ring_empty_descs = st.rx_fill_ring_empty_descs;
    out->xdp_tx_ring_empty_descs = st.tx_ring_empty_descs;
    return 0;
}
