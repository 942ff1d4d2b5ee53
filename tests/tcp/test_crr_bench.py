"""crr_bench.py runs (briefly): netchan over shm between two processes and
kernel sockets over loopback, connect-request-close. Nothing here judges the
speed; docs/benchmarks.md has the figures and the command."""
import crr_bench


def test_crr_bench_runs_both_stacks():
    netchan_r, kernel_r = crr_bench.main(["--seconds", "0.5"])
    assert netchan_r["connections"] > 0 and kernel_r["connections"] > 0
    for side in ("client", "server"):
        s = netchan_r[side]
        assert s["tcp_conn_table_full"] == 0 and s["tcp_timeouts"] == 0
        assert s["tcp_time_wait_created"] == (s["tcp_time_wait_expired"] + s["tcp_time_wait_recycled"]
                                              + s["tcp_time_wait_reused"] + s["tcp_time_wait_reset"]
                                              + s["time_wait"])
