"""docker/Dockerfile and docker/compose.yaml, checked with what runs without a
Docker engine: the compose file parsed (PyYAML) and validated by docker-compose
`config`, its commands parsed by the programs they run, its addresses checked
against the address plan, the Dockerfile's COPY sources found in the tree,
and the entrypoint script run for real (in a testbed namespace)."""
import ipaddress
import os
import re
import shlex
import shutil
import subprocess

import pytest
import yaml

from netchan import demo
from netchan.uri import parse_port_uri

from conftest import require, require_root, unique

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCKER = os.path.join(REPO, "docker")
COMPOSE = os.path.join(DOCKER, "compose.yaml")
DOCKERFILE = os.path.join(DOCKER, "Dockerfile")
ENTRYPOINT = os.path.join(DOCKER, "entrypoint.sh")
TEST_NET = ipaddress.ip_network("198.18.0.0/15")
NEEDED_CAPS = {"NET_RAW", "NET_ADMIN", "IPC_LOCK"}


@pytest.fixture(scope="module")
def compose():
    with open(COMPOSE) as f:
        return yaml.safe_load(f)        # safe_load resolves the <<: merge keys


@pytest.fixture(scope="module")
def dockerfile():
    """Instructions as (KEYWORD, arguments), continuation lines joined."""
    with open(DOCKERFILE) as f:
        text = re.sub(r"\\\n", " ", f.read())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def demo_args(service):
    cmd = service["command"]
    assert isinstance(cmd, list), "commands are exec-form lists (no shell between)"
    assert cmd[:3] == ["python3", "-m", "netchan.demo"], cmd
    return demo.build_parser().parse_args(cmd[3:])


# ---------------------------------------------------------------------------
# compose.yaml


def test_services_build_one_image_from_the_tree(compose):
    services = compose["services"]
    assert {"server", "client", "kernel-client"} <= set(services)
    for name, svc in services.items():
        build = svc["build"]
        context = os.path.normpath(os.path.join(DOCKER, build["context"]))
        assert context == REPO, f"{name}: build context must be the repository root"
        assert os.path.isfile(os.path.join(context, build["dockerfile"]))
        assert svc["image"] == "netchan:dev"
        assert "network_mode" not in svc and not svc.get("privileged"), name


def test_capabilities_sysctls_hugepages(compose):
    for name, svc in compose["services"].items():
        assert NEEDED_CAPS <= set(svc["cap_add"]), name
        assert svc["ulimits"]["memlock"] == -1, f"{name}: IPC_LOCK needs an unlimited memlock"
        sysctls = svc["sysctls"]
        assert sysctls["net.ipv6.conf.all.disable_ipv6"] == 1
        assert sysctls["net.ipv4.ip_forward"] == 0
        mounts = [v for v in svc["volumes"] if isinstance(v, dict)]
        assert any(v["type"] == "bind" and v["source"] == "/dev/hugepages"
                   and v["target"] == "/dev/hugepages" for v in mounts), name
        assert svc["environment"]["NETCHAN_OFFLOAD"] == "off"


def test_private_network_and_address_plan(compose):
    nets = compose["networks"]
    assert set(nets) == {"testnet"}
    net = nets["testnet"]
    assert net["internal"] is True, "no route out of the test network"
    (ipam,) = net["ipam"]["config"]
    subnet = ipaddress.ip_network(ipam["subnet"])
    ip_range = ipaddress.ip_network(ipam["ip_range"])
    assert subnet.subnet_of(TEST_NET) and ip_range.subnet_of(subnet)
    assert ipaddress.ip_address(ipam["gateway"]) in subnet

    services = compose["services"]
    kernel_ips = {}
    for name, svc in services.items():
        (net_name,) = svc["networks"]
        assert net_name == "testnet"
        ip = ipaddress.ip_address(svc["networks"]["testnet"]["ipv4_address"])
        assert ip in ip_range, f"{name}: kernel address outside Docker's ip_range"
        kernel_ips[name] = ip
    assert len(set(kernel_ips.values())) == len(kernel_ips)

    # netchan's addresses: on the network, never a kernel's (it would answer
    # netchan's peers with RSTs), never one Docker could hand out
    netchan_ips = {}
    for name, svc in services.items():
        args = demo_args(svc)
        if args.role == "server" or not args.kernel:
            iface = ipaddress.ip_interface(args.ip)
            assert iface.network.supernet_of(subnet) or iface.network == subnet, \
                f"{name}: --ip {args.ip} must be on-link for the whole network"
            assert iface.ip in subnet and iface.ip not in ip_range
            assert iface.ip not in kernel_ips.values()
            netchan_ips[name] = iface.ip
    assert len(set(netchan_ips.values())) == len(netchan_ips)
    server = demo_args(services["server"])
    for name in ("client", "kernel-client"):
        args = demo_args(services[name])
        assert ipaddress.ip_address(args.server) == netchan_ips["server"]
        assert args.tcp_port == server.tcp_port


