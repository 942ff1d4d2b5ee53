"""Sizes as people write them on command lines and in URIs: 4096, 64k, 16M,
1GiB (K, M, G, T are powers of 1024; a bare number is bytes)."""
from __future__ import annotations

import argparse
import re

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*$")
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text, what: str = "size") -> int:
    """'256M' -> 268435456; ValueError naming `what` otherwise."""
    m = _SIZE.match(str(text))
    if not m:
        raise ValueError(f"{what} {text!r}: expected a size like 4096, 64K, 256M or 1G")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def size_arg(text) -> int:
    """parse_size for argparse's type=: the message reaches the user."""
    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def format_size(n: int) -> str:
    for unit, shift in (("G", 30), ("M", 20), ("K", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift}{unit}"
    return f"{n}B"
