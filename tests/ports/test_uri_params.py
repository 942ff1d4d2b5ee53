"""Port URI parameters: each at most once."""
import pytest

from netchan.uri import parse_port_uri


@pytest.mark.parametrize("uri, key", [
    ("shm:x?loss=0.1&loss=0.2", "loss"),
    ("shm:x?seed=1&loss=0.1&seed=1", "seed"),
    ("pair:x?pcap=/tmp/a.pcap&pcap=/tmp/b.pcap", "pcap"),
    ("afpacket:eth0?blocks=4&blocks=8", "blocks"),
])
def test_a_repeated_parameter_is_refused_by_name(uri, key):
    with pytest.raises(ValueError) as e:
        parse_port_uri(uri)
    msg = str(e.value)
    assert f"parameter {key!r} given twice" in msg and uri in msg and "keep one" in msg


def test_distinct_parameters_still_combine():
    spec = parse_port_uri("shm:x?loss=0.1&dup=1%&seed=7&pcap=/tmp/x.pcap")
    assert spec.fault == {"loss": 0.1, "dup": 0.01, "seed": 7} and spec.pcap == "/tmp/x.pcap"
