/* Recognising a frame whose TCP/UDP checksum a local Linux sender left to
 * "the device" (checksum offload): the field holds only the pseudo-header sum
 * (folded, not complemented). Over a veth such frames reach an AF_XDP socket
 * with no metadata saying so (AF_XDP has none), so a port on a Linux
 * interface that cannot read the kernel's flag uses this test: a field equal
 * to that sum is trusted (NC_BUF_F_CSUM_OK), anything else is verified in
 * full by the stack. A corrupted frame matches by chance with the odds of the
 * checksum itself missing it (2^-16). IPv4 only; fragments are left to the
 * stack. Used by the xdp: port and the DPDK port (builders/dpdk/ncport.c). */
#ifndef NETCHAN_CSUM_PARTIAL_H
#define NETCHAN_CSUM_PARTIAL_H

#include "netchan/compat.h"

NC_INLINE int nc_csum_is_partial(const uint8_t *f, uint32_t len)
{
    uint32_t ihl, total, l4len, sum = 0;
    uint16_t field;
    const uint8_t *ip = f + 14, *l4;
    if (len < 14 + 20 + 8 || f[12] != 0x08 || f[13] != 0x00 || (ip[0] >> 4) != 4)
        return 0;
    ihl = (uint32_t)(ip[0] & 0xf) * 4;
    total = ((uint32_t)ip[2] << 8) | ip[3];
    if (ihl < 20 || total < ihl + 8 || total > len - 14 || ((ip[6] & 0x3f) | ip[7]))
        return 0;
    l4 = ip + ihl;
    l4len = total - ihl;
    if (ip[9] == 6 && l4len >= 20)
        field = (uint16_t)((l4[16] << 8) | l4[17]);
    else if (ip[9] == 17)
        field = (uint16_t)((l4[6] << 8) | l4[7]);
    else
        return 0;
    for (int i = 12; i < 20; i += 2)            /* source and destination address */
        sum += ((uint32_t)ip[i] << 8) | ip[i + 1];
    sum += ip[9];
    sum += l4len;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return field == (uint16_t)sum;
}

#endif /* NETCHAN_CSUM_PARTIAL_H */
