"""netem and the testbed: whether this kernel has the netem qdisc (looked for,
never assumed), and what the testbed says when asked for an impairment only
netem could add (delay, reordering, duplication, corruption): where to put
it instead (netchan's seeded fault port)."""
from __future__ import annotations

import os
import shutil
import subprocess

NO_NETEM = (
    "the testbed cannot add {what}: that needs the netem qdisc, which this kernel does not have "
    "({evidence}); the testbed shapes only rate (tbf) and loss (nftables). Put {what} in "
    "netchan's fault port on the netchan side instead, e.g. afpacket:eth0?{example} or "
    "shm:x?delay=5ms&reorder=2%&reorder_depth=3 (parameters: loss, dup, reorder, reorder_depth, "
    "corrupt, delay, hold, seed)"
)
NETEM_NOT_DRIVEN = (
    "the testbed does not add {what}: this kernel has the netem qdisc ({evidence}), but the "
    "testbed only drives tbf (rate) and nftables (loss) and reads them back for `status`; "
    "a netem qdisc it did not make would be overwritten by the next `up`, and `status` would "
    "not show it. Put {what} in netchan's fault port on the netchan side instead, e.g. "
    "afpacket:eth0?{example} or shm:x?delay=5ms&reorder=2%&reorder_depth=3 (parameters: loss, "
    "dup, reorder, reorder_depth, corrupt, delay, hold, seed), or add netem yourself on a testbed without --rate: "
    "netchan testbed exec h1 -- tc qdisc add dev eth0 root netem delay 5ms"
)


def netem_status() -> tuple[bool | None, str]:
    """Does this kernel have the netem qdisc? (True/False/None = unknown,
    and how that was found). As root, the answer is a real attempt: `tc qdisc
    add ... netem` on lo in a throwaway network namespace (unshare -n), which
    also loads the module if there is one; otherwise the kernel's config
    (/proc/config.gz), the loaded modules and `modprobe -n` are read."""
    tc = shutil.which("tc") or shutil.which("tc", path="/usr/sbin:/sbin")
    unshare = shutil.which("unshare") or shutil.which("unshare", path="/usr/bin:/bin")
    if os.geteuid() == 0 and tc and unshare:
        try:
            r = subprocess.run([unshare, "-n", tc, "qdisc", "add", "dev", "lo", "root",
                                "netem", "delay", "1ms"], capture_output=True, text=True,
                               timeout=10)
        except (OSError, subprocess.SubprocessError) as e:
            r = None
            tried = f"unshare -n tc qdisc add dev lo root netem failed to run: {e}"
        if r is not None:
            if r.returncode == 0:
                return True, "tc qdisc add ... netem worked in a scratch network namespace"
            err = (r.stderr.strip().splitlines() or ["?"])[-1]
            if "unknown" in err.lower() or "not supported" in err.lower():
                return False, (f"tc qdisc add ... netem in a scratch network namespace "
                               f"answered {err!r}")
            tried = f"tc qdisc add ... netem in a scratch namespace answered {err!r}"
    else:
        tried = "not root: no scratch namespace to try tc in"
    try:
        import gzip
        with gzip.open("/proc/config.gz", "rt") as f:
            for line in f:
                if line.startswith("CONFIG_NET_SCH_NETEM="):
                    if line.strip().endswith("=y"):
                        return True, "CONFIG_NET_SCH_NETEM=y in /proc/config.gz"
                    break       # =m: a module, which may or may not be installed
                if line.startswith("# CONFIG_NET_SCH_NETEM is not set"):
                    return False, "CONFIG_NET_SCH_NETEM is not set in /proc/config.gz"
    except OSError:
        pass
    try:
        with open("/proc/modules") as f:
            if any(line.split()[0] == "sch_netem" for line in f if line.strip()):
                return True, "the sch_netem module is loaded (/proc/modules)"
    except OSError:
        pass
    modprobe = shutil.which("modprobe") or shutil.which("modprobe", path="/usr/sbin:/sbin")
    if modprobe:
        r = subprocess.run([modprobe, "-n", "sch_netem"], capture_output=True, text=True)
        if r.returncode == 0:
            return True, "modprobe -n sch_netem finds the module"
        return False, "modprobe -n sch_netem finds no such module"
    return None, f"could not be checked ({tried}; no /proc/config.gz entry, no modprobe)"


NETEM_ONLY = {   # impairment -> (its name in messages, the fault-port example)
    "delay": ("delay", "delay=5ms"),
    "reorder": ("reordering", "reorder=2%&reorder_depth=3&delay=1ms"),
    "duplicate": ("duplication", "dup=1%"),
    "corrupt": ("corruption", "corrupt=0.1%"),
}
