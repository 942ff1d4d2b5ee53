#!/usr/bin/env bash
# Check the system packages netchan's build, tests and benchmarks use, and
# install the missing ones from Debian's archive when we can (root + apt-get).
#
#   bash ci/install-deps.sh [--stamp FILE]
#
# Nothing missing: no apt-get at all, and FILE (if given) is written so that
# `make` does not check again. Something missing, as root: apt-get installs it
# (waiting up to 120 s for another apt to let go of its lock), then FILE is
# written. Something missing, not root: prints what and the command for root,
# writes no FILE (the next `make` checks again: a second or so) and exits 0,
# so that the build goes on and the tests that need the missing tools skip
# (outside CI) or fail (in CI).
#
# PYTHON (default python3) is the interpreter the venv will be made from: its
# headers (python3-dev) and venv/ensurepip (python3-venv) are checked too.
set -euo pipefail

stamp=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --stamp) stamp="$2"; shift 2 ;;
    *) echo "usage: $0 [--stamp FILE]" >&2; exit 2 ;;
  esac
done
PYTHON="${PYTHON:-python3}"
# tools under /usr/sbin (ip, tc, nft, ethtool) are not on a normal user's PATH
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# Debian package -> a command or file that shows it is there without dpkg
# (what Debian 12's packages really ship: `dpdk` has dpdk-devbind.py, no testpmd)
declare -A PROBE=(
  [pkg-config]=pkg-config
  [gcc]=gcc
  [libdpdk-dev]=/usr/include/dpdk/rte_eal.h
  [libxdp-dev]=/usr/include/xdp/xsk.h
  [libbpf-dev]=/usr/include/bpf/libbpf.h
  [dpdk]=dpdk-devbind.py
  [iperf3]=iperf3
  [curl]=curl
  [wrk]=wrk
  [hping3]=hping3
  [sockperf]=sockperf
  [tcpdump]=tcpdump
  [ethtool]=ethtool
  [iputils-ping]=ping
  [docker-compose]=docker-compose
  [nftables]=nft
  [iproute2]=ip
  [radvd]=radvd
)

have_dpkg=0
command -v dpkg-query >/dev/null 2>&1 && have_dpkg=1

installed() {   # PKG -> 0 if dpkg says it is installed
  [[ $have_dpkg -eq 1 ]] &&
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

probe() {       # command-or-file -> 0 if present
  if [[ "$1" == /* ]]; then [[ -e "$1" ]]; else command -v "$1" >/dev/null 2>&1; fi
}

missing=()
for pkg in "${!PROBE[@]}"; do
  installed "$pkg" || probe "${PROBE[$pkg]}" || missing+=("$pkg")
done

# The base interpreter: headers to build the extension, venv + ensurepip to
# make .venv. Debian's own python3 (prefix /usr) gets them from python3-dev,
# python3-venv and python3-pip; any other python3 (pyenv, a source build)
# must bring its own, and we can only say so.
if ! pyinfo=$("$PYTHON" - <<'PY' 2>/dev/null
import os, sys, sysconfig
h = os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))
try:
    import venv, ensurepip  # noqa: F401
    v = True
except ImportError:
    v = False
print(sys.base_prefix, int(h), int(v))
PY
); then
  echo "install-deps: cannot run $PYTHON (set PYTHON= to a Python 3.10 or newer)" >&2
  exit 1
fi
read -r prefix has_headers has_venv <<<"$pyinfo"
foreign=()
if [[ "$prefix" == /usr ]]; then
  for pkg in python3-dev python3-venv python3-pip; do
    installed "$pkg" && continue
    case $pkg in
      python3-dev) [[ $has_headers == 1 ]] && continue ;;
      python3-venv) [[ $has_venv == 1 ]] && continue ;;
      python3-pip) [[ $have_dpkg -eq 0 ]] && continue ;;
    esac
    missing+=("$pkg")
  done
else
  [[ $has_headers == 1 ]] || foreign+=("the headers of $PYTHON (Python.h)")
  [[ $has_venv == 1 ]] || foreign+=("the venv/ensurepip modules of $PYTHON")
fi
if [[ ${#foreign[@]} -gt 0 ]]; then
  echo "install-deps: $PYTHON ($prefix) is not Debian's python3 and lacks ${foreign[*]}:" \
       "rebuild it with them, or use Debian's: make PYTHON=/usr/bin/python3" >&2
fi

write_stamp() {
  if [[ -n "$stamp" && ${#foreign[@]} -eq 0 ]]; then
    mkdir -p "$(dirname "$stamp")"
    touch "$stamp"
  fi
}

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all system packages present"
  write_stamp
  exit 0
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: missing ${missing[*]}" >&2
  if command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: to install them, run as root:" >&2
    echo "    apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  fi
  echo "install-deps: continuing without them (tests that need them are skipped; in CI they fail)" >&2
  exit 0
fi

echo "install-deps: installing ${missing[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
# another apt/dpkg (unattended-upgrades, another make) may hold the locks:
# wait for them, up to 120 s, instead of failing at once
LOCK=(-o DPkg::Lock::Timeout=120)
for attempt in 1 2 3 4 5 6; do
  if apt-get "${LOCK[@]}" update -q; then break; fi
  [[ $attempt -eq 6 ]] && { echo "install-deps: apt-get update kept failing" >&2; exit 1; }
  echo "install-deps: apt-get update failed (lock held?); trying again in 20 s" >&2
  sleep 20
done
apt-get "${LOCK[@]}" install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: done"
write_stamp
