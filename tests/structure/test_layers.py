"""The layer table in pyx/netchan/_core.pxd is the law: each piece of the
core uses only its own layer and the layers (or single pieces of a layer)
the table allows, and only what their .pxd files declare. Checked on the
source: every name a piece mentions that another piece's .pxd declares
must come from an allowed place."""
import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYX = os.path.join(ROOT, "pyx")
SKIP = ("includes", "netchan", "testing")   # C headers, the index, the test hooks


def _rules():
    text = open(os.path.join(PYX, "netchan", "_core.pxd")).read()
    rules = {}
    for m in re.finditer(r"^#   (\w+):\s+(.*)$", text, re.M):
        deps = re.split(r"\s{2,}", m.group(2).strip())[0]
        rules[m.group(1)] = set() if deps == "-" else set(deps.split())
    return rules


def _strip(text):
    """The code only: no docstrings, comments or string literals (a message
    may name anything)."""
    text = re.sub(r'"""(.*?)"""', "", text, flags=re.S)
    text = re.sub(r"'''(.*?)'''", "", text, flags=re.S)
    text = re.sub(r"#[^\n]*", "", text)
    return re.sub(r""""(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'""", "", text)


def _declared():
    """name -> 'layer/piece' for everything a .pxd offers."""
    owner = {}
    for pxd in glob.glob(os.path.join(PYX, "*", "*.pxd")):
        layer = os.path.basename(os.path.dirname(pxd))
        if layer in SKIP:
            continue
        piece = f"{layer}/{os.path.basename(pxd)[:-4]}"
        text = _strip(open(pxd).read())
        names = re.findall(r"^cdef (?:struct|class) (\w+)", text, re.M)
        names += re.findall(r"^cdef (?!class )[^(\n]*?\**(\w+)\s*\(", text, re.M)   # not a base class
        for body in re.findall(r"^cdef enum[^\n]*\n((?:[ \t]+[^\n]*\n?)+)", text, re.M):
            names += re.findall(r"^[ \t]+(\w+)", body, re.M)
        for n in names:
            assert n not in owner, f"{n} is declared by both {owner[n]} and {piece}"
            owner[n] = piece
    return owner


def _pieces():
    for path in sorted(glob.glob(os.path.join(PYX, "*", "*.pxi")) +
                       glob.glob(os.path.join(PYX, "*", "*.pxd"))):
        layer = os.path.basename(os.path.dirname(path))
        if layer not in SKIP:
            yield os.path.relpath(path, PYX)


def test_every_layer_folder_is_in_the_table():
    rules = _rules()
    folders = {os.path.basename(d) for d in glob.glob(os.path.join(PYX, "*"))
               if os.path.isdir(d)} - set(SKIP)
    assert folders == set(rules), "pyx/ folders and the layer table in _core.pxd differ"
    for layer, deps in rules.items():
        for d in deps:
            assert d.split("/")[0] in rules, f"{layer} may use {d}: no such layer"


def test_no_flat_pieces_left_in_pyx():
    assert not glob.glob(os.path.join(PYX, "*.pxi"))
    assert not glob.glob(os.path.join(PYX, "*.pyx"))


@pytest.mark.parametrize("piece", list(_pieces()))
def test_piece_uses_only_allowed_layers(piece):
    rules, owner = _rules(), _declared()
    layer = piece.split("/")[0]
    me = piece.rsplit(".", 1)[0]
    allowed = rules[layer]
    bad = {}
    for word in set(re.findall(r"\b\w+\b", _strip(open(os.path.join(PYX, piece)).read()))):
        src = owner.get(word)
        if src is None or src == me or src.split("/")[0] == layer:
            continue
        if src in allowed or src.split("/")[0] in allowed:
            continue
        bad.setdefault(src, []).append(word)
    assert not bad, f"{piece} ({layer}) uses what its layer may not: " + "; ".join(
        f"{src}: {', '.join(sorted(ws))}" for src, ws in sorted(bad.items()))


def test_no_piece_is_over_800_lines():
    long = {p: n for p in _pieces()
            if (n := open(os.path.join(PYX, p)).read().count("\n")) > 800}
    assert not long
