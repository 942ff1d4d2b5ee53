"""The iperf3 server role: takes tests from iperf3 clients (stock or
netchan), one at a time, as `iperf3 -s` does."""
from __future__ import annotations

import sys

from netchan.iperf3 import protocol as P
from netchan.iperf3.client import SETUP_TIMEOUT, stream_summary
from netchan.iperf3.control import await_bytes, await_json, await_state, refusal
from netchan.iperf3.report import BANNER
from netchan.iperf3.session import DataPhase, Stream


def serve(net, port, make_report, one_off=False, log=None):
    """Accept tests on `port` until interrupted (one test with one_off).
    make_report() gives a fresh Report per test. Returns the exit status:
    with one_off, 1 if that test failed."""
    log = log or (lambda text: print(text, file=sys.stderr, flush=True))
    listener = net.listen(port)
    test_no = 0
    status = 0
    try:
        while True:
            test_no += 1
            report = make_report()
            banner = f"{BANNER}\nServer listening on {port} (test #{test_no})\n{BANNER}"
            report.say(banner) if not report.as_json else log(banner)
            ctrl = net.accept(listener, None)
            try:
                run_test(net, listener, ctrl, report)
                status = 0
            except (P.ProtocolError, OSError) as e:
                report.error(str(e))
                status = 1
            finally:
                net.close(ctrl)
                report.finish()
            if one_off:
                return status
    finally:
        net.close(listener)


def run_test(net, listener, ctrl, report):
    """One test on an accepted control connection."""
    reader = P.ControlReader()
    cookie = P.check_cookie(await_bytes(ctrl, P.COOKIE_SIZE, SETUP_TIMEOUT))
    peer = ctrl.getpeername()[:2]
    report.say(f"Accepted connection from {peer[0]}, port {peer[1]}")
    report.doc["start"].update(accepted_connection={"host": peer[0], "port": peer[1]},
                               cookie=cookie[:-1].decode(), tcp_mss_default=net.mss())
    ctrl.sendall(P.state_byte(P.PARAM_EXCHANGE))
    try:
        params = P.TestParams.from_json(await_json(ctrl, reader, SETUP_TIMEOUT))
    except P.ProtocolError as e:
        if hasattr(e, "ie"):
            ctrl.sendall(P.server_error(e.ie))
        raise
    ctrl.sendall(P.state_byte(P.CREATE_STREAMS))
    streams = []
    try:
        for sid in P.stream_ids(params.parallel):
            while True:
                conn = net.accept(listener, SETUP_TIMEOUT)
                try:
                    if await_bytes(conn, P.COOKIE_SIZE, SETUP_TIMEOUT) == cookie:
                        break
                except P.ProtocolError:
                    pass
                _deny(net, conn)        # another client, or a stray connection
            streams.append(Stream(sid, conn, params.reverse, conn.getsockname()[:2],
                                  conn.getpeername()[:2]))
        report.start({}, params, sender_local=params.reverse)
        for s in streams:
            report.connected(s)
        ctrl.sendall(P.state_byte(P.TEST_START))
        ctrl.sendall(P.state_byte(P.TEST_RUNNING))
        phase = DataPhase(net, ctrl, reader, streams, params.length, report)
        phase.also_watch(listener, lambda: _deny(net, net.accept(listener, 0)))
        phase.run(lambda st: _end_of_test(st, ctrl, reader))
        summary = stream_summary(phase, net)
        congestion = net.congestion(streams[0].conn)
        # as iperf3 does at TEST_END: close the streams, so a client blocked
        # reading the rest of a block sees the end and reads the control state
        for s in streams:
            net.close(s.conn)
            s.open = False
        ctrl.sendall(P.state_byte(P.EXCHANGE_RESULTS))
        remote_cpu, remote = P.parse_results(await_json(ctrl, reader, SETUP_TIMEOUT))
        ctrl.sendall(P.encode_json(P.results_json(phase.cpu_percent, summary,
                                                  sender=params.reverse)))
        ctrl.sendall(P.state_byte(P.DISPLAY_RESULTS))
        report.end(summary, remote, phase.cpu_percent, remote_cpu, congestion, show_both=False)
        try:
            state = await_state(ctrl, reader, SETUP_TIMEOUT)
        except P.ProtocolError:
            state = P.IPERF_DONE            # a client that just closes is done too
        if state != P.IPERF_DONE:
            raise P.ProtocolError(refusal(state, ctrl, reader, 1.0))
    finally:
        for s in streams:
            net.close(s.conn)


def _end_of_test(state, ctrl, reader):
    if state == P.TEST_END:
        return True
    raise P.ProtocolError(refusal(state, ctrl, reader, 5.0))


def _deny(net, conn):
    """A busy server's answer: ACCESS_DENIED, then close."""
    try:
        conn.sendall(P.state_byte(P.ACCESS_DENIED))
    except OSError:
        pass
    net.close(conn)

