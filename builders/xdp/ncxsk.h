/* netchan's own AF_XDP port (include/netchan/port.h over one XSK socket).
 *
 * The UMEM *is* the port's buffer pool (nc_port.pools[0]): fixed 4 KiB
 * frames in aligned mode, frame i at base + i * 4096, its struct nc_buf in
 * the first 64 bytes:
 *
 *   frame i: [struct nc_buf][XDP_PACKET_HEADROOM 256][frame data ...]
 *            ^ base + i*4096   ^ +64 (frame_headroom: the kernel never writes
 *                                before data_hard_start = frame + 64)
 *
 * so a received frame is handed to the stack as its index, without a copy,
 * and comes back to the fill ring when the stack frees it. 4 KiB rather than
 * 2 KiB: a 2 KiB frame leaves 2048 - 64 - 256 = 1728 bytes, enough for MTU
 * 1500 but not for the jumbo MTUs (up to 3 KiB here) that a real NIC runs,
 * and one frame per page keeps a zero-copy driver's DMA mapping simple.
 *
 * A buffer is always in exactly one place: the free stack (flag
 * NC_BUF_F_FREE), the fill ring or rx ring (the kernel's), the stack above,
 * or the tx ring until its completion comes back. rx_burst tops the fill
 * ring up from the free stack, keeping a reserve for transmit.
 *
 * What lies between "cffi-cdef: begin" and "cffi-cdef: end" is also the cffi
 * binding's declaration (builders/xdp/ncxsk.py reads it from here). */
#ifndef NETCHAN_XDP_NCXSK_H
#define NETCHAN_XDP_NCXSK_H

#include <stddef.h>
#include <stdint.h>

#include "netchan/port.h"

/* cffi-cdef: begin */
#define NETCHAN_XSK_FRAME_SIZE 4096u
#define NETCHAN_XSK_FRAME_HEADROOM 64u  /* struct nc_buf, before the kernel's 256 */

/* The bind modes the URI's mode= picks (netchan.xdp.MODES). */
#define NETCHAN_XSK_MODE_AUTO 0      /* native zero-copy, else native copy, else skb */
#define NETCHAN_XSK_MODE_COPY 1      /* native XDP, copy mode */
#define NETCHAN_XSK_MODE_ZEROCOPY 2  /* native XDP, zero-copy, or fail */
#define NETCHAN_XSK_MODE_SKB 3       /* generic XDP (any interface), copy mode */

struct netchan_xsk_config {
    const char *ifname;
    uint32_t queue_id;      /* the interface's rx queue the socket binds to */
    uint32_t nframes;       /* UMEM frames (4 KiB each) */
    uint32_t ring_size;     /* rx, tx, fill and completion ring entries (power of two) */
    uint32_t mode;          /* NETCHAN_XSK_MODE_* */
    uint32_t mtu;           /* IP MTU the stack uses */
    uint32_t need_wakeup;   /* bind with XDP_USE_NEED_WAKEUP */
    uint8_t mac[6];
};

/* What the socket ended up as, and its counters. */
struct netchan_xsk_info {
    int fd;
    uint32_t zerocopy;      /* XDP_OPTIONS says zero-copy */
    uint32_t skb_mode;      /* bound over generic (skb) XDP */
    uint32_t need_wakeup;
    uint32_t nframes;
    uint32_t frames_free;   /* on the free stack */
    uint64_t rx_frames;
    uint64_t tx_frames;
    uint64_t tx_kicks;      /* sendto calls to start transmission */
    uint64_t fill_kicks;    /* recvfrom calls because the fill ring asked */
    uint64_t fill_short;    /* rx_burst found no free frame to put in the fill ring */
    uint64_t tx_ring_full;  /* tx_burst handed frames back: no tx descriptor free */
    uint64_t tx_invalid;    /* buffers that could not be sent (bad index, freed, too long) */
    uint64_t rx_invalid;    /* rx descriptors outside the UMEM (a kernel bug) */
    uint64_t rx_csum_partial;
    /* XDP_STATISTICS (getsockopt) */
    uint64_t xdp_rx_dropped;
    uint64_t xdp_rx_invalid_descs;
    uint64_t xdp_tx_invalid_descs;
    uint64_t xdp_rx_ring_full;
    uint64_t xdp_rx_fill_ring_empty_descs;
    uint64_t xdp_tx_ring_empty_descs;
};

/* Open the socket (UMEM, rings, the default XDP program via libxdp).
 * NULL with err set on failure; errno_out gets the errno of the step that
 * failed. Caller owns the result: netchan_xsk_close, then netchan_xsk_free. */
struct nc_port *netchan_xsk_open(const struct netchan_xsk_config *cfg, int *errno_out,
                                 char *err, size_t errlen);
/* Delete the socket (libxdp detaches the program when it was the last one)
 * and unmap the UMEM; every vtable call returns at once from then on. */
void netchan_xsk_close(struct nc_port *p);
void netchan_xsk_free(struct nc_port *p);
int netchan_xsk_info(struct nc_port *p, struct netchan_xsk_info *out);
/* 1 when the rx ring holds frames (the blocking path polls instead of sleeping). */
int netchan_xsk_rx_ready(struct nc_port *p);
/* The last message libxdp/libbpf printed (warnings included), for errors. */
const char *netchan_xsk_last_log(void);
/* cffi-cdef: end */

#endif /* NETCHAN_XDP_NCXSK_H */