def test_commands_run_netchan_over_afpacket(compose):
    services = compose["services"]
    server, client, kernel_client = (demo_args(services[n])
                                     for n in ("server", "client", "kernel-client"))
    assert server.role == "server" and server.connections == 0
    for args in (server, client):
        spec = parse_port_uri(args.port)
        assert (spec.kind, spec.target) == ("afpacket", "eth0")
    assert client.role == "client" and not client.kernel and client.bytes == 64 << 20
    assert kernel_client.kernel and kernel_client.port is None
    assert "server" in services["client"]["depends_on"]
    assert services["kernel-client"]["depends_on"]["client"]["condition"] == \
        "service_completed_successfully"


def test_docker_compose_config_validates():
    """The reference implementation's own check (no engine needed)."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"],
                                                 capture_output=True).returncode == 0:
        argv = ["docker", "compose", "-f", COMPOSE, "config", "-q"]
    else:
        require(shutil.which("docker-compose") is not None,
                "neither `docker compose` nor docker-compose is installed "
                "(Debian: apt-get install docker-compose)")
        argv = ["docker-compose", "-f", COMPOSE, "config", "-q"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    # and it resolves the build context to this tree
    r = subprocess.run(argv[:-1], capture_output=True, text=True, timeout=120, check=True)
    resolved = yaml.safe_load(r.stdout)
    assert os.path.normpath(resolved["services"]["server"]["build"]["context"]) == REPO


# ---------------------------------------------------------------------------
# Dockerfile


def test_dockerfile_base_and_packages(dockerfile):
    assert dockerfile[0] == ("FROM", "debian:bookworm")
    runs = " ".join(args for kw, args in dockerfile if kw == "RUN")
    for pkg in ("python3", "python3-dev", "gcc", "pkg-config", "libdpdk-dev", "dpdk", "iperf3",
                "iproute2", "ethtool", "nftables", "tcpdump", "curl"):
        assert re.search(rf"(?<![\w-]){re.escape(pkg)}(?![\w-])", runs), f"{pkg} not installed"
    assert re.search(r"pip install \"?\.(\[[a-z,]+\])?\"?", runs), "netchan must be pip-installed"


def test_dockerfile_copies_what_the_build_needs(dockerfile):
    copied = []
    for kw, args in dockerfile:
        if kw != "COPY":
            continue
        parts = shlex.split(args)
        assert not any(p.startswith("--from") for p in parts)
        for src in parts[:-1]:
            assert os.path.exists(os.path.join(REPO, src)), f"COPY {src}: not in the repository"
            copied.append(os.path.normpath(src))
    # every path setup.py and pyproject.toml build from is inside a COPY
    with open(os.path.join(REPO, "setup.py")) as f:
        setup_py = f.read()
    needed = {"pyproject.toml", "setup.py", "python/netchan/__init__.py", "builders/dpdk/build.py"}
    needed |= set(re.findall(r'"((?:pyx|include)[^"]*)"', setup_py))
    for path in needed:
        assert os.path.exists(os.path.join(REPO, path)), path
        assert any(path == c or path.startswith(c + "/") for c in copied), \
            f"{path} is used by the build but not copied into the image"
    # the ENTRYPOINT is the copied script
    (entry,) = [args for kw, args in dockerfile if kw == "ENTRYPOINT"]
    assert "netchan-entrypoint" in entry
    assert any(kw == "COPY" and args.startswith("docker/entrypoint.sh ") for kw, args in dockerfile)


def test_dockerignore_keeps_sources():
    path = os.path.join(DOCKER, "Dockerfile.dockerignore")
    with open(path) as f:
        patterns = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    assert "build" in patterns and "**/*.so" in patterns
    for kept in ("pyx", "include", "python", "builders", "setup.py", "pyproject.toml", "docker"):
        assert kept not in patterns


# ---------------------------------------------------------------------------
# entrypoint.sh


def test_entrypoint_runs_the_command():
    r = subprocess.run(["sh", "-n", ENTRYPOINT])
    assert r.returncode == 0
    r = subprocess.run(["sh", ENTRYPOINT, "sh", "-c", "echo ran; exit 3"], capture_output=True,
                       text=True, env=dict(os.environ, NETCHAN_OFFLOAD="on"), timeout=30)
    assert r.returncode == 3 and r.stdout == "ran\n"


@pytest.mark.root
def test_entrypoint_turns_offloads_off_in_a_namespace():
    require_root()
    require(shutil.which("ethtool") is not None, "ethtool is not installed")
    from netchan.testbed import Testbed
    with Testbed(unique("dock")).up(hosts=2) as tb:
        assert all(h.tx_csum_offload for h in tb.status().hosts)
        r = tb.exec("h1", ["sh", ENTRYPOINT, "true"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        out = tb.exec("h1", ["ethtool", "-k", "eth0"], capture_output=True, text=True,
                      check=True).stdout
        assert "tx-checksumming: off" in out and "tcp-segmentation-offload: off" in out
        assert [h.tx_csum_offload for h in tb.status().hosts] == [False, True]
