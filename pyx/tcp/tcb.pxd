cdef enum:
    OOO_MAX = 8                 # out-of-order ranges kept per connection
    SACK_MAX = 8                # SACKed ranges a sender's scoreboard keeps
    TCP_TSO_MAX_PAYLOAD = 65455 # a super-frame's payload: 64 KiB less the largest IPv4 and TCP headers
    # shorter segments carry their payload even to a shm peer that reads our
    # send windows in place: a request/response exchange is faster copying
    # 64 bytes than holding and releasing the slot (mem/peer_windows.pxi)
    TCP_REF_MIN_PAYLOAD = 1024

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
    # ECN (RFC 3168, tcp/ecn.pxi)
    TF_ECN_OK = 0x100000        # negotiated on the handshake
    TF_ECE_PENDING = 0x200000   # CE arrived: every ACK carries ECE until a CWR comes
    TF_CWR_PENDING = 0x400000   # we reduced for an ECE: the next new data carries CWR

cdef enum:  # Tcb.rexmt_kind
    TK_RTO = 0                  # retransmission timeout (RFC 6298)
    TK_PTO = 1                  # tail-loss probe timeout (RFC 8985 7)
    TK_REO = 2                  # RACK reordering window (RFC 8985 6.2)

cdef enum:  # Tcb.rack_flags
    RK_ON = 0x01                # RACK-TLP in use (Stack(recovery="rack"), needs SACK)
    RK_REORDERING = 0x02        # reordering seen: the reordering window applies
    RK_TLP = 0x04               # a tail-loss probe is outstanding (tlp_end)
    RK_TLP_RXT = 0x08           # ... and it was a retransmission
    RK_TLP_DSACK = 0x10         # ... and a D-SACK reported it as a duplicate
    RK_DSACK_ROUND = 0x40       # reo_mult already grew in this recovery episode
    RK_RESCUED = 0x80           # this recovery's rescue retransmission went (RFC 6675 NextSeg 4)

# RACK's per-segment transmit records (RFC 8985 6.1), one ring per send
# window slot (Arena.side of the send arena), not in the Tcb: an idle
# connection has no window slot and pays nothing. A record is a run of bytes
# [previous end (or SND.UNA), end) last sent at xmit_us with the same flags;
# runs split at SACK and retransmission edges, and merge when sent together.
cdef enum:
    SEG_RING_N = 128            # records per connection; past it neighbours merge (segring.pxi)
    SR_RXT = 0x01               # retransmitted (xmit_us is the latest copy's)
    SR_LOST = 0x02              # deemed lost, not resent since
    SR_SACKED = 0x04            # delivered (SACKed)

cdef struct SegRec:
    uint32_t end                # one past the run's last byte
    uint32_t xmit_us            # when it was last sent, µs (wraps: compared by difference;
                                # distinct per run, seg_stamp)

cdef struct SegRing:
    uint32_t rack_xmit_us       # RACK.xmit_ts: latest send time among delivered runs
    uint32_t rack_end           # RACK.end_seq of that run
    uint32_t rack_rtt_us        # RACK.rtt: its delivery's RTT
    uint32_t rack_fack          # RACK.fack: highest end delivered (reordering detection)
    uint16_t n                  # records in use
    uint8_t has_rack            # RACK.xmit_ts is set
    uint8_t _pad
    uint32_t last_us            # the latest send stamp (seg_stamp: stamps never repeat)
    uint8_t flags[SEG_RING_N]   # SR_*
    SegRec r[SEG_RING_N]

cdef enum:
    REC_NONE = 0
    REC_NEWRENO = 1
    REC_SACK = 2

cdef struct CubicEpoch:          # RFC 9438 4.2, set when a congestion-avoidance epoch starts
    double k
    double origin
    double west

cdef struct HystartRounds:       # RFC 9406, only in the first slow start (tcp/hystart.pxi)
    uint32_t window_end         # the round ends when this is acknowledged
    uint32_t last_min_us        # lowest RTT of the last round (0xFFFFFFFF: none)
    uint32_t cur_min_us         # ... of this round so far
    uint32_t baseline_us        # this round's lowest when CSS began
    uint8_t samples             # RTT samples this round
    uint8_t css_rounds          # rounds spent in conservative slow start (0: not in CSS)
    uint8_t done                # left for congestion avoidance (or never started)

cdef union CcScratch:            # the two are never needed at once
    CubicEpoch cubic
    HystartRounds hs

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
    # RACK-TLP (RFC 8985, tcp/rack.pxi); the per-segment send times and
    # RACK's own state live beside the send window (SegRing, tcp/segring.pxi)
    uint32_t tlp_end            # SND.MAX when the tail-loss probe went (RK_TLP)
    uint32_t min_rtt_us         # windowed minimum RTT in µs, 0xFFFFFFFF before one
    uint32_t min_rtt_at         # when it was taken, in 2^20 ns (~1 ms) units
    # PRR (RFC 6937, tcp/prr.pxi), during SACK recovery with recovery="rack"
    uint32_t prr_delivered      # bytes the peer received since recovery began
    uint32_t prr_out            # bytes sent since recovery began
    uint32_t prr_recover_fs     # FlightSize when recovery began
    uint32_t ecn_recover        # no new ECN reduction until SND.UNA reaches it (RFC 3168 6.1.2)
    uint32_t pmtu_raise_s       # after an ICMP lowered the MSS: second to try mss_full again, 0 = none
    uint16_t mss_full           # the MSS the handshake gave (before any PMTU reduction)
    uint8_t rack_flags          # RK_*
    uint8_t reo_mult            # reordering window in min_RTT/4 steps (RFC 8985 6.2)
    uint8_t reo_persist         # recoveries left before reo_mult returns to 1
    uint8_t _pad_rack
    double cubic_wmax
    CcScratch ccx               # CUBIC's epoch, or HyStart++ before the first one
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
    uint8_t rexmt_kind          # what t_rexmt times: TK_RTO / TK_PTO / TK_REO (tcp/rack.pxi)
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
cdef void tcp_rcv_detach(StackState *st, Tcb *t) noexcept nogil
cdef uint32_t tcp_snd_space(const StackState *st, const Tcb *t) noexcept nogil
cdef bint tcp_snd_move(StackState *st, Tcb *t) noexcept nogil
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
