# The stack's C-level state: every structure the poll loop touches, with no
# Python object anywhere below StackState. The Python API (api.pxi) owns one
# StackState and reads it; only functions that take `StackState *` change it.

cdef enum:
    BURST = 32                  # rx/tx burst size
    RX_ROUNDS = 4               # rx bursts per poll before the channels are drained
    CHAN_SIZE = 256             # per-connection channel: holds a whole poll's worth (RX_ROUNDS x BURST) twice
    TXQ_MAX = 64                # frames batched before a tx_burst
    OOO_MAX = 8                 # out-of-order ranges kept per connection
    SACK_MAX = 8                # SACKed ranges a sender's scoreboard keeps
    ARP_TABLE_SIZE = 256        # power of two
    ARP_QUEUE_MAX = 64          # frames held per unresolved address (a fragmented 64 KiB datagram fits)
    PORT_SPACE = 65536
    EPHEMERAL_LO = 49152
    EPHEMERAL_HI = 65535

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
    C_TCP_CHANNEL_FULL
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
    C_COUNT

COUNTER_NAMES = (
    "rx_frames", "rx_bytes", "rx_not_for_us", "rx_ip_not_for_us", "rx_ip_l2_broadcast",
    "rx_ip_bad_source",
    "rx_arp_request", "rx_arp_reply", "tx_arp_request", "tx_arp_reply",
    "arp_queue_full", "arp_unresolved",
    "rx_icmp_echo", "tx_icmp_echo_reply", "rx_icmp_other",
    "rx_udp", "rx_udp_no_port", "udp_channel_full", "tx_udp",
    "rx_tcp", "tcp_channel_full", "tcp_rst_sent", "tcp_rst_rcvd",
    "tcp_listen_overflow", "tcp_conn_table_full", "tcp_window_arena_full",
    "tcp_bad_seq", "tcp_bad_ack", "tcp_ooo_segments", "tcp_ooo_dropped",
    "tcp_retransmits", "tcp_rto_fired", "tcp_timeouts",
    "tcp_active_opens", "tcp_passive_opens", "tcp_established", "tcp_closed",
    "tcp_segs_in", "tcp_segs_out", "tcp_data_in_bytes", "tcp_data_out_bytes",
    "tcp_dup_acks", "tcp_challenge_acks", "tcp_fast_retransmits", "tcp_paws_dropped",
    "tcp_syncookies_sent", "tcp_syncookies_ok", "tcp_syncookies_failed",
    "tcp_keepalive_probes", "tcp_persist_probes", "tcp_pmtu_updates",
    "ip_frags_in", "ip_reassembled", "ip_reasm_dropped", "ip_reasm_overlap", "ip_reasm_timeout",
    "ip_frags_out", "tx_icmp_unreach",
    "tx_frames", "tx_bytes", "tx_alloc_failed", "tx_port_refused",
    "rx_unknown_proto", "polls",
)

# ---- TCP ---------------------------------------------------------------------

cdef enum:  # TcpState
    CLOSED = 0
    LISTEN
    SYN_SENT
    SYN_RECEIVED
    ESTABLISHED
    FIN_WAIT_1
    FIN_WAIT_2
    CLOSE_WAIT
    CLOSING
    LAST_ACK
    TIME_WAIT

TCP_STATE_NAMES = ("CLOSED", "LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED",
                   "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK",
                   "TIME_WAIT")

