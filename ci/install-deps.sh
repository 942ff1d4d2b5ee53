#!/usr/bin/env bash
# Install the system packages netchan's build, tests and benchmarks use, from
# Debian's archive, when they are missing and we can (root + apt-get).
# Anything already present is left alone; without root we only report.
set -euo pipefail

# command-or-file to check  ->  Debian package providing it
declare -A NEED=(
  [pkg-config]=pkg-config
  [/usr/include/dpdk/rte_eal.h]=libdpdk-dev
  [dpdk-testpmd]=dpdk
  [iperf3]=iperf3
  [curl]=curl
  [hping3]=hping3
  [tcpdump]=tcpdump
  [ethtool]=ethtool
  [ping]=iputils-ping
  [docker-compose]=docker-compose
  [nft]=nftables
  [ip]=iproute2
  [tc]=iproute2
  [gcc]=gcc
  [ping]=iputils-ping
  [nstat]=iproute2
)

missing=()
for what in "${!NEED[@]}"; do
  if [[ "$what" == /* ]]; then
    [[ -e "$what" ]] || missing+=("${NEED[$what]}")
  else
    command -v "$what" >/dev/null 2>&1 || missing+=("${NEED[$what]}")
  fi
done
# python headers for building the extension
python3 - <<'PY' || missing+=(python3-dev)
import sysconfig, os, sys
sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)
PY

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all system packages present"
  exit 0
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: missing ${missing[*]} (run as root on Debian to install them; continuing)" >&2
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
