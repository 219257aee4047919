"""The page codes' QR symbols, made fast: the same symbols as segno's, a tenth of the time.

In: a page code's payload (byte mode, error-correction level M, mask ``pagecode.MASK``).
Out: the symbol's module matrix, row by row (1 dark, 0 light), equal module for module to
``pagecode.symbol(...).matrix``. An issued copy redraws every page's code, so segno's
general encoder (about 2 ms a symbol) would cost more than the rest of a stamp; here,
per symbol version, the function patterns and format bits, the order data bits are placed
in and the mask are worked out once (from segno's own tables and a segno-made symbol),
and the Reed-Solomon check words, being linear in the data, are an XOR of precomputed
per-position contributions. ``matrix`` checks its first symbol of each version against
segno and uses segno from then on if they ever differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import zip_longest
from typing import Any

from generator.model.pagecode import ERROR_LEVEL, MASK, PageCode, symbol


@dataclass(frozen=True)
class _Version:
    width: int
    data_codewords: int
    blocks: tuple[tuple[int, int], ...]  # (data codewords, check codewords) of each block
    tables: dict[tuple[int, int], list[list[int]]]  # (data, check) -> position -> value -> check words (int)
    base: bytes  # the symbol's modules with every data module light (function patterns, format bits)
    positions: tuple[int, ...]  # flat index of each data bit, in placement order
    flips: bytes  # 1 where the mask darkens a data module, in placement order


def _capacity_version(length: int) -> int | None:
    from segno import consts
    level = consts.ERROR_LEVEL_M
    for version in range(1, 7):  # byte mode, M; version 7 and up carry version bits (not handled here)
        if (consts.SYMBOL_CAPACITY[version][level] - 12) // 8 >= length:  # bits: mode 4, count 8, data
            return version
    return None


def _check_table(data: int, check: int) -> list[list[int]]:
    """For each data position, for each byte value: that value's check words, as one int."""
    from segno import consts
    log, exp, gen = consts.GALIOS_LOG, consts.GALIOS_EXP, consts.GEN_POLY[check]
    table = []
    for position in range(data):
        unit = bytearray(data + check)
        unit[position] = 1
        for k in range(data):  # segno's synthetic division, on a unit message
            coef = unit[k]
            if coef:
                lcoef = log[coef]
                for n in range(check):
                    unit[k + n + 1] ^= exp[lcoef + gen[n]]
        words = bytes(unit[data:])
        table.append([0] + [int.from_bytes(words.translate(times), "big") for times in _products()[1:]])
    return table


@lru_cache(maxsize=1)
def _products() -> tuple[bytes, ...]:
    """For each byte value v, the table w -> v times w in segno's Galois field (for ``bytes.translate``)."""
    from segno import consts
    log, exp = consts.GALIOS_LOG, consts.GALIOS_EXP
    return tuple(bytes(exp[log[v] + log[w]] if v and w else 0 for w in range(256)) for v in range(256))


@lru_cache(maxsize=8)
def _version(version: int) -> _Version:
    import segno
    from segno import consts
    from segno import encoder as enc
    width = enc.calc_matrix_size(version)
    layout = enc.make_matrix(width, width)
    enc.add_finder_patterns(layout, width, width)
    enc.add_alignment_patterns(layout, width, width)
    free = [[cell == 0x2 for cell in row] for row in layout]
    positions = []
    upward = True
    column = width - 1
    while column > 0:
        if column == 6:  # the vertical timing pattern
            column -= 1
        for row in (range(width - 1, -1, -1) if upward else range(width)):
            for c in (column, column - 1):
                if free[row][c]:
                    positions.append(row * width + c)
        upward = not upward
        column -= 2
    length = (consts.SYMBOL_CAPACITY[version][consts.ERROR_LEVEL_M] - 12) // 8
    reference = segno.make(b"\0" * length, error=ERROR_LEVEL, boost_error=False, micro=False, mask=MASK,
                           version=version, mode="byte").matrix
    base = bytearray(b"".join(bytes(row) for row in reference))
    for index in positions:
        base[index] = 0
    mask = enc.get_data_mask_functions(False)[MASK]
    flips = bytes(1 if mask(i // width, i % width) else 0 for i in positions)
    blocks = []
    for info in consts.ECC[version][consts.ERROR_LEVEL_M]:
        blocks += [(info.num_data, info.num_total - info.num_data)] * info.num_blocks
    tables = {shape: _check_table(*shape) for shape in set(blocks)}
    return _Version(width, sum(d for d, _ in blocks), tuple(blocks), tables, bytes(base), tuple(positions), flips)


def _codewords(payload: bytes, v: _Version) -> bytes:
    """The final message: data codewords (byte mode header, payload, terminator, padding) and check
    words, interleaved block by block."""
    n = len(payload)
    value = ((0b0100 << 8 | n) << 8 * n | int.from_bytes(payload, "big")) << 4  # mode, count, data, terminator
    data = bytearray(value.to_bytes(n + 2, "big"))
    if len(data) < v.data_codewords:
        data.append(0)  # segno pads a stream already on a byte boundary with 8 more zero bits: so do we
    pad = 0
    while len(data) < v.data_codewords:
        data.append(0xEC if pad % 2 == 0 else 0x11)
        pad += 1
    data_blocks, check_blocks = [], []
    start = 0
    for size, check in v.blocks:
        block = data[start:start + size]
        start += size
        table = v.tables[(size, check)]
        words = 0
        for position, byte in enumerate(block):
            words ^= table[position][byte]
        data_blocks.append(block)
        check_blocks.append(words.to_bytes(check, "big"))
    out = bytearray()
    for group in (data_blocks, check_blocks):
        for column in zip_longest(*group):
            out.extend(b for b in column if b is not None)
    return bytes(out)


_TRUSTED: dict[int, bool] = {}


def matrix(code: PageCode) -> Any:
    """The module rows of ``code``'s QR symbol (as ``pagecode.symbol(code).matrix``)."""
    payload = code.encode().encode("ascii")
    version = _capacity_version(len(payload))
    if version is None or _TRUSTED.get(version) is False:
        return symbol(code).matrix
    v = _version(version)
    bits = int.from_bytes(_codewords(payload, v), "big")
    count = (v.data_codewords + sum(c for _, c in v.blocks)) * 8
    modules = bytearray(v.base)
    flips = v.flips
    for i, index in enumerate(v.positions):
        bit = (bits >> (count - 1 - i)) & 1 if i < count else 0  # the remainder bits are 0
        modules[index] = bit ^ flips[i]
    width = v.width
    rows = tuple(modules[r * width:(r + 1) * width] for r in range(width))
    if version not in _TRUSTED:
        _TRUSTED[version] = rows == tuple(symbol(code).matrix)
        if not _TRUSTED[version]:
            return symbol(code).matrix
    return rows
