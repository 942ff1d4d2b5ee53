"""The hot path stays C: the functions every packet goes through must not
touch a Python object, take the GIL or build a traceback. Checked on the C
that Cython generates from pyx/netchan/_core.pyx (generated afresh into a temp dir)."""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOT = [
    # per packet
    "stack_poll", "stack_rx_frame", "stack_drain_tcb", "stack_drain_listener", "stack_output",
    "tcp_input", "tcp_process", "tcp_process_text", "tcp_send_owed", "tcp_output", "tcp_emit", "tcp_receive_data", "tcp_ack_new_data", "tcp_dup_ack",
    "tcp_send_new", "tcp_output_sack_recovery", "sack_update", "sack_insert", "range_merge", "tcp_ooo_add", "sack_pipe", "tcp_sack_fill",
    "cc_on_ack", "cubic_on_ack_ca", "newreno_on_ack_ca", "timers_run", "timer_rearm", "tx_flush", "ip_send", "ip_send_cached", "arp_input",
    "tcp_reply_stateless",
    "flow_lookup", "flow_insert", "flow_remove", "icmp_echo_reply_in_place",
    "tw_lookup", "tw_claim", "tcp_time_wait_input", "tcp_time_wait_record", "tw_expire",
    "tcp_time_wait_reuse_ok",
    "ip_fragment_input", "ip_output",
    # per segment read in place across a shm link (mem/peer_windows.pxi)
    "stack_rx_ref", "stack_rx_ref_segment", "buf_tcp", "tcp_rcv_place", "tcp_rcv_privatize",
    "tcp_emit_frame", "peerwin_resolve", "peerwin_adopt", "peerwin_gen_still", "peerwin_release",
    "stack_windows_check", "stack_poll_and_sweep", "arena_release", "arena_unexport",
    # per IPv6 packet
    "stack_rx_ipv6", "stack_rx_icmp6", "stack_rx_tcp", "stack_rx_reassembled6", "nd_input",
    "ip6_send", "ip6_send_cached", "icmp6_echo_reply_in_place", "tcp6_reply_rst",
    "ip6_peer_find", "ip6_peer_intern", "ip6_fragment_input", "udp6_send",
    # ports
    "link_rx_burst", "link_tx_burst", "link_alloc_burst", "link_free_burst", "link_wait",
    "fault_rx_burst", "fault_tx_burst", "fault_process", "pcap_rx_burst", "pcap_tx_burst",
    "afp_rx_burst", "afp_rx_frame", "afp_rx_gso", "afp_tx_burst", "afp_alloc_burst",
    "afp_free_burst", "afp_wait", "afp_rx_whole", "afp_free_bufs",
]
PYTHON_API = ["Py_INCREF", "Py_DECREF", "Py_XDECREF", "PyObject_", "PyGILState", "__Pyx_AddTraceback",
              "__Pyx_ErrFetch", "__Pyx_RaiseException", "_PyThreadState"]


@pytest.fixture(scope="module")
def generated_c(tmp_path_factory):
    out = tmp_path_factory.mktemp("cy") / "_core.c"
    r = subprocess.run([sys.executable, "-m", "cython", "-3", "-I", "pyx", "-I", "include",
                        "-X", "boundscheck=False", "-X", "wraparound=False", "-X", "cdivision=True",
                        "pyx/netchan/_core.pyx", "-o", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    return out.read_text()


def _body(src, name):
    m = re.search(r"static [^\n;]*__pyx_f_\w*_core_" + name + r"\([^;{]*\)\s*\{", src)
    assert m, f"{name} not found in the generated C"
    depth, i = 1, m.end()
    while depth:
        depth += {"{": 1, "}": -1}.get(src[i], 0)
        i += 1
    return src[m.end():i]


@pytest.mark.parametrize("name", HOT)
def test_hot_function_is_pure_c(generated_c, name):
    body = _body(generated_c, name)
    found = [w for w in PYTHON_API if w in body]
    assert not found, f"{name} uses the Python C-API: {found}"
