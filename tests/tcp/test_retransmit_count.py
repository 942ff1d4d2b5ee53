"""Connection.info()["retransmits"]: segments a connection sent again (RTO
or fast retransmit), like Linux's tcpi_total_retrans. netchan iperf3 reports
it per stream; here it must add up to the stack's tcp_retransmits."""
import netchan

from conftest import CLIENT_IP, SERVER_IP, unique
from helpers import pattern, pump_transfer


def test_retransmits_per_connection_add_up_to_the_stack_counter(vclock):
    link = unique("rexmit")
    with netchan.Stack(f"pair:{link}?loss=0.03&seed=5", ip=f"{SERVER_IP}/15", clock=vclock,
                       seed=1) as a, \
         netchan.Stack(f"pair:{link}", ip=f"{CLIENT_IP}/15", clock=vclock, seed=2) as b:
        listener = a.listen(5201)
        conns = [b.connect((SERVER_IP, 5201), timeout=30) for _ in range(2)]
        servers = [listener.accept(timeout=30) for _ in conns]
        assert [c.info()["retransmits"] for c in conns] == [0, 0]
        data = pattern(2 << 20, 3)
        for c, s in zip(conns, servers):
            pump_transfer(b, c, s, data)
        counts = [c.info()["retransmits"] for c in conns]
        assert all(n > 0 for n in counts), counts
        assert sum(counts) == b.stats()["tcp_retransmits"]
        for c, s in zip(conns, servers):
            c.close()
            s.close()
