# Counter names, indexed by WireError (index 0 unused).
WIRE_ERROR_NAMES = (
    None,
    "rx_eth_short", "rx_eth_type",
    "rx_arp_short", "rx_arp_format",
    "rx_ip_short", "rx_ip_version", "rx_ip_hlen", "rx_ip_totlen", "rx_ip_csum",
    "rx_ip_fragment",
    "rx_icmp_short", "rx_icmp_csum",
    "rx_udp_short", "rx_udp_len", "rx_udp_csum",
    "rx_tcp_short", "rx_tcp_doff", "rx_tcp_csum", "rx_tcp_option",
    "rx_ip6_short", "rx_ip6_version", "rx_ip6_len", "rx_ip6_ext", "rx_ip6_option",
    "rx_ip6_routing", "rx_ip6_fragment", "rx_icmp6_short", "rx_icmp6_csum", "rx_ndp_format",
)