# Tcb.flags
cdef enum:
    TF_ACK_NOW = 0x0001         # send an ACK at the next output
    TF_DELACK = 0x0002          # an ACK is owed; the delayed-ACK timer runs
    TF_TS_OK = 0x0004           # timestamps negotiated
    TF_SACK_OK = 0x0008         # SACK permitted both ways
    TF_WS_OK = 0x0010           # window scaling negotiated
    TF_FIN_QUEUED = 0x0020      # the application shut down writing
    TF_FIN_SENT = 0x0040        # our FIN has a sequence number (snd_max covers it)
    TF_RCVD_FIN = 0x0080        # the peer's FIN arrived in order: EOF after the data
    TF_APP_CLOSED = 0x0100      # no handle left: discard input, free when done
    TF_PASSIVE = 0x0200         # created by a listener
    TF_ACCEPTED = 0x0400        # handed to the application
    TF_NODELAY = 0x0800
    TF_WND_UPDATE = 0x1000      # the window opened enough to announce it
    TF_REXMT = 0x2000           # retransmitting after RTO (snd_nxt < snd_max)
    TF_RST_PENDING = 0x4000     # send RST at next output (abortive close)
    TF_HANDLE = 0x10000         # the application holds a handle (API state)
    TF_FORCE_ONE = 0x20000      # tcp_output may send one segment whatever the windows say

cdef enum:
    REC_NONE = 0
    REC_NEWRENO = 1
    REC_SACK = 2

cdef struct Tcb:
    uint32_t id
    uint32_t gen                # bumped on free: stale handles see a mismatch
    uint8_t state
    uint8_t in_active           # on StackState.active this poll
    uint8_t in_outq             # on StackState.outq this poll
    uint8_t retries             # consecutive RTOs without progress
    uint32_t flags
    uint32_t laddr
    uint32_t raddr
    uint16_t lport
    uint16_t rport
    uint8_t rmac[6]
    uint16_t mss                # largest payload we send
    uint32_t rmac_gen           # ARP generation rmac was resolved at (0 = never)
    int32_t listener            # listener id of a passive child, or -1
    int32_t soerror             # errno for the application, 0 when none
    # send sequence space (RFC 9293 3.3.1)
    uint32_t iss
    uint32_t snd_una
    uint32_t snd_nxt
    uint32_t snd_max            # highest sequence number sent (snd_nxt rewinds on RTO)
    uint32_t snd_wnd            # scaled
    uint32_t snd_wl1
    uint32_t snd_wl2
    uint32_t max_snd_wnd
    uint8_t snd_wscale          # the peer's shift
    uint8_t rcv_wscale          # ours
    uint16_t adv_mss            # the MSS we advertised
    # receive sequence space
    uint32_t irs
    uint32_t rcv_nxt
    uint32_t rcv_adv            # right edge last advertised
    # timestamps (RFC 7323)
    uint32_t ts_recent
    uint32_t ts_offset
    uint64_t ts_recent_at
    # round trip and retransmission (RFC 6298), nanoseconds
    uint64_t srtt
    uint64_t rttvar
    uint64_t rto
    uint64_t rtt_start          # when rtt_seq was sent; 0 = no timing in progress
    uint32_t rtt_seq
    uint8_t backoff
    uint8_t ooo_n
    uint16_t segs_unacked       # full segments received since our last ACK
    # congestion control (tcp_cc.pxi) and loss recovery
    uint32_t cwnd
    uint32_t ssthresh
    uint32_t dupacks
    uint32_t recover            # RFC 6582 "recover" / RFC 6675 RecoveryPoint
    uint8_t cc                  # CC_NEWRENO / CC_CUBIC
    uint8_t in_recovery         # REC_NONE / REC_NEWRENO / REC_SACK
    uint8_t sack_n              # scoreboard ranges in use
    uint8_t keep_probes         # keepalive probes sent without an answer
    uint32_t high_rxt           # RFC 6675 HighRxt
    uint32_t lt_allow           # RFC 3042 limited transmit: bytes beyond cwnd
    uint32_t sack_l[SACK_MAX]   # sender scoreboard: SACKed [l, r), sorted, disjoint
    uint32_t sack_r[SACK_MAX]
    double cubic_wmax
    double cubic_k
    double cubic_origin
    double cubic_west
    uint64_t cubic_epoch
    # receiver side of SACK: the block of the latest out-of-order arrival
    # (reported first, RFC 2018 4) and a pending D-SACK (RFC 2883)
    uint64_t last_ooo_start
    uint64_t last_ooo_end
    uint32_t dsack_l
    uint32_t dsack_r
    uint8_t dsack_pending
    uint8_t quickack            # segments still to ACK at once (start of a connection)
    uint8_t keep_cnt            # keepalive: probes before giving up (0 = keepalive off)
    uint8_t _pad2
    uint64_t keep_idle          # ns idle before the first probe
    uint64_t keep_intvl         # ns between probes
    uint64_t last_rcv           # when the last segment arrived
    # timers: absolute ns, 0 = off; `deadline` is their minimum, on the wheel
    uint64_t t_rexmt
    uint64_t t_delack
    uint64_t t_2msl
    uint64_t t_persist
    uint64_t t_keep
    uint64_t deadline
    uint32_t t_prev
    uint32_t t_next
    uint32_t t_slot
    uint32_t _pad1
    # windows: rcv holds [app read .. rcv_nxt) plus out-of-order data; snd
    # holds [snd_una .. last byte the application wrote)
    Window rcv
    Window snd
    uint64_t rcv_pin            # lowest receive offset the application still views
    uint64_t ooo_start[OOO_MAX]
    uint64_t ooo_end[OOO_MAX]
    uint64_t fin_off            # receive offset of the peer's FIN once known, else -1
    nc_ring *chan               # this connection's channel

