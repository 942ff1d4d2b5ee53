"""One stack per core on a real link (issue 11): two netchan stacks on the
same veth end, queue 0/2 and 1/2, against the Linux kernel in a namespace.
Each TCP flow must reach the stack of queue steer_queue(sport, dport, 2)
(the kernel applies each socket's steering filter), both stacks must make
outgoing connections whose replies come back to them, and a ping is
answered once (by queue 0), not twice."""
import os
import sys
import textwrap

from linux_peer import LINUX_IP, NETCHAN_IP, PREFIX, veth, veth6, veth_2q  # noqa: F401
from netchan.steer import steer_queue

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "percore_echo.py")


def _echo_example_answers(link, uri):
    """The echo example with two stacks on `uri` at the netchan end: each
    of 24 Linux connections says hi; [(its local port, the answer)] once a
    ping was answered once (by one stack, not both)."""
    server = link.netchan_proc(EXAMPLE, uri, f"{NETCHAN_IP}/{PREFIX}", "2")
    server.wait_for("queue 0/2: listening")
    server.wait_for("queue 1/2: listening")
    client = textwrap.dedent(f"""
        import socket
        for i in range(24):
            with socket.create_connection(("{NETCHAN_IP}", 7), timeout=10) as s:
                s.sendall(b"hi\\n")
                print(s.getsockname()[1], s.makefile("rb").readline().decode().strip(),
                      flush=True)
    """)
    out = link.linux(sys.executable, "-c", client, timeout=60).stdout.split("\n")
    answers = [line.split(" ", 1) for line in out if line]
    assert len(answers) == 24, out
    ping = link.linux("ping", "-c", "3", "-i", "0.2", "-W", "2", NETCHAN_IP, check=False)
    assert " 3 received" in ping.stdout, ping.stdout
    assert "DUP!" not in ping.stdout, ping.stdout
    return [(int(sport), answer) for sport, answer in answers]


def _flows_reach_the_stack_of_their_queue(link):
    """The echo example on `link` (its port() the netchan end's URI): each
    connection answered by the stack its ports steer to, both stacks seen."""
    seen = set()
    for sport, answer in _echo_example_answers(link, link.port()):
        k = steer_queue(sport, 7, 2)
        assert answer == f"queue {k}: hi", (sport, answer)
        seen.add(k)
    assert seen == {0, 1}


def test_flows_reach_the_stack_of_their_queue(veth):
    _flows_reach_the_stack_of_their_queue(veth)


def test_the_echo_example_on_xdp_one_stack_per_rx_queue(veth_2q):
    """The same example on `xdp:`, where run_per_core gives stack k the
    device's rx queue k (qid=k) and the veth's hash picks each flow's queue:
    both stacks open at the same moment (their attaches of libxdp's program
    race; the loser tries again and shares it), every connection is
    answered by one of them, and both are seen."""
    import netchan
    from conftest import require
    require(netchan.HAS_XDP, "netchan built without libxdp/libbpf (bash ci/install-deps.sh)")
    answers = {answer for _, answer in _echo_example_answers(veth_2q,
                                                              f"xdp:{veth_2q.netchan_dev}")}
    assert answers == {"queue 0: hi", "queue 1: hi"}, answers


# A Linux echo server on port 9000 (listening on `bind`), and a netchan
# client with one stack per queue: each connects 8 times and checks that its
# local port steers to its own queue and that the echo comes back to it.
_LINUX_ECHO = """
import socket, sys, threading
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
srv = socket.create_server((sys.argv[1], 9000), family=family, backlog=64)
print("READY", flush=True)
def serve(c):
    with c:
        while True:
            d = c.recv(65536)
            if not d:
                return
            c.sendall(d)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""


def _connect_out_per_queue(link, ips, server_ip, bind):
    server = link.linux_proc(sys.executable, "-c", _LINUX_ECHO, bind)
    server.wait_for("READY")
    code = textwrap.dedent(f"""
        import sys
        import netchan
        from netchan.percore import run_per_core
        from netchan.steer import steer_queue

        def work(uri, k, n):
            with netchan.Stack(uri, ip={ips!r}) as st:
                for i in range(8):
                    c = st.connect(({server_ip!r}, 9000), timeout=10)
                    assert steer_queue(c.getsockname()[1], 9000, n) == k
                    msg = f"queue {{k}} conn {{i}}".encode()
                    c.sendall(msg)
                    got = b""
                    while len(got) < len(msg):
                        got += c.recv(100, timeout=10)
                    assert got == msg, got
                    c.close()
                print(f"queue {{k}}: 8 echoes", flush=True)

        codes = run_per_core(work, {link.port()!r}, n=2)
        print("codes", codes, flush=True)
        sys.exit(max(codes))
    """)
    res = link.netchan_python(code, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "queue 0: 8 echoes" in res.stdout and "queue 1: 8 echoes" in res.stdout


def test_each_stack_connects_out_and_gets_its_replies(veth):
    _connect_out_per_queue(veth, f"{NETCHAN_IP}/{PREFIX}", LINUX_IP, "0.0.0.0")


def test_each_stack_connects_out_over_ipv6(veth6):
    """The steering filter reads IPv6 ports too: each stack's IPv6
    connections get their replies, and NDP reaches every queue."""
    from linux_peer import LINUX_IP6, NETCHAN_IP6, PREFIX6
    _connect_out_per_queue(veth6, [f"{NETCHAN_IP}/{PREFIX}", f"{NETCHAN_IP6}/{PREFIX6}"],
                           LINUX_IP6, "::")
