"""The kernel's TCP congestion controls, as the testbed and the bench use
them: which this machine has (tcp_available_congestion_control), which any
socket or network namespace may choose (tcp_allowed_congestion_control: the
others need CAP_NET_ADMIN on a socket and are refused outright as a
namespace's default), and widening that list for a moment."""
from __future__ import annotations

import contextlib

AVAILABLE_CC = "/proc/sys/net/ipv4/tcp_available_congestion_control"
ALLOWED_CC = "/proc/sys/net/ipv4/tcp_allowed_congestion_control"


def check_congestion_control(cc, what: str = "cc=", error=ValueError, also: str = "") -> None:
    """cc is None or a congestion control this kernel has loaded (the
    modules are the machine's, shared by every namespace). `what` names the
    setting in the message ("cc=", "--kernel-cc "), `also` adds choices the
    caller takes besides; error: the exception class."""
    if cc is None:
        return
    if not isinstance(cc, str) or not cc.isidentifier():
        raise error(f"{what}{cc!r}: expected a congestion control's name, e.g. cubic{also}")
    try:
        with open(AVAILABLE_CC) as f:
            have = f.read().split()
    except OSError:
        return                          # not Linux's /proc: sysctl or setsockopt will say
    if cc not in have:
        raise error(f"{what}{cc}: not available on this machine (it has {' '.join(have)}); "
                    f"load its module (modprobe tcp_{cc}) or choose one of those{also}")


def allowed_cc() -> list | None:
    """The congestion controls any socket or namespace may choose (None:
    not Linux's /proc, let sysctl say)."""
    try:
        with open(ALLOWED_CC) as f:
            return f.read().split()
    except OSError:
        return None


def may_choose_cc(cc: str) -> bool:
    """Can a socket of this process be set to cc? Any allowed one, or any
    available one with CAP_NET_ADMIN (the kernel's rule for TCP_CONGESTION)."""
    allowed = allowed_cc()
    if allowed is None or cc in allowed:
        return True
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> 12 & 1)   # CAP_NET_ADMIN
    except (OSError, ValueError):
        pass
    return False


class CannotWiden(OSError):
    """The allowed list lacks the congestion control and could not be
    widened (writing it needs root in the machine's first namespace)."""


@contextlib.contextmanager
def allowing_cc(cc: str):
    """cc is in the allowed list inside the block, which then puts the list
    back as it was. A namespace's default is checked against the list only
    when it is set, so the namespace keeps it and the machine's setting is
    unchanged. CannotWiden when the list had to be widened and could not be."""
    allowed = allowed_cc()
    if allowed is None or cc in allowed:
        yield
        return
    try:
        _write_allowed_cc(allowed + [cc])
    except OSError as e:
        raise CannotWiden(e.errno, e.strerror) from None
    try:
        yield
    finally:
        _write_allowed_cc(allowed)


def _write_allowed_cc(names: list) -> None:
    with open(ALLOWED_CC, "w") as f:
        f.write(" ".join(names))
