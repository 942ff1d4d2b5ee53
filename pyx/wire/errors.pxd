cdef enum:  # WireError
    WIRE_OK = 0
    ERR_ETH_SHORT
    ERR_ETH_TYPE            # an EtherType the stack does not speak (IPv6 for now)
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
    WIRE_ERROR_COUNT
