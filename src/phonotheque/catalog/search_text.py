"""Text of the search index: normalization, index words of a name, and query parsing.

Normalized identically for documents and queries: NFKD, combining accents dropped (``é``→``e``;
likewise Hebrew points and Arabic harakat and tatweel, which writers add or omit), case folded
(``ß``→``ss``), a few letters folded (``ø``→``o``, ``æ``→``ae``), then NFC; words are runs of
letters, digits and combining marks — the vowel signs and viramas of Devanagari, Bengali, Tamil, …
are part of a word (``प्यार`` is one word, not the letters ``प य र``).

Chinese and Japanese are written without spaces, so a run of Han/kana characters is cut into
overlapping **bigrams**, as Lucene's CJK bigram filter does (``東京の夜`` → ``東京 京の の夜``); a
run of one character is that character. Documents also index every character of a longer run
(Lucene's ``outputUnigrams``), so a one-character query finds ``東京の夜`` too; a query's run of
two characters or more becomes its bigrams only, which are far more selective than characters (a
character of the synthetic catalog is in up to 110 k of 2 M tracks, a bigram in a few thousand),
and requires the characters to be adjacent and in that order.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from phonotheque.errors import QueryError

MAX_QUERY_CHARS = 500
MAX_TERMS = 24
_OPERATORS = {"AND", "OR", "NOT", "NEAR"}
# combining marks that are diacritics (dropped like Latin accents): Latin, Hebrew points, Arabic harakat
_DROP = dict.fromkeys(
    [*range(0x0300, 0x0370), *range(0x0591, 0x05BE), 0x05BF, 0x05C1, 0x05C2, 0x05C4, 0x05C5, 0x05C7,
     *range(0x0610, 0x061B), *range(0x064B, 0x0660), 0x0670, *range(0x06D6, 0x06DD), *range(0x06DF, 0x06E5),
     0x06E7, 0x06E8, *range(0x06EA, 0x06EE), 0x0640]
)


@cache
def _word_re() -> re.Pattern[str]:
    """Runs of word characters and combining marks (category M*, Basic Multilingual Plane; ~18 ms once)."""
    marks = [c for c in range(0x10000) if unicodedata.category(chr(c))[0] == "M"]
    ranges: list[tuple[int, int]] = []
    for c in marks:
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1] = (ranges[-1][0], c)
        else:
            ranges.append((c, c))
    cls = "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)
    return re.compile(f"(?:\\w|[{cls}])+")


_CJK_CLASS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u31f0-\u31ff"
_CJK_RUN = re.compile(f"[{_CJK_CLASS}]+")
_HAS_CJK = re.compile(f"[{_CJK_CLASS}]")
_FOLD = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "æ": "ae", "œ": "oe", "ı": "i", "þ": "th", "ð": "d"})
UNIGRAMS = True  # documents index the characters of CJK runs too (one-character queries find them)


def normalize(text: str) -> str:
    """Diacritics- and case-insensitive form of ``text`` (the same for documents and queries)."""
    text = _strip_marks(text).casefold().translate(_FOLD)
    return unicodedata.normalize("NFC", _strip_marks(text))


def _strip_marks(text: str) -> str:
    return unicodedata.normalize("NFKD", text).translate(_DROP)


def _split(token: str, document: bool) -> list[str]:
    """A ``\\w+`` token cut at CJK runs; each run becomes its bigrams (and characters, see above)."""
    out: list[str] = []
    at = 0
    for m in _CJK_RUN.finditer(token):
        if m.start() > at:
            out.append(token[at : m.start()])
        run = m.group()
        if len(run) == 1:
            out.append(run)
        else:
            out += [run[i : i + 2] for i in range(len(run) - 1)]
            if document and UNIGRAMS:
                out += list(run)
        at = m.end()
    if at < len(token):
        out.append(token[at:])
    return out


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds a Han or kana character (indexed as bigrams)."""
    return _HAS_CJK.search(text) is not None


def words(text: str | None) -> list[str]:
    """Index words of a name: normalized, split on anything that is not a letter or digit,
    CJK runs as bigrams plus their characters."""
    if not text:
        return []
    found = _word_re().findall(normalize(text))
    if not any(_HAS_CJK.search(w) for w in found):
        return found
    return [part for w in found for part in _split(w, True)]


def query_words(text: str) -> list[str]:
    """Words a query searches for: as :func:`words`, but a CJK run of two or more characters is
    its bigrams only (a one-character run stays that character)."""
    found = _word_re().findall(normalize(text))
    if not any(_HAS_CJK.search(w) for w in found):
        return found
    return [part for w in found for part in _split(w, False)]


@dataclass(frozen=True)
class Term:
    text: str
    prefix: bool


def parse_query(query: str) -> list[Term]:
    """Split a user query into required terms; ``word*`` is a prefix. Raises :class:`QueryError`.

    Every word must match (in the track, artist or album name). ``AND`` between words is allowed
    (it is what search does anyway); other operators, unbalanced quotes or parentheses, a lone
    ``*``, control characters and over-long queries are rejected with the reason.
    """
    if not isinstance(query, str):
        raise QueryError(f"search query must be text, got {type(query).__name__}")
    shown = query[:40] + ("…" if len(query) > 40 else "")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"search query too long ({len(query)} characters; at most {MAX_QUERY_CHARS})")
    bad = next((ch for ch in query if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r"), None)
    if bad is not None:
        raise QueryError(f"search query {shown!r} contains the control character U+{ord(bad):04X}")
    if query.count('"') % 2:
        raise QueryError(f"search query {shown!r} has an unbalanced double quote")
    depth = 0
    for ch in query:
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            break
    if depth != 0:
        raise QueryError(f"search query {shown!r} has unbalanced parentheses")
    chunks = query.replace('"', " ").replace("(", " ").replace(")", " ").split()
    terms: list[Term] = []
    for i, chunk in enumerate(chunks):
        if chunk in _OPERATORS:
            between = 0 < i < len(chunks) - 1 and chunks[i - 1] not in _OPERATORS and chunks[i + 1] not in _OPERATORS
            if chunk == "AND" and between:
                continue
            raise QueryError(
                f"search query {shown!r}: operator {chunk} is not supported here (every word must match; "
                f"write {chunk.lower()!r} in lower case to search for the word)"
            )
        if "*" in chunk:
            if not chunk.endswith("*") or chunk.count("*") > 1 or not _word_re().search(chunk[:-1] or ""):
                raise QueryError(f"search query {shown!r}: '*' must end a word, as in beat*")
            if not _word_re().search(chunk[-2]):
                raise QueryError(f"search query {shown!r}: '*' must follow a letter or digit, as in beat*")
        parts = query_words(chunk.rstrip("*"))
        for j, part in enumerate(parts):
            terms.append(Term(part, chunk.endswith("*") and j == len(parts) - 1))
    if not terms:
        raise QueryError(f"search query {shown!r} has no words to search for")
    if len(terms) > MAX_TERMS:
        raise QueryError(f"search query has {len(terms)} words; at most {MAX_TERMS}")
    seen: set[Term] = set()
    return [t for t in terms if not (t in seen or seen.add(t))]  # type: ignore[func-returns-value]
