"""A fixed amount of work for instruction counts (not a test): 16 MiB from
one stack to another over a pair link on a virtual clock, non-blocking on
both sides in one thread. Under callgrind the count is the same run after
run, whatever else the machine does:

    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \\
        "$(python3 -c 'import sys; print(sys.executable)')" tests/api/transfer_for_callgrind.py
    callgrind_annotate --auto=no --threshold=100 /tmp/cg.out | grep _core
"""
import netchan

clock = netchan.VirtualClock()
a = netchan.Stack("pair:cg", ip="198.18.0.1/15", clock=clock, seed=1, rcvbuf=1 << 20,
                  sndbuf=1 << 20)
b = netchan.Stack("pair:cg", ip="198.18.0.2/15", clock=clock, seed=2, rcvbuf=1 << 20,
                  sndbuf=1 << 20)
listener = a.listen(80)
client = b.connect(("198.18.0.1", 80), timeout=10)
server = listener.accept(timeout=10)
data = bytes(range(256)) * 4096 * 8              # 8 MiB, sent twice
total = 2 * len(data)
sent = received = 0
while received < total:
    if sent < total:
        try:
            sent += client.send(data[sent % len(data):], timeout=0)
        except BlockingIOError:
            pass
    try:
        received += len(server.recv(1 << 20, timeout=0))
    except BlockingIOError:
        a.poll()
print(received)
server.close(); client.close(); b.close(); a.close()
