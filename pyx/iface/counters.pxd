# ---- counters ----------------------------------------------------------------
# Every drop and every notable event is one of these. `netchan stats` and
# Stack.stats() show them by the names in COUNTER_NAMES (same order).
cdef enum:  # counters (Ctr)
    C_RX_FRAMES = 0
    C_RX_BYTES
    C_RX_NOT_FOR_US
    C_RX_IP_NOT_FOR_US
    C_RX_IP_L2_BROADCAST
    C_RX_IP_BAD_SOURCE
    C_RX_ARP_REQUEST
    C_RX_ARP_REPLY
    C_TX_ARP_REQUEST
    C_TX_ARP_REPLY
    C_ARP_QUEUE_FULL
    C_ARP_UNRESOLVED
    C_RX_ICMP_ECHO
    C_TX_ICMP_ECHO_REPLY
    C_RX_ICMP_OTHER
    C_RX_UDP
    C_RX_UDP_NO_PORT
    C_UDP_CHANNEL_FULL
    C_TX_UDP
    C_RX_TCP
    C_TCP_RST_SENT
    C_TCP_RST_RCVD
    C_TCP_LISTEN_OVERFLOW
    C_TCP_CONN_TABLE_FULL
    C_TCP_WINDOW_ARENA_FULL
    C_TCP_BAD_SEQ
    C_TCP_BAD_ACK
    C_TCP_OOO_SEGMENTS
    C_TCP_OOO_DROPPED
    C_TCP_RETRANSMITS
    C_TCP_RTO_FIRED
    C_TCP_TIMEOUTS
    C_TCP_ACTIVE_OPENS
    C_TCP_PASSIVE_OPENS
    C_TCP_ESTABLISHED
    C_TCP_CLOSED
    C_TCP_SEGS_IN
    C_TCP_SEGS_OUT
    C_TCP_DATA_IN_BYTES
    C_TCP_DATA_OUT_BYTES
    C_TCP_DUP_ACKS
    C_TCP_CHALLENGE_ACKS
    C_TCP_FAST_RETRANSMITS
    C_TCP_PAWS_DROPPED
    C_TCP_SYNCOOKIES_SENT
    C_TCP_SYNCOOKIES_OK
    C_TCP_SYNCOOKIES_FAILED
    C_TCP_KEEPALIVE_PROBES
    C_TCP_PERSIST_PROBES
    C_TCP_PMTU_UPDATES
    C_IP_FRAGS_IN
    C_IP_REASSEMBLED
    C_IP_REASM_DROPPED
    C_IP_REASM_OVERLAP
    C_IP_REASM_TIMEOUT
    C_IP_FRAGS_OUT
    C_TX_ICMP_UNREACH
    C_TX_FRAMES
    C_TX_BYTES
    C_TX_ALLOC_FAILED
    C_TX_PORT_REFUSED
    C_RX_UNKNOWN_PROTO
    C_POLLS
    C_LINK_PEER_LOST
    C_LINK_PEER_LOST_FRAMES
    C_ARP_ADDRESS_CONFLICT
    C_TCP_CLOSE_RESET
    C_TCP_CLOSE_LINGER_EXPIRED
    C_TCP_TIME_WAIT_CREATED
    C_TCP_TIME_WAIT_EXPIRED
    C_TCP_TIME_WAIT_RECYCLED
    C_TCP_TIME_WAIT_REUSED
    C_TCP_TIME_WAIT_RESET
    C_TCP_TLP_PROBES
    C_TCP_TLP_RECOVERIES
    C_TCP_RACK_LOSSES
    C_TCP_RACK_LOST_RETRANSMITS
    C_TCP_REORDERING_SEEN
    C_TCP_DSACK_RCVD
    C_TCP_PRR_RECOVERIES
    C_TCP_RESCUE_RETRANSMITS
    C_TCP_ECN_NEGOTIATED
    C_TCP_ECN_CE_SEEN
    C_TCP_ECN_REDUCTIONS
    C_TCP_HYSTART_CSS
    C_TCP_HYSTART_CSS_SPURIOUS
    C_TCP_HYSTART_EXITS
    C_TCP_SYN_DATA_QUEUED
    C_TCP_PMTU_RAISED
    # IPv6 (iface/classify6.pxi, iface/ndp.pxi, ip/icmp6.pxi)
    C_RX_IPV6
    C_TX_IPV6
    C_RX_IP6_NOT_FOR_US
    C_RX_NDP_NS
    C_RX_NDP_NA
    C_TX_NDP_NS
    C_TX_NDP_NA
    C_NDP_QUEUE_FULL
    C_NDP_UNRESOLVED
    C_NDP_ADDRESS_CONFLICT
    C_RX_ICMP6_ECHO
    C_TX_ICMP6_ECHO_REPLY
    C_RX_ICMP6_OTHER
    C_TX_ICMP6_UNREACH
    C_IP6_FRAGS_IN
    C_IP6_REASSEMBLED
    C_IP6_REASM_DROPPED
    C_IP6_PEER_TABLE_FULL
    C_IP6_FRAGS_OUT
    C_UDP_TOO_BIG               # a dont_frag datagram over the MTU: EMSGSIZE
    C_TX_NDP_RS
    C_RX_NDP_RA
    C_NDP_RA_IGNORED            # an RA not from a link-local router, or about nothing we use
    C_IP6_NO_ROUTE              # off every on-link prefix with no default router
    C_TX_MLD_REPORT
    C_RX_MLD_QUERY
    C_NDP_DAD_DONE              # addresses that finished DAD (tentative/optimistic -> preferred)
    C_WAITS_SPUN                # idle periods of a blocking call that busy-polled first
    C_WAITS_SLEPT               # idle periods that slept at once (nothing asked: busy_poll_mode)
    C_TCP_OVER_MTU              # a segment that would not fit the MTU, not sent (a bug if ever non-zero)
    C_TCP_TSO_FRAMES            # super-frames sent with their payload in the send window (NC_CAP_TX_REF)
    C_TCP_TSO_SEGMENTS          # the segments they carried
    C_TCP_REF_SEGMENTS          # segments sent to the shm peer with their payload left in the send window
    C_TCP_RCV_IN_PLACE_BYTES    # bytes received already in place: the peer's send window is our receive window
    C_TCP_RCV_REF_COPIED_BYTES  # bytes copied out of the peer's send window into a window of ours
    C_TCP_REF_STALE             # segments naming a slot the peer had recycled since: dropped unread
    C_TCP_SND_MOVES             # send windows moved off a slot the peer read, to queue beyond its edge
    C_RX_REF_BAD                # by-reference frames that name no bytes of the peer's send windows
    C_LINK_PEER_WINDOWS         # times the shm peer's send windows were mapped here
    C_COUNT