# ---- listeners, UDP, ARP --------------------------------------------------------

cdef struct Listener:
    bint active
    bint in_active              # on StackState.listen_active this poll
    uint16_t port
    uint32_t backlog
    uint32_t half_open          # children in SYN_RECEIVED
    nc_ring *chan               # SYNs (bounded: a flood cannot grow it)
    uint32_t *aq                # accept queue: TCB ids, ring of aq_cap
    uint32_t aq_cap
    uint32_t aq_head
    uint32_t aq_len
    uint64_t overflows
    uint64_t cookies_until      # SYN cookies went out lately: check ACKs against them

# IPv4 reassembly and reassembled UDP datagrams (used by ip_frag.pxi)
cdef enum:
    REASM_MAX = 65535
    REASM_UNITS = 8192          # 8-byte units in a 64 KiB datagram
    UDP_BIG_MAX = 16            # reassembled datagrams waiting per UDP socket

cdef struct FragDatagram:
    bint active
    uint8_t proto
    uint16_t ident
    uint32_t src
    uint32_t dst
    uint32_t total              # payload length once the last fragment came, else 0
    uint32_t received           # payload bytes held (no overlaps, so exact)
    uint64_t expires
    uint8_t src_mac[6]
    uint8_t ip_hdr[20]          # a header of the datagram (for checksums and ICMP)
    uint8_t *data               # REASM_MAX bytes
    uint64_t *units             # REASM_UNITS bits

cdef struct BigDgram:           # a reassembled UDP datagram waiting for recvfrom
    uint8_t *data
    uint32_t len
    uint32_t src
    uint16_t sport
    uint64_t seq                # arrival order against the socket's channel


cdef struct UdpSock:
    bint active
    uint16_t port
    uint32_t bind_ip            # 0 = any of ours
    nc_ring *chan               # received datagrams (buffer indices), bounded
    uint64_t drops
    BigDgram *big               # [UDP_BIG_MAX] reassembled datagrams, allocated on first use
    uint32_t big_head
    uint32_t big_len

cdef struct ArpEntry:
    uint32_t ip                 # 0 = empty
    uint8_t state               # ARP_EMPTY / ARP_INCOMPLETE / ARP_REACHABLE
    uint8_t tries
    uint8_t mac[6]
    uint64_t expires            # REACHABLE until
    uint64_t next_request       # INCOMPLETE: when to ask again
    uint32_t q_head             # frames waiting for the answer
    uint32_t q_tail
    uint32_t q_len

cdef enum:
    ARP_EMPTY = 0
    ARP_INCOMPLETE = 1
    ARP_REACHABLE = 2

cdef struct FlowSlot:
    uint32_t hash               # 0 = empty (real hashes are forced odd)
    uint32_t tcb

# ---- the stack ------------------------------------------------------------------

