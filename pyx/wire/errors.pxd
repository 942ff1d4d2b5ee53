cdef enum:  # WireError
    WIRE_OK = 0
    ERR_ETH_SHORT
    ERR_ETH_TYPE            # an EtherType the stack does not speak
    ERR_ARP_SHORT
    ERR_ARP_FORMAT          # not Ethernet/IPv4 ARP, or an unknown operation
    ERR_IP_SHORT
    ERR_IP_VERSION
    ERR_IP_HLEN
    ERR_IP_TOTLEN
    ERR_IP_CSUM
    ERR_IP_FRAGMENT         # recognised fragment; handled (or not) by the caller
    ERR_ICMP_SHORT
    ERR_ICMP_CSUM
    ERR_UDP_SHORT
    ERR_UDP_LEN
    ERR_UDP_CSUM
    ERR_TCP_SHORT
    ERR_TCP_DOFF
    ERR_TCP_CSUM
    ERR_TCP_OPTION
    ERR_IP6_SHORT           # less than the 40-byte header
    ERR_IP6_VERSION
    ERR_IP6_LEN             # payload length beyond the frame
    ERR_IP6_EXT             # an extension header chain that is malformed, too long
                            # (IP6_MAX_EXT) or out of order (hop-by-hop not first)
    ERR_IP6_OPTION          # a hop-by-hop/destination option we must not skip, or one
                            # running past its header
    ERR_IP6_ROUTING         # a routing header with segments left (we are no router)
    ERR_IP6_FRAGMENT        # recognised fragment; handled (or not) by the caller
    ERR_ICMP6_SHORT
    ERR_ICMP6_CSUM
    ERR_NDP_FORMAT          # a neighbour discovery message failing RFC 4861 7.1 checks
    WIRE_ERROR_COUNT
