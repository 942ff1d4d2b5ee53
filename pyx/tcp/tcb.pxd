cdef enum:
    OOO_MAX = 8                 # out-of-order ranges kept per connection
    SACK_MAX = 8                # SACKed ranges a sender's scoreboard keeps

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
    # owed by input, sent by tcp_send_owed right after the segment's ACK step
    TF_REXMT_FIRST = 0x40000    # resend the first unacknowledged segment (fast retransmit, partial ACK)
    TF_RST_REPLY = 0x80000      # answer an unacceptable ACK with <SEQ=rst_seq><CTL=RST>

cdef enum:
    REC_NONE = 0
    REC_NEWRENO = 1
    REC_SACK = 2

cdef struct Tcb:
    uint32_t id
    uint32_t gen                # bumped on free: stale handles see a mismatch
    uint8_t state
    uint8_t chan                # 1 + the pool channel leased to it this poll, 0 = none (iface/classify.pxi)
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
    uint32_t listener_gen       # ... and that listener's generation (listen.pxi)
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
    uint32_t rtt_seq            # (RTT timing, below; here to fill an 8-byte hole)
    uint64_t ts_recent_at
    # round trip and retransmission (RFC 6298), nanoseconds
    uint64_t srtt
    uint64_t rttvar
    uint64_t rto
    uint64_t rtt_start          # when rtt_seq was sent; 0 = no timing in progress
    uint8_t backoff
    uint8_t ooo_n
    uint16_t segs_unacked       # full segments received since our last ACK
    # congestion control (tcp/cc.pxi) and loss recovery
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
    uint32_t rst_seq            # SEQ of the owed RST reply (TF_RST_REPLY)
    uint32_t retransmits        # segments sent again (tcpi_total_retrans; fills a hole)
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
    uint32_t t_slot             # timing wheel (below; here to fill an 8-byte hole)
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
    # windows: rcv holds [app read .. rcv_nxt) plus out-of-order data; snd
    # holds [snd_una .. last byte the application wrote)
    Window rcv
    Window snd
    uint64_t rcv_pin            # lowest receive offset the application still views
    uint64_t ooo_start[OOO_MAX]
    uint64_t ooo_end[OOO_MAX]
    uint64_t fin_off            # receive offset of the peer's FIN once known, else -1

cdef uint32_t tcp_isn(StackState *st, uint32_t laddr, uint32_t raddr, uint16_t lport,
                             uint16_t rport, uint64_t now) noexcept nogil

# ---- state changes and tracing -------------------------------------------------

cdef void tcp_set_state(StackState *st, Tcb *t, uint8_t new_state) noexcept nogil
cdef void tcp_trace(StackState *st, uint32_t id, uint8_t old, uint8_t new) noexcept nogil
cdef Tcb *tcb_alloc(StackState *st) noexcept nogil
cdef bint tcp_windows_admit(const StackState *st) noexcept nogil
cdef bint tcp_rcv_attach(StackState *st, Tcb *t) noexcept nogil
cdef void tcp_rcv_idle(StackState *st, Tcb *t) noexcept nogil
cdef void tcp_snd_idle(StackState *st, Tcb *t) noexcept nogil
cdef void tcb_free(StackState *st, Tcb *t) noexcept nogil
cdef void tcb_free_quiet(StackState *st, Tcb *t) noexcept nogil
cdef void tcp_schedule(StackState *st, Tcb *t) noexcept nogil
cdef void tcp_closed(StackState *st, Tcb *t, int err) noexcept nogil
cdef uint32_t tcp_pick_wscale(uint32_t rcvbuf) noexcept nogil

cdef void tcp_open_tcb(StackState *st, Tcb *t, uint32_t laddr, uint32_t raddr, uint16_t lport,
                       uint16_t rport, uint32_t iss) noexcept nogil

cdef void tcp_negotiate(StackState *st, Tcb *t, const TcpOptions *o) noexcept nogil
cdef void tcp_init_cc(StackState *st, Tcb *t) noexcept nogil