cdef struct StackConfig:
    uint32_t max_conns
    uint32_t rcvbuf             # per-connection receive window bytes (power of two)
    uint32_t sndbuf             # per-connection send buffer bytes (power of two)
    uint32_t chan_size          # per-connection channel slots
    uint32_t listen_chan_size
    uint32_t udp_chan_size
    uint64_t msl_ns             # TIME_WAIT lasts 2 x msl
    uint64_t rto_init_ns
    uint64_t rto_min_ns
    uint64_t rto_max_ns
    uint32_t max_retries        # RTOs on data before the connection is dropped
    uint32_t syn_retries
    uint64_t delack_ns
    uint64_t arp_timeout_ns
    uint64_t arp_retry_ns
    uint32_t arp_max_tries
    bint timestamps
    bint sack
    bint window_scaling
    bint nodelay                # default for new connections (Nagle off)
    uint8_t ttl
    uint8_t cc                  # default congestion control
    uint8_t keep_cnt            # default keepalive (0 = off)
    uint64_t keep_idle_ns
    uint64_t keep_intvl_ns
    uint32_t challenge_ack_limit    # RFC 5961 challenge ACKs per second (stack-wide)
    bint syncookies             # answer with SYN cookies when a backlog is full
    uint64_t frag_timeout_ns    # IPv4 reassembly: give up on a datagram after this
    uint32_t frag_max_datagrams
    uint32_t frag_max_bytes

cdef struct StackState:
    nc_port *port
    uint8_t mac[6]
    uint32_t ip
    uint32_t netmask
    uint32_t mtu                # IP MTU of the port
    StackConfig cfg
    uint64_t now
    uint64_t *ctr               # [C_COUNT], indexed by Ctr; lives in the stats segment
    uint64_t *wire_err          # [WIRE_ERROR_COUNT], indexed by WireError; same segment
    # transmit batch
    uint32_t txq[TXQ_MAX]
    uint32_t txq_len
    # ARP
    ArpEntry arp[ARP_TABLE_SIZE]
    uint32_t arp_gen            # bumped whenever a mapping changes
    uint64_t arp_next_scan
    # connections
    Tcb *tcbs
    uint32_t *tcb_free
    uint32_t tcb_nfree
    uint32_t n_conns
    uint8_t *chan_mem
    size_t chan_stride
    FlowSlot *flows
    uint32_t flow_mask
    uint32_t *active            # connections with a non-empty channel this poll
    uint32_t nactive
    uint32_t *outq              # connections with output to consider this poll
    uint32_t noutq
    # timers (hashed wheel over Tcb ids)
    uint32_t *wheel
    uint32_t wheel_mask
    uint64_t tick_ns
    uint64_t cur_tick
    # listeners and UDP sockets, found by port
    Listener *listeners
    uint32_t max_listeners
    int32_t *listen_by_port
    UdpSock *udps
    uint32_t max_udp
    int32_t *udp_by_port
    int32_t *listen_active      # listener ids with a non-empty channel this poll
    uint32_t nlisten_active
    # windows
    Arena rcv_arena
    Arena snd_arena
    # identity
    uint64_t isn_key0
    uint64_t isn_key1
    uint16_t ip_ident
    uint32_t eph_next
    # IPv4 reassembly (ip_frag.pxi) and ICMP errors
    FragDatagram *frags         # [nfrags], 64 KiB each, allocated when the stack starts
    uint32_t nfrags
    uint32_t frag_active
    uint32_t frag_bytes
    uint64_t udp_seq            # arrival order of UDP datagrams (channel vs reassembled)
    uint64_t icmp_window_start
    uint32_t icmp_count
    uint8_t *scratch            # 64 KiB: a UDP datagram too large for one frame
    # RFC 5961 challenge-ACK rate limit
    uint64_t challenge_window_start
    uint32_t challenge_count
    # SYN cookies: the secret and the 64-second counter they are tied to
    uint64_t cookie_key0
    uint64_t cookie_key1
    # work done by the last poll (frames in + frames out + timers fired)
    uint32_t progress
    # the stats segment: port counters are copied there now and then
    uint64_t stats_next_copy
    nc_port_stats *stats_ports  # [4]: the port chain, outermost first
