"""Resident memory per idle established connection, small (tests/api/idle_memory.py
has the full measurement and its command)."""
import idle_memory


def test_idle_connections_are_small():
    res = idle_memory.measure(2000)
    assert res["error"] is None and res["connections"] == 2000
    assert res["connections_in_stack"] == 2000
    # control block, flow slots, Python handle (no channel: leased per poll)
    assert res["rss_per_conn_without_windows"] <= 2048, res
    # window pages: one per window until windows are lazy (then 0)
    assert res["window_memfd_per_conn"] <= 8192, res
    assert res["rss_per_conn"] <= 2048 + 8192, res
