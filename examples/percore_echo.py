"""An echo server with one netchan stack per core (docs/percore.md).

    sudo python3 examples/percore_echo.py afpacket:eth1 198.18.0.2/15 [N [BUSY_POLL]]

Every stack owns queue k of N of the link: a connection reaches the stack
of queue steer_queue(client port, 7, N) (netchan.steer), which answers each
line with "queue K: LINE". BUSY_POLL is each stack's busy_poll in seconds
(how long a blocking wait spins before it sleeps; netchan's default 50 us).
Stops on Ctrl-C or SIGTERM.
"""
import signal
import sys

import netchan
from netchan.percore import run_per_core

PORT = 7


def serve(uri, k, n, ip, busy_poll=None):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    opts = {} if busy_poll is None else {"busy_poll": busy_poll}
    with netchan.Stack(uri, ip=ip, **opts) as stack:
        listener = stack.listen(PORT, backlog=256)
        # one write (the stacks share stdout: print's separate newline
        # would let two lines run together)
        sys.stdout.write(f"queue {k}/{n}: listening on {ip.split('/')[0]}:{PORT}\n")
        sys.stdout.flush()
        conns = []
        while not stop:
            while listener.pending:
                conns.append(listener.accept(timeout=0))
            for c in list(conns):
                if c.readable or c.state != "ESTABLISHED":
                    data = c.recv(65536, timeout=0) if c.readable else b""
                    if data:
                        c.sendall(f"queue {k}: ".encode() + data)
                    else:
                        c.close()
                        conns.remove(c)
            stack.wait([listener] + conns, timeout=0.2)


if __name__ == "__main__":
    link, ip = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else None
    busy_poll = float(sys.argv[4]) if len(sys.argv) > 4 else None
    codes = run_per_core(serve, link, n=n, args=(ip, busy_poll))
    sys.exit(max(code or 0 for code in codes))
