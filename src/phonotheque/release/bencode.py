"""Canonical bencoding (BEP 3): dictionary keys sorted as raw bytes, integers without leading zeros.

Torrents must hash the same on every run, so the encoder only accepts the four bencode types (with
``str`` encoded as UTF-8) and always sorts keys; :func:`decode` is strict and rejects non-canonical
input, trailing bytes and unsorted or duplicate keys.
"""

from __future__ import annotations

from typing import Any, cast

from phonotheque.errors import ReleaseError

Bencodable = int | bytes | str | list[Any] | dict[Any, Any]


class Encoded(bytes):
    """Bytes that are already bencoded: inserted as they are (e.g. an ``info`` dict encoded once)."""


def encode(value: Bencodable) -> bytes:
    """The canonical bencoding of ``value`` (dict keys may be ``str`` or ``bytes``)."""
    out: list[bytes] = []
    _encode(value, out)
    return b"".join(out)


def _key(k: object) -> bytes:
    if isinstance(k, bytes):
        return k
    if isinstance(k, str):
        return k.encode("utf-8")
    raise TypeError(f"bencode: dictionary key must be str or bytes, got {type(k).__name__}")


def _encode(value: object, out: list[bytes]) -> None:
    t = type(value)
    if t is str:
        b = value.encode("utf-8")  # type: ignore[attr-defined]
        out.append(b"%d:" % len(b))
        out.append(b)
    elif t is int:
        out.append(b"i%de" % cast(int, value))
    elif t is dict:
        d = cast(dict[Any, Any], value)
        if all(type(k) is str for k in d):
            # UTF-8 preserves code point order: sorting the str keys sorts their encodings
            items = [(k.encode("utf-8"), d[k]) for k in sorted(d)]
        else:
            items = sorted(((_key(k), v) for k, v in d.items()), key=lambda kv: kv[0])
            for (a, _), (b2, _) in zip(items, items[1:], strict=False):
                if a == b2:
                    raise TypeError(f"bencode: duplicate key {a!r}")
        out.append(b"d")
        for k, v in items:
            out.append(b"%d:" % len(k))
            out.append(k)
            _encode(v, out)
        out.append(b"e")
    elif t is list or t is tuple:
        out.append(b"l")
        for item in value:  # type: ignore[attr-defined]
            _encode(item, out)
        out.append(b"e")
    elif t is Encoded:
        out.append(value)  # type: ignore[arg-type]
    elif isinstance(value, bool):
        raise TypeError("bencode: booleans are not bencodable")
    elif isinstance(value, bytes | bytearray | memoryview):
        b = bytes(value)
        out.append(b"%d:" % len(b))
        out.append(b)
    elif isinstance(value, int):
        out.append(b"i%de" % int(value))
    elif isinstance(value, str):
        _encode(str(value), out)
    else:
        raise TypeError(f"bencode: cannot encode {type(value).__name__}")


def decode(data: bytes) -> Any:
    """Decode canonical bencoding; dict keys stay ``bytes``. Raises ReleaseError on bad input."""
    try:
        value, end = _decode(data, 0)
    except (IndexError, ValueError) as exc:
        raise ReleaseError(f"bencode: malformed data ({exc})") from exc
    if end != len(data):
        raise ReleaseError(f"bencode: {len(data) - end} trailing bytes")
    return value


def _decode(data: bytes, i: int) -> tuple[Any, int]:
    c = data[i : i + 1]
    if c == b"i":
        end = data.index(b"e", i)
        text = data[i + 1 : end]
        if not text or text == b"-0" or (text.lstrip(b"-").startswith(b"0") and text.lstrip(b"-") != b"0"):
            raise ValueError(f"non-canonical integer at {i}")
        return int(text), end + 1
    if c == b"l":
        i += 1
        items = []
        while data[i : i + 1] != b"e":
            item, i = _decode(data, i)
            items.append(item)
        return items, i + 1
    if c == b"d":
        i += 1
        result: dict[bytes, Any] = {}
        last: bytes | None = None
        while data[i : i + 1] != b"e":
            key, i = _decode(data, i)
            if not isinstance(key, bytes):
                raise ValueError(f"dictionary key is not a string at {i}")
            if last is not None and key <= last:
                raise ValueError(f"dictionary keys unsorted or duplicated at {i}")
            result[key], i = _decode(data, i)
            last = key
        return result, i + 1
    if c.isdigit():
        colon = data.index(b":", i)
        length_text = data[i:colon]
        if length_text.startswith(b"0") and length_text != b"0":
            raise ValueError(f"non-canonical string length at {i}")
        n = int(length_text)
        start = colon + 1
        if start + n > len(data):
            raise ValueError(f"string runs past the end at {i}")
        return data[start : start + n], start + n
    raise ValueError(f"unexpected byte {c!r} at {i}")
