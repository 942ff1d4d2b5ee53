"""A scripted receiver that ACKs whole round trips: tests that need a
connection to run for many RTTs (CUBIC's curve, recovery) without a second
stack, with full control over which segment is 'lost'."""
from tcp_harness import IRS, payload
from tcp_tools import MSS, ack

BLOCK = bytes(range(256)) * 4096          # 1 MiB of test data


class AckClock:
    """Every round: take what the stack sent, let one RTT pass, then ACK
    each segment in order (or report the first one lost: dupacks for the
    rest, then the ACKs of the retransmission one RTT later)."""

    def __init__(self, peer, conn, rtt, win=65535, every=1):
        self.peer, self.conn, self.rtt, self.win = peer, conn, rtt, win
        self.every = every                    # ACK every n-th segment (and the last)
        self.pending = []
        self.history = []                     # (virtual seconds, cwnd in segments)

    def top_up(self):
        try:
            while self.conn.send(BLOCK, timeout=0):
                pass
        except BlockingIOError:
            pass

    def drain(self):
        while True:
            segs = self.peer.recv()
            if not segs:
                return
            self.pending += [s for s in segs if payload(s)]

    def _ack(self, ack_no):
        ack(self.peer, ack_no, seq=IRS + 1, win=self.win)
        self.drain()

    def round(self, lose_first=False):
        self.top_up()
        self.drain()
        segs, self.pending = self.pending, []
        self.peer.advance(self.rtt)
        if lose_first:
            for _ in segs[1:]:
                self._ack(segs[0].seq)        # duplicate ACKs: fast retransmit
            # the retransmission arrives a round trip later: everything is ACKed
            segs2, self.pending = self.pending, []
            self.peer.advance(self.rtt)
            self._ack(segs[-1].seq + len(payload(segs[-1])))
            for s in segs2:
                if s.seq > segs[-1].seq:
                    self._ack(s.seq + len(payload(s)))
        else:
            for i, s in enumerate(segs):
                if (i + 1) % self.every == 0 or i == len(segs) - 1:
                    self._ack(s.seq + len(payload(s)))
        self.history.append((self.peer.clock.now_ns / 1e9, self.conn.cwnd / MSS))
        return self.conn.cwnd / MSS
