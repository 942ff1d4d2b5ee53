# C declarations for the AF_PACKET port (pyx/ports/afpacket.pxi): packet
# sockets with mmap rings (linux/if_packet.h), the virtio-net header that
# PACKET_VNET_HDR puts in front of every frame (linux/virtio_net.h), and the
# socket, ioctl and poll calls the port makes. Only declarations live here.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t


cdef extern from "<sys/socket.h>" nogil:
    int AF_PACKET
    int SOCK_RAW
    int SOCK_CLOEXEC
    int SOL_PACKET
    int MSG_DONTWAIT
    int SOL_SOCKET
    ctypedef unsigned int socklen_t
    struct sockaddr:
        unsigned short sa_family
        char sa_data[14]
    int socket(int domain, int type, int protocol)
    int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
    int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
    int bind(int fd, const sockaddr *addr, socklen_t len)
    long sendto(int fd, const void *buf, size_t n, int flags, const sockaddr *addr, socklen_t len)
    int SO_SNDBUF
    int SO_SNDBUFFORCE
    struct iovec:
        void *iov_base
        size_t iov_len
    struct msghdr:
        void *msg_name
        socklen_t msg_namelen
        iovec *msg_iov
        size_t msg_iovlen
        void *msg_control
        size_t msg_controllen
        int msg_flags
    struct mmsghdr:
        msghdr msg_hdr
        unsigned int msg_len
    # one call for a burst of frames, each gathered from its iovecs (_GNU_SOURCE)
    int sendmmsg(int fd, mmsghdr *msgs, unsigned int n, int flags)


cdef extern from "<linux/filter.h>" nogil:
    # classic BPF, for SO_ATTACH_FILTER (pyx/ports/steer.pxi)
    int SO_ATTACH_FILTER
    struct sock_filter:
        uint16_t code
        uint8_t jt
        uint8_t jf
        uint32_t k
    struct sock_fprog:
        unsigned short len
        sock_filter *filter


cdef extern from "<arpa/inet.h>" nogil:
    uint16_t htons(uint16_t v)


cdef extern from "<net/if.h>" nogil:
    int IFNAMSIZ
    int IFF_UP
    int IFF_RUNNING
    unsigned int if_nametoindex(const char *name)
    # the union members are macros in the C header; Cython emits the names
    struct ifreq:
        char ifr_name[16]
        short ifr_flags
        int ifr_mtu
        int ifr_ifindex
        sockaddr ifr_hwaddr


cdef extern from "<sys/ioctl.h>" nogil:
    int ioctl(int fd, unsigned long request, ...)


cdef extern from "<linux/sockios.h>" nogil:
    unsigned long SIOCGIFFLAGS
    unsigned long SIOCGIFMTU
    unsigned long SIOCGIFHWADDR


cdef extern from "<poll.h>" nogil:
    short POLLIN
    struct pollfd:
        int fd
        short events
        short revents


cdef extern from "<signal.h>" nogil:
    ctypedef struct sigset_t:
        pass


cdef extern from "<time.h>" nogil:
    struct timespec:
        long tv_sec
        long tv_nsec


cdef extern from "<poll.h>" nogil:
    int ppoll(pollfd *fds, unsigned long nfds, const timespec *tmo, const sigset_t *sigmask)


cdef extern from "<linux/if_ether.h>" nogil:
    int ETH_P_ALL


cdef extern from "<linux/if_packet.h>" nogil:
    int PACKET_ADD_MEMBERSHIP
    int PACKET_MR_UNICAST
    int PACKET_RX_RING
    int PACKET_TX_RING
    int PACKET_STATISTICS
    int PACKET_VERSION
    int PACKET_LOSS
    int PACKET_VNET_HDR
    int PACKET_QDISC_BYPASS
    int PACKET_IGNORE_OUTGOING
    int PACKET_RESERVE
    int TPACKET_V2
    int TPACKET_V3
    uint32_t TP_STATUS_KERNEL
    uint32_t TP_STATUS_USER
    uint32_t TP_STATUS_LOSING
    uint32_t TP_STATUS_CSUMNOTREADY
    uint32_t TP_STATUS_CSUM_VALID
    uint32_t TP_STATUS_AVAILABLE
    uint32_t TP_STATUS_SEND_REQUEST
    uint32_t TP_STATUS_SENDING
    uint32_t TP_STATUS_WRONG_FORMAT
    int TPACKET_ALIGNMENT

    struct sockaddr_ll:
        unsigned short sll_family
        unsigned short sll_protocol
        int sll_ifindex
        unsigned short sll_hatype
        unsigned char sll_pkttype
        unsigned char sll_halen
        unsigned char sll_addr[8]

    struct packet_mreq:
        int mr_ifindex
        unsigned short mr_type
        unsigned short mr_alen
        unsigned char mr_address[8]

    struct tpacket_req3:
        unsigned int tp_block_size
        unsigned int tp_block_nr
        unsigned int tp_frame_size
        unsigned int tp_frame_nr
        unsigned int tp_retire_blk_tov
        unsigned int tp_sizeof_priv
        unsigned int tp_feature_req_word

    struct tpacket_stats_v3:
        unsigned int tp_packets
        unsigned int tp_drops
        unsigned int tp_freeze_q_cnt

    struct tpacket3_hdr:
        uint32_t tp_next_offset
        uint32_t tp_sec
        uint32_t tp_nsec
        uint32_t tp_snaplen
        uint32_t tp_len
        uint32_t tp_status
        uint16_t tp_mac
        uint16_t tp_net

    struct tpacket2_hdr:
        uint32_t tp_status
        uint32_t tp_len
        uint32_t tp_snaplen
        uint16_t tp_mac
        uint16_t tp_net
        uint32_t tp_sec
        uint32_t tp_nsec

    struct tpacket_hdr_v1:
        uint32_t block_status
        uint32_t num_pkts
        uint32_t offset_to_first_pkt
        uint32_t blk_len
        uint64_t seq_num

    union tpacket_bd_header_u:
        tpacket_hdr_v1 bh1

    struct tpacket_block_desc:
        uint32_t version
        uint32_t offset_to_priv
        tpacket_bd_header_u hdr


cdef extern from "<linux/virtio_net.h>" nogil:
    uint8_t VIRTIO_NET_HDR_F_NEEDS_CSUM
    uint8_t VIRTIO_NET_HDR_F_DATA_VALID
    uint8_t VIRTIO_NET_HDR_GSO_NONE
    uint8_t VIRTIO_NET_HDR_GSO_TCPV4
    uint8_t VIRTIO_NET_HDR_GSO_TCPV6
    uint8_t VIRTIO_NET_HDR_GSO_ECN
    # fields in host byte order (legacy virtio, as packet sockets use it)
    struct virtio_net_hdr:
        uint8_t flags
        uint8_t gso_type
        uint16_t hdr_len
        uint16_t gso_size
        uint16_t csum_start
        uint16_t csum_offset
