"""The iperf3 client role: asks a server (stock iperf3 or netchan) for a
timed TCP test, runs the streams, and prints iperf3's report."""
from __future__ import annotations

from netchan.iperf3 import protocol as P
from netchan.iperf3.control import await_json, await_state, refusal
from netchan.iperf3.session import DataPhase, Stream

SETUP_TIMEOUT = 30.0            # seconds for any one step outside the test itself


def stream_summary(phase, net):
    """DataPhase.local_results plus the sender's TCP maxima (-J end.streams)."""
    out = []
    for s, r in zip(phase.streams, phase.local_results()):
        if s.sender:
            rtts = s.rtts or [0]
            r.update(max_snd_cwnd=s.max_cwnd, max_snd_wnd=s.max_snd_wnd, max_rtt=max(rtts),
                     min_rtt=min(rtts), mean_rtt=sum(rtts) // len(rtts))
        out.append(r)
    return out


def run_client(net, host, port, params, report, connect_timeout=10.0):
    """One test against host:port; returns 0. ProtocolError/OSError on failure."""
    cookie = P.make_cookie()
    report.say(f"Connecting to host {host}, port {port}")
    if params.reverse:
        report.say(f"Reverse mode, remote host {host} is sending")
    ctrl = net.connect((host, port), connect_timeout)
    streams = []
    phase = None
    reader = P.ControlReader()
    try:
        ctrl.sendall(cookie)
        report.doc["start"].update(connecting_to={"host": host, "port": port},
                                   cookie=cookie[:-1].decode(), tcp_mss_default=net.mss())
        idle = None
        while True:
            state = await_state(ctrl, reader, SETUP_TIMEOUT, idle)
            if state == P.PARAM_EXCHANGE:
                ctrl.sendall(P.encode_json(params.to_json()))
            elif state == P.CREATE_STREAMS:
                for sid in P.stream_ids(params.parallel):
                    conn = net.connect((host, port), connect_timeout)
                    conn.sendall(cookie)
                    streams.append(Stream(sid, conn, not params.reverse, conn.getsockname()[:2],
                                          conn.getpeername()[:2]))
            elif state == P.TEST_START:
                report.start({}, params, sender_local=not params.reverse)
                for s in streams:
                    report.connected(s)
            elif state == P.TEST_RUNNING:
                if not streams:
                    raise P.ProtocolError("TEST_RUNNING before CREATE_STREAMS")
                phase = DataPhase(net, ctrl, reader, streams, params.length, report,
                                  duration=params.time)
                phase.run(lambda st: _during_test(st, ctrl, reader))
                phase.finish_blocks(SETUP_TIMEOUT)
                # the figures now: the server closes the streams at TEST_END
                summary = stream_summary(phase, net)
                congestion = net.congestion(streams[0].conn)
                ctrl.sendall(P.state_byte(P.TEST_END))
                idle = phase.drain
            elif state == P.EXCHANGE_RESULTS and phase is not None:
                ctrl.sendall(P.encode_json(P.results_json(phase.cpu_percent, summary,
                                                          sender=not params.reverse)))
                remote_cpu, remote = P.parse_results(await_json(ctrl, reader, SETUP_TIMEOUT, idle))
            elif state == P.DISPLAY_RESULTS and phase is not None:
                report.end(summary, remote, phase.cpu_percent, remote_cpu, congestion,
                           show_both=True)
                ctrl.sendall(P.state_byte(P.IPERF_DONE))
                report.say()
                report.say("iperf Done.")
                return 0
            else:
                raise P.ProtocolError(refusal(state, ctrl, reader, SETUP_TIMEOUT))
    finally:
        for s in streams:
            net.close(s.conn)
        net.close(ctrl)


def _during_test(state, ctrl, reader):
    """A state byte from the server while the client's streams run: only an
    end of the test from its side (an error) can come now."""
    raise P.ProtocolError(refusal(state, ctrl, reader, 5.0))
