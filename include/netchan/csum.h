/* The Internet checksum (RFC 1071), computed on whole buffers.
 *
 * The one's-complement sum does not care about byte order as long as every
 * word is read and the result written back in the same (native) order, so
 * words are summed exactly as they lie in memory and the folded result is
 * stored with memcpy, never byte-swapped (RFC 1071 section 2(B)). */
#ifndef NETCHAN_CSUM_H
#define NETCHAN_CSUM_H

#include <string.h>
#include "netchan/compat.h"

/* Add len bytes at data to a running 64-bit partial sum. Odd lengths are
 * padded with a zero byte, as the RFC requires; callers that chain partial
 * sums must pass even lengths except for the last piece. */
NC_INLINE uint64_t nc_csum_partial(const void *data, size_t len, uint64_t sum)
{
    const uint8_t *p = (const uint8_t *)data;
    uint64_t a = sum, b = 0, c = 0, d = 0;
    /* Four independent accumulators of 32-bit halves: no carries are lost
     * (each add is < 2^32 and there are far fewer than 2^32 of them) and the
     * adds do not serialise on one register. */
    while (len >= 32) {
        uint64_t w0, w1, w2, w3;
        memcpy(&w0, p, 8);
        memcpy(&w1, p + 8, 8);
        memcpy(&w2, p + 16, 8);
        memcpy(&w3, p + 24, 8);
        a += (w0 & 0xffffffffu) + (w0 >> 32);
        b += (w1 & 0xffffffffu) + (w1 >> 32);
        c += (w2 & 0xffffffffu) + (w2 >> 32);
        d += (w3 & 0xffffffffu) + (w3 >> 32);
        p += 32;
        len -= 32;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        a += (w & 0xffffffffu) + (w >> 32);
        p += 8;
        len -= 8;
    }
    while (len >= 2) {
        uint16_t w;
        memcpy(&w, p, 2);
        b += w;
        p += 2;
        len -= 2;
    }
    if (len) {
        uint16_t w = 0;
        memcpy(&w, p, 1);   /* the odd byte is the high-order byte of a zero-padded word */
        c += w;
    }
    /* a + b + c + d cannot overflow 64 bits for any packet-sized input. */
    return a + b + c + d;
}

/* Fold a partial sum to 16 bits and complement: the value to store (with
 * memcpy) in a checksum field. A buffer whose checksum is right folds to 0. */
NC_INLINE uint16_t nc_csum_fold(uint64_t sum)
{
    sum = (sum & 0xffffffffu) + (sum >> 32);
    sum = (sum & 0xffffffffu) + (sum >> 32);
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Partial sum of the IPv4 pseudo header. src and dst are in network byte
 * order as they lie in the IP header; proto and l4_len are host values. */
NC_INLINE uint64_t nc_csum_pseudo_ipv4(const uint8_t *src_dst8, uint8_t proto, uint16_t l4_len)
{
    uint8_t ph[4];
    ph[0] = 0;
    ph[1] = proto;
    ph[2] = (uint8_t)(l4_len >> 8);
    ph[3] = (uint8_t)l4_len;
    return nc_csum_partial(src_dst8, 8, nc_csum_partial(ph, 4, 0));
}

/* Partial sum of the IPv6 pseudo header (RFC 8200 8.1): source and
 * destination (32 bytes as they lie in the header), the upper-layer length
 * as 32 bits and the next header. */
NC_INLINE uint64_t nc_csum_pseudo_ipv6(const uint8_t *src_dst32, uint8_t proto, uint32_t l4_len)
{
    uint8_t ph[8];
    ph[0] = (uint8_t)(l4_len >> 24);
    ph[1] = (uint8_t)(l4_len >> 16);
    ph[2] = (uint8_t)(l4_len >> 8);
    ph[3] = (uint8_t)l4_len;
    ph[4] = 0;
    ph[5] = 0;
    ph[6] = 0;
    ph[7] = proto;
    return nc_csum_partial(src_dst32, 32, nc_csum_partial(ph, 8, 0));
}

#endif /* NETCHAN_CSUM_H */
