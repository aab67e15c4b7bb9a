"""Human sizes and durations: parse ``4TB``/``500 GiB``, print ``1.2 GB``."""

from __future__ import annotations

import math
import re

from phonotheque.errors import BudgetError

_UNITS = {
    "": 1, "b": 1,
    "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
    "t": 10**12, "tb": 10**12, "p": 10**15, "pb": 10**15,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "pib": 2**50,
}
_SIZE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?\s*([a-zA-Z]*)\s*$")


def parse_size(text: str | int, *, what: str = "size", allow_zero: bool = True) -> int:
    """Parse a byte size such as ``4TB``, ``500 GiB``, ``1.5T`` or ``123`` into bytes.

    Decimal units (KB, MB, GB, TB, PB) are powers of 1000, binary units (KiB … PiB) powers of 1024.
    """
    if isinstance(text, bool):
        raise BudgetError(f"{what}: {text!r} is not a size")
    if isinstance(text, int):
        value = text
    else:
        m = _SIZE_RE.match(str(text))
        if not m:
            raise BudgetError(
                f"{what}: cannot read {text!r} as a size (examples: 4TB, 500 GiB, 1.5T, 1000000)"
            )
        exponent = int(m.group(2)) if m.group(2) else 0
        if exponent > 30:
            raise BudgetError(f"{what}: {text!r} is absurdly large")
        digits = m.group(1)
        number: float = int(digits) * 10**exponent if digits.isdigit() else float(digits) * 10**exponent
        unit = m.group(3).lower()
        if unit not in _UNITS:
            raise BudgetError(f"{what}: unknown unit {m.group(3)!r} in {text!r} (use B, KB, MB, GB, TB, PB or KiB … PiB)")
        if not math.isfinite(number):
            raise BudgetError(f"{what}: {text!r} is not a finite size")
        value = int(number * _UNITS[unit])
    if value < 0:
        raise BudgetError(f"{what}: {text!r} is negative")
    if value == 0 and not allow_zero:
        raise BudgetError(f"{what}: must be greater than zero")
    if value > 10**21:
        raise BudgetError(f"{what}: {text!r} is absurdly large")
    return value


def format_size(n: float) -> str:
    """``1234567`` → ``1.2 MB`` (decimal units, as disks are sold)."""
    n = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
