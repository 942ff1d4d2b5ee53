"""One stack per core: N processes, each pinned to its own CPU and owning
queue k of N of the same link (see netchan.steer for how flows are steered).

    from netchan.percore import run_per_core

    def serve(uri, k, n):
        with netchan.Stack(uri, ip="198.18.0.2/15") as stack:
            listener = stack.listen(80)
            ...

    run_per_core(serve, "afpacket:eth1", n=2)

Each process gets the link's URI with `queue=k/n` added. Stacks share the
address and the MAC: every one answers ARP for it; a TCP or UDP flow reaches
the stack of queue netchan.steer.steer_queue(source port, destination port,
n), and each stack picks its local ports so that its own connections come
back to it.

An `xdp:` link has no software steering (docs/xdp.md): process k gets
`qid=k`, the device's rx queue k, and the device's hash picks each flow's
queue. That serves passive connections (a server); a stack's own outgoing
connections would need local ports chosen by the device's hash.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal


def queue_uri(uri: str, k: int, n: int) -> str:
    """uri with queue=k/n added (k of n: this stack's queue); for an xdp:
    link, qid=k (the device's rx queue k: its hash steers, not netchan)."""
    query = uri.partition("?")[2]
    if uri.startswith("xdp:"):
        if "qid=" in query:
            raise ValueError(f"{uri!r} already names an rx queue; give the link's URI "
                             f"without qid=")
        return f"{uri}{'&' if '?' in uri else '?'}qid={k}"
    if "queue=" in query:
        raise ValueError(f"{uri!r} already names a queue; give the link's URI without queue=")
    return f"{uri}{'&' if '?' in uri else '?'}queue={k}/{n}"


def _child(target, uri, k, n, cpu, args):
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # the parent decides when to stop
    target(queue_uri(uri, k, n), k, n, *args)


def start_per_core(target, uri: str, n: int | None = None, cpus=None, args=()):
    """Start target(uri_k, k, n, *args) in n processes (default: one per CPU
    this process may use), process k pinned to cpus[k] (default: those CPUs
    in order; cpus=False: not pinned). Returns the processes, started."""
    allowed = sorted(os.sched_getaffinity(0))
    n = len(allowed) if n is None else int(n)
    if n < 1:
        raise ValueError(f"n={n}: at least one process")
    if cpus is None:
        cpus = [allowed[k % len(allowed)] for k in range(n)]
    elif cpus is False:
        cpus = [None] * n
    else:
        cpus = list(cpus)
        if len(cpus) != n:
            raise ValueError(f"cpus={cpus}: give one CPU per process ({n})")
    queue_uri(uri, 0, n)                            # checks the URI before forking
    ctx = mp.get_context("fork")
    procs = []
    for k in range(n):
        p = ctx.Process(target=_child, args=(target, uri, k, n, cpus[k], args),
                        name=f"netchan queue {k}/{n}", daemon=False)
        p.start()
        procs.append(p)
    return procs


def run_per_core(target, uri: str, n: int | None = None, cpus=None, args=()):
    """start_per_core, then wait for every process; Ctrl-C (or SIGTERM to
    the parent) stops them all with SIGTERM. Returns their exit codes."""
    procs = start_per_core(target, uri, n, cpus, args)

    def stop(*_):
        for p in procs:
            if p.is_alive():
                p.terminate()

    old = signal.signal(signal.SIGTERM, stop)
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        stop()
        for p in procs:
            p.join(10)
    finally:
        signal.signal(signal.SIGTERM, old)
    return [p.exitcode for p in procs]
