"""HTTP byte ranges (RFC 9110 §14) for audio responses: one range per request, as browsers ask.

``parse_range("bytes=0-99", 1000)`` → ``(0, 99)`` (inclusive). A header that is not a byte-range
request, or asks for several ranges, is ignored (``None``: the whole file, status 200, which the
RFC allows); a well-formed range that lies wholly past the end raises :class:`RangeError` (416).
"""

from __future__ import annotations

import re

from phonotheque.errors import PhonothequeError

_SPEC = re.compile(r"^\s*([0-9]*)\s*-\s*([0-9]*)\s*$")
MAX_DIGITS = 19


class RangeError(PhonothequeError):
    """A Range header no byte of the file satisfies (HTTP 416)."""

    def __init__(self, header: str, size: int) -> None:
        self.header = header
        self.size = size
        shown = header if len(header) <= 80 else header[:77] + "..."
        super().__init__(f"range {shown!r} is not satisfiable: the file has {size} bytes")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(first, last)`` inclusive byte positions for a ``Range`` header, or ``None`` for the whole file."""
    if header is None:
        return None
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes" or "," in spec:
        return None
    m = _SPEC.match(spec)
    if m is None:
        return None
    first_s, last_s = m.groups()
    if not first_s and not last_s:
        return None
    if not first_s:  # suffix: the last N bytes
        n = size if len(last_s) > MAX_DIGITS else int(last_s)
        if n == 0 or size == 0:
            raise RangeError(header, size)
        return max(0, size - n), size - 1
    if len(first_s) > MAX_DIGITS:
        raise RangeError(header, size)
    first = int(first_s)
    last = None if not last_s or len(last_s) > MAX_DIGITS else int(last_s)
    if last is not None and last < first:
        return None  # syntactically invalid: ignored
    if first >= size:
        raise RangeError(header, size)
    return first, size - 1 if last is None else min(last, size - 1)
