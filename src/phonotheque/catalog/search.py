"""Ranked full-text search over track, artist and album names.

Chosen by measurement (bench/bench_catalog.py): a tantivy index in ``<archive>/search-index``
ranks 2 M tracks with p99 in milliseconds where SQLite FTS5 ``ORDER BY rank`` takes up to a second
on common terms. The SQLite catalog stays the system of record: the index holds only track ids,
normalized words and popularity; results are read back from SQLite (so a stale index entry
can never show a deleted track).

Text is normalized in Python, identically for documents and queries: NFKD, combining accents
dropped (``é``→``e``), case folded (``ß``→``ss``), then NFC (``search_text``). Runs of Han/kana
characters are indexed as overlapping bigrams plus their characters; a query's run of two
characters or more searches its bigrams only, so a 5–10 character title is an intersection of
selective bigrams instead of characters each in 50–110 k tracks. Prefixes (``beat*``) are matched on an
edge-n-gram field, since tantivy's parser would silently drop the ``*``.

Ranking: BM25 (track name weighted over artist over album, the best field plus a tenth of the
others) multiplied by ``1 + level/25``, where the level 0–100 is ``tracks.popularity`` (else
derived from listens): a popularity-100 track scores 5x a popularity-0 track of equal text
relevance. A word repeated within one name counts at most 8 times.

Speed (issue 2: p99 <= 20 ms on 2 M tracks, measured by bench/bench_catalog.py). Every word is
indexed twice. In the bucketed fields it carries its track's popularity bucket (``night|13``), so
a search of one or two words takes the buckets from the most popular down and stops as soon as the
20th best score beats what any less popular bucket could still reach (its top factor times an upper
bound of BM25: term frequencies and field lengths bound each word's score, see ``_Plan.bound``).
A common word matching 300 k tracks then scores a few thousand. Tantivy scores a bucket's term with
that term's own document frequency; the query boost rescales it to the word's frequency over all
buckets, so scores equal those of one index without buckets. Queries of three words or more are
intersections, cheaper on the plain fields (one posting list per word and field) and too loosely
bounded to stop early: they score every match there, as before; so do two words of which one is
CJK (measured: rarely an early stop, and 2.5x the CPU of the plain fields on average).
"""

from __future__ import annotations

import bisect
import json
import math
import os
import secrets
import shutil
import sqlite3
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tantivy

from phonotheque.archive import Archive
from phonotheque.catalog.lookup import artists_of, credit_line
from phonotheque.catalog.search_text import (
    MAX_QUERY_CHARS,
    MAX_TERMS,
    Term,
    has_cjk,
    normalize,
    parse_query,
    query_words,
    words,
)
from phonotheque.errors import PhonothequeError, QueryError

__all__ = [
    "MAX_QUERY_CHARS", "MAX_TERMS", "SearchIndexError", "Term", "has_cjk", "normalize", "parse_query", "query_words",
    "refresh_index", "search", "search_ids", "words",
]

INDEX_DIR = "search-index"
TOKEN_FILE = "phonotheque-index-token"
MAX_PREFIX = 12
FIELD_BOOSTS = (("name", 2.0), ("artists", 1.5), ("album", 1.0))
TIE_BREAKER = 0.1  # dismax over fields: the best field counts, the others a tenth
INDEX_FORMAT = "4"  # 2: popularity buckets; 3: CJK bigrams; 4: combining marks inside words (Indic, Arabic)
MAX_TF = 8  # occurrences of one word in one name that count (bounds the BM25 of a word)
FORMAT_FILE = "phonotheque-index-format"
SEP = "|"  # word|level (words are \w+ and never contain it)
K1, B = 1.2, 0.75  # tantivy's BM25 parameters
FIRST_GROUP_DOCS = 8192  # documents (estimated) searched in the first, most popular buckets
GROUP_GROWTH = 8
# popularity buckets (lower ends; each runs to the next one - 1, the last to 100): the levels that
# hold most tracks are buckets of their own, whose factor the query boost applies exactly; wider
# buckets take the factor from the ``weight`` fast field
BUCKETS = (0, 1, 2, 3, 4, 6, 9, 13, 18, 25, 35, 50, 70)
SLACK = 1e-4
PLAIN = "plain_"  # fields without popularity buckets
STRATEGIES = ("auto", "early", "levels", "plain")
EARLY_MAX_WORDS = 2  # "auto": early stop up to this many words (none CJK), plain fields beyond (measured)
_REPEAT_CODE = {"name": "n:", "artists": "a:", "album": "l:"}  # ':' is never part of a word  # float rounding margin of the score bound


class SearchIndexError(PhonothequeError):
    """The search index is missing or unusable (run ``refresh_index``)."""


# ---------------------------------------------------------------------------------------------
# the index


def popularity_level(popularity: int | None, listens: int | None) -> int:
    """The popularity 0–100 ranking uses: ``tracks.popularity``, else derived from listens."""
    if popularity is None:
        return int(min(100, max(0, (math.log10(listens + 1) - 2.2) * 12))) if listens else 0
    return int(min(100, max(0, popularity)))


def popularity_weight(popularity: int | None, listens: int | None) -> float:
    """A weight ``w`` whose ``log2(2 + w)`` is the ranking factor ``1 + level/25`` (1x … 5x)."""
    return 2.0 ** (1 + popularity_level(popularity, listens) / 25) - 2.0


def level_factor(level: int) -> float:
    """Score multiplier of a popularity level: 1.0 at 0, 5.0 at 100."""
    return 1.0 + level / 25


def bucket_of(level: int) -> int:
    """The popularity bucket (its lowest level) a level belongs to."""
    return BUCKETS[bisect.bisect_right(BUCKETS, level) - 1]


def _bucket_top(bucket: int) -> int:
    i = BUCKETS.index(bucket)
    return BUCKETS[i + 1] - 1 if i + 1 < len(BUCKETS) else 100


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_unsigned_field("track_id", stored=False, indexed=True, fast=True)
    for name, _ in FIELD_BOOSTS:
        sb.add_text_field(name, stored=False, tokenizer_name="whitespace", index_option="freq")
    sb.add_text_field("prefix", stored=False, tokenizer_name="whitespace", index_option="basic")
    sb.add_text_field("repeat", stored=False, tokenizer_name="whitespace", index_option="basic")
    for name, _ in FIELD_BOOSTS:  # the same words without buckets, for queries of several words
        sb.add_text_field(PLAIN + name, stored=False, tokenizer_name="whitespace", index_option="freq")
    sb.add_text_field(PLAIN + "prefix", stored=False, tokenizer_name="whitespace", index_option="basic")
    sb.add_float_field("weight", stored=False, indexed=False, fast=True)
    return sb.build()


_DOC_SQL = """
SELECT t.id, t.name, t.popularity, t.listens, al.name AS album,
       (SELECT group_concat(coalesce(ta.credited_name, a.name), ' ')
          FROM track_artists ta JOIN artists a ON a.id = ta.artist_id WHERE ta.track_id = t.id) AS artists
FROM tracks t LEFT JOIN albums al ON al.id = t.album_id
"""


def _document(row: sqlite3.Row | tuple[Any, ...]) -> tantivy.Document:
    track_id, name, popularity, listens, album, artists = tuple(row)
    name_w, artist_w, album_w = words(name), words(artists), words(album)
    level = popularity_level(popularity, listens)
    tag = f"{SEP}{bucket_of(level)}"
    prefixes = {w[:k] for w in (*name_w, *artist_w, *album_w) for k in range(1, min(len(w), MAX_PREFIX) + 1)}
    doc = tantivy.Document()
    doc.add_unsigned("track_id", track_id)
    repeats = []
    for field, ws in (("name", name_w), ("artists", artist_w), ("album", album_w)):
        doc.add_text(field, _tagged(ws, tag))
        doc.add_text(PLAIN + field, _tagged(ws, ""))
        if len(set(ws)) < len(ws):  # the most occurrences of a word bound its score (see _Plan.bound)
            counts = Counter(ws)
            repeats += [f"{_REPEAT_CODE[field]}{w}{tag}{SEP}{min(n, MAX_TF)}" for w, n in counts.items() if n > 1]
    if repeats:
        doc.add_text("repeat", " ".join(repeats))
    doc.add_text("prefix", " ".join(p + tag for p in prefixes))
    doc.add_text(PLAIN + "prefix", " ".join(prefixes))
    doc.add_float("weight", popularity_weight(popularity, listens))
    return doc


def _tagged(ws: list[str], tag: str) -> str:
    """Words with their level tag; past MAX_TF occurrences of one word a filler keeps the length."""
    seen: dict[str, int] = {}
    out = []
    for w in ws:
        seen[w] = seen.get(w, 0) + 1
        out.append(w + tag if seen[w] <= MAX_TF else SEP)
    return " ".join(out)


def _state(conn: sqlite3.Connection) -> dict[str, Any]:
    return {r[0]: r[1] for r in conn.execute("SELECT key, value FROM search_state")}


def _index_dir(archive: Archive) -> Path:
    return archive.root / INDEX_DIR


def _format_ok(path: Path) -> bool:
    try:
        return (path / FORMAT_FILE).read_text().strip() == INDEX_FORMAT
    except OSError:
        return False


def refresh_index(
    archive: Archive, progress: Callable[..., None] | None = None, *, rebuild: bool = False, batch: int = 50_000
) -> int:
    """Bring the search index up to date with the catalog; returns the number of tracks (re)indexed.

    New tracks (ids above the indexed watermark) are read by a range scan; changed or deleted
    tracks come from ``search_dirty`` (filled by triggers). Crash-safe: the index is committed
    before the watermark moves, and re-indexing a track replaces its document, so an interrupted
    refresh simply redoes some work. ``rebuild=True`` (or a missing, foreign or older-format
    index) starts afresh.
    """
    conn = archive.conn
    state = _state(conn)
    path = _index_dir(archive)
    token = state.get("index_token")
    token_file = path / TOKEN_FILE
    usable = (
        not rebuild and token is not None and token_file.exists() and token_file.read_text().strip() == token
        and _format_ok(path) and tantivy.Index.exists(str(path))
    )
    if not usable:
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        token = secrets.token_hex(8)
        with archive.transaction():
            conn.execute("DELETE FROM search_dirty")
            conn.execute("UPDATE search_state SET value = 0 WHERE key = 'watermark'")
            conn.execute("UPDATE search_state SET value = ? WHERE key = 'index_token'", (token,))
        index = tantivy.Index(_schema(), path=str(path), reuse=False)
        (path / FORMAT_FILE).write_text(INDEX_FORMAT)
        token_file.write_text(token)
        watermark = 0
    else:
        index = tantivy.Index(_schema(), path=str(path), reuse=True)
        watermark = int(state.get("watermark") or 0)

    dirty = [r[0] for r in conn.execute("SELECT track_id FROM search_dirty ORDER BY track_id")]
    max_id = conn.execute("SELECT max(id) FROM tracks").fetchone()[0] or 0
    total = len(dirty) + (conn.execute("SELECT count(*) FROM tracks WHERE id > ?", (watermark,)).fetchone()[0])
    if progress:
        progress(0, total=total)
    done = 0
    schema = index.schema
    try:
        writer = index.writer(heap_size=256_000_000, num_threads=1)
    except ValueError as exc:
        raise SearchIndexError(f"{path}: cannot write the search index ({exc}); is another import running?") from exc
    try:
        for chunk in _chunks(dirty, 500):
            marks = ",".join("?" * len(chunk))
            writer.delete_documents_by_query(tantivy.Query.term_set_query(schema, "track_id", chunk))
            for row in conn.execute(f"{_DOC_SQL} WHERE t.id IN ({marks})", chunk):
                writer.add_document(_document(row))
            done += len(chunk)
            if progress:
                progress(len(chunk))
        last = watermark
        while True:
            rows = conn.execute(f"{_DOC_SQL} WHERE t.id > ? AND t.id <= ? ORDER BY t.id LIMIT ?",
                                (last, max_id, batch)).fetchall()
            if not rows:
                break
            if watermark:  # ids above the watermark may be in the index already after a crash
                ids = [r[0] for r in rows]
                writer.delete_documents_by_query(tantivy.Query.term_set_query(schema, "track_id", ids))
            for row in rows:
                writer.add_document(_document(row))
            last = rows[-1][0]
            done += len(rows)
            if progress:
                progress(len(rows))
        writer.commit()
        writer.wait_merging_threads()
    except BaseException:
        writer.rollback()
        raise
    with archive.transaction():
        for chunk in _chunks(dirty, 500):
            conn.execute(f"DELETE FROM search_dirty WHERE track_id IN ({','.join('?' * len(chunk))})", chunk)
        conn.execute("UPDATE search_state SET value = ? WHERE key = 'watermark'", (max(max_id, watermark),))
    _OPEN.pop(archive, None)
    return done


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# ---------------------------------------------------------------------------------------------
# searching: popularity levels from the top down, stopping when no lower level can enter the top


@dataclass
class _Stats:
    """BM25 statistics exactly as tantivy uses them (read from a query explanation)."""

    n_docs: float
    avgdl: dict[str, float]


def _explained(node: Any, found: dict[str, float]) -> None:
    desc = str(node.get("description", ""))
    for key, marker in (("N", "N, total number of docs"), ("avgdl", "avgdl,")):
        if desc.startswith(marker) and "value" in node:
            found[key] = float(node["value"])
    for child in node.get("details", []) or []:
        _explained(child, found)


class _OpenIndex:
    def __init__(self, path: Path) -> None:
        self.token = (path / TOKEN_FILE).read_text().strip()
        self.index = tantivy.Index.open(str(path))
        self.schema = self.index.schema
        self.meta = path / "meta.json"
        self.mtime = self.meta.stat().st_mtime_ns
        self._searcher: tantivy.Searcher | None = None
        self._stats: _Stats | None = None

    def searcher(self) -> tantivy.Searcher:
        mtime = self.meta.stat().st_mtime_ns
        if mtime != self.mtime:
            self.index.reload()
            self.mtime = mtime
            self._searcher = None
            self._stats = None
        if self._searcher is None:
            self._searcher = self.index.searcher()
        return self._searcher

    def stats(self, searcher: tantivy.Searcher) -> _Stats:
        """N and the average length of every text field, as tantivy's BM25 sees them.

        Read from the explanation of a live match of a frequent word of each field (N counts
        deleted documents not yet merged away, as document frequencies do).
        """
        if self._stats is None:
            n_docs: float | None = None
            avgdl: dict[str, float] = {}
            for field in (*(f for f, _ in FIELD_BOOSTS), "prefix"):
                for token, _ in searcher.terms_with_prefix(field, "", limit=50):
                    q = tantivy.Query.term_query(self.schema, field, token)
                    hits = searcher.search(q, 1, count=False).hits
                    if not hits:  # only in deleted documents
                        continue
                    found: dict[str, float] = {}
                    _explained(json.loads(q.explain(searcher, hits[0][1]).to_json()), found)
                    if "avgdl" in found:
                        avgdl[field] = found["avgdl"]
                    n_docs = found.get("N", n_docs)
                    break
            if n_docs is None:  # nothing live to explain: no search can match anyway
                n_docs = float(searcher.num_docs)
            self._stats = _Stats(n_docs, avgdl)
        return self._stats


_OPEN: weakref.WeakKeyDictionary[Archive, _OpenIndex] = weakref.WeakKeyDictionary()


def _open(archive: Archive) -> _OpenIndex:
    opened = _OPEN.get(archive)
    path = _index_dir(archive)
    if opened is not None:
        try:
            if _read_token(path) != opened.token:  # rebuilt meanwhile
                opened = None
        except OSError:
            opened = None
    if opened is None:
        if not (path / TOKEN_FILE).exists() or not tantivy.Index.exists(str(path)):
            raise SearchIndexError(
                f"{archive.root}: no search index yet (an import builds it; or run `phonotheque search --rebuild-index`)"
            )
        if not _format_ok(path):
            raise SearchIndexError(
                f"{path}: search index has an older format; rebuild it with `phonotheque search --rebuild-index` (or run an import)"
            )
        try:
            opened = _OpenIndex(path)
        except (OSError, ValueError) as exc:
            raise SearchIndexError(
                f"{path}: search index unusable ({exc}); rebuild it with `phonotheque search --rebuild-index`"
            ) from exc
        _OPEN[archive] = opened
    return opened


def _read_token(path: Path) -> str:
    """The index token, read with bare system calls (this runs on every search)."""
    fd = os.open(path / TOKEN_FILE, os.O_RDONLY)
    try:
        return os.read(fd, 256).decode("ascii", "replace").strip()
    finally:
        os.close(fd)


def _idf(n: float, n_docs: float) -> float:
    return math.log(1.0 + (n_docs - n + 0.5) / (n + 0.5))


@dataclass
class _Leaf:
    """One word (or prefix) in one field: its documents per popularity level."""

    field: str
    text: str
    boost: float
    min_len: int
    levels: dict[int, int]  # bucket -> documents with the word in that bucket
    repeats: dict[int, int]  # bucket -> most occurrences of the word in one name (when over 1)

    def max_tf(self, below: int) -> int:
        return max((tf for bucket, tf in self.repeats.items() if bucket <= below), default=1)


@dataclass
class _Clause:
    """One query term: the best field counts (``dismax``) or every part adds up (``sum``)."""

    kind: str
    parts: list[_Leaf | _Clause]


def _leaf(searcher: tantivy.Searcher, field: str, text: str, boost: float, min_len: int) -> _Leaf:
    cut = len(text) + len(SEP)  # every term found is text|bucket (counts summed over segments)
    levels = {int(token[cut:]): int(n) for token, n in searcher.terms_with_prefix(field, text + SEP)}
    repeats: dict[int, int] = {}
    if levels and field in _REPEAT_CODE:  # the prefix field holds a set: never repeated
        head = f"{_REPEAT_CODE[field]}{text}{SEP}"
        for token, _ in searcher.terms_with_prefix("repeat", head):
            bucket, _, tf = token[len(head):].partition(SEP)
            repeats[int(bucket)] = max(repeats.get(int(bucket), 1), int(tf))
    return _Leaf(field, text, boost, min_len, levels, repeats)


def _term_clause(searcher: tantivy.Searcher, term: Term) -> _Clause:
    def word(text: str) -> _Clause:
        return _Clause("dismax", [_leaf(searcher, f, text, b, 1) for f, b in FIELD_BOOSTS])

    if not term.prefix:
        return word(term.text)
    head = term.text[:MAX_PREFIX]
    prefix = _Clause("sum", [_leaf(searcher, "prefix", head, 1.0, len(head))])
    if len(term.text) > MAX_PREFIX:  # longer prefixes: the n-gram narrows, a full word may match
        return _Clause("sum", [*prefix.parts, word(term.text)])
    return prefix


def _walk(node: _Leaf | _Clause) -> Iterator[_Leaf]:
    if isinstance(node, _Leaf):
        yield node
    else:
        for part in node.parts:
            yield from _walk(part)


class _Plan:
    """Everything a query needs per popularity level: estimates, score bounds, tantivy queries."""

    def __init__(self, schema: tantivy.Schema, stats: _Stats, clauses: list[_Clause]) -> None:
        self.schema, self.stats, self.clauses = schema, stats, clauses
        self.global_idf = {id(leaf): _idf(sum(leaf.levels.values()), stats.n_docs)
                           for clause in clauses for leaf in _walk(clause)}
        # a document sits at one level, so a level where some term has no document matches nothing
        estimate: dict[int, int] | None = None
        for clause in clauses:
            per_level: dict[int, int] = {}
            for leaf in _walk(clause):
                for level, n in leaf.levels.items():
                    per_level[level] = per_level.get(level, 0) + n
            estimate = per_level if estimate is None else {
                lv: min(n, per_level[lv]) for lv, n in estimate.items() if lv in per_level
            }
        self.estimate = estimate or {}
        self.levels = sorted(self.estimate, reverse=True)
        # every prefix of every prefix searched is a distinct word of a match's prefix field
        heads = {leaf.text for clause in clauses for leaf in _walk(clause) if leaf.field == "prefix"}
        self.prefix_len = len({h[:k] for h in heads for k in range(1, len(h) + 1)})

    def bound(self, below: int) -> float:
        """Upper bound of the text score (BM25, before popularity) of any match in a bucket <= below.

        Per word and field, BM25 is at most ``w * tf / (tf + k1 * (1 - b + b * dl / avgdl))``
        with the word's largest tf there and dl >= tf. A document matching every word has each
        one in some field, so a field that is the best field of c query words is at least c words
        long: the bound takes the best split of the words over the fields (each field's c best
        words at length c, a relaxation), plus a tenth of every other field a word could be in.
        """
        total = 0.0
        fields: list[dict[str, tuple[float, int]]] = []
        for clause in self.clauses:
            if clause.kind == "dismax":
                avail = {leaf.field: (leaf.boost * self.global_idf[id(leaf)] * (K1 + 1), leaf.max_tf(below))
                         for leaf in _walk(clause) if any(level <= below for level in leaf.levels)}
                if not avail:
                    return 0.0
                fields.append(avail)
            else:
                value = self._bound(clause, below)
                if value <= 0:
                    return 0.0
                total += value
        if not fields:
            return total
        for avail in fields:  # the other fields of a word add a tenth (their length taken as 1)
            if len(avail) > 1:
                alone = [self._bm25(f, w, tf, 1) for f, (w, tf) in avail.items()]
                total += TIE_BREAKER * (sum(alone) - min(alone))
        best_of: dict[str, list[float]] = {}
        for f, _ in FIELD_BOOSTS:
            entries = [avail[f] for avail in fields if f in avail]
            best_of[f] = [0.0] + [
                sum(sorted((self._bm25(f, w, tf, c) for w, tf in entries), reverse=True)[:c])
                for c in range(1, len(entries) + 1)
            ]
        (name, artists, album) = (best_of[f] for f, _ in FIELD_BOOSTS)
        m = len(fields)
        best = max(
            (name[c1] + artists[c2] + album[m - c1 - c2]
             for c1 in range(len(name)) for c2 in range(len(artists)) if 0 <= m - c1 - c2 < len(album)),
            default=math.inf,
        )
        return total + best

    def _bm25(self, field: str, weight: float, tf: int, length: int) -> float:
        # BM25 grows with tf even though the length dl >= tf grows too (fieldnorms are exact to 40)
        avgdl = self.stats.avgdl.get(field, math.inf)
        return weight * tf / (tf + K1 * (1 - B + B * max(tf, length) / avgdl))

    def _bound(self, node: _Leaf | _Clause, below: int) -> float:
        if isinstance(node, _Leaf):
            if not any(level <= below for level in node.levels):
                return 0.0
            length = max(node.min_len, self.prefix_len if node.field == "prefix" else 1)
            return self._bm25(node.field, node.boost * self.global_idf[id(node)] * (K1 + 1), node.max_tf(below), length)
        values = [self._bound(part, below) for part in node.parts]
        if node.kind == "sum" or not values:
            return sum(values)
        return max(values) + TIE_BREAKER * (sum(values) - max(values))

    def query(self, group: list[int]) -> tantivy.Query | None:
        must = []
        for clause in self.clauses:
            q = self._query(clause, group)
            if q is None:
                return None
            must.append((tantivy.Occur.Must, q))
        return must[0][1] if len(must) == 1 else tantivy.Query.boolean_query(must)

    def _query(self, node: _Leaf | _Clause, group: list[int]) -> tantivy.Query | None:
        Q = tantivy.Query
        if isinstance(node, _Leaf):
            shoulds = []
            for level in group:
                n = node.levels.get(level)
                if not n:
                    continue
                # tantivy scores the bucket's term with the bucket's idf: rescale to the word's own idf
                # (summed over buckets) and apply the popularity factor of a one-level bucket
                boost = node.boost * self.global_idf[id(node)] / _idf(n, self.stats.n_docs)
                if _bucket_top(level) == level:
                    boost *= level_factor(level)
                term = Q.term_query(self.schema, node.field, f"{node.text}{SEP}{level}")
                shoulds.append((tantivy.Occur.Should, Q.boost_query(term, boost)))
            if not shoulds:
                return None
            return shoulds[0][1] if len(shoulds) == 1 else Q.boolean_query(shoulds)
        subs = [q for q in (self._query(part, group) for part in node.parts) if q is not None]
        if not subs:
            return None
        if len(subs) == 1:
            return subs[0]
        if node.kind == "sum":
            return Q.boolean_query([(tantivy.Occur.Should, q) for q in subs])
        return Q.disjunction_max_query(subs, TIE_BREAKER)


def _ranked(searcher: tantivy.Searcher, plan: _Plan, k: int, exhaustive: bool = False) -> list[tuple[float, Any]]:
    """The ``k`` best ``(score, address)``: score = BM25 x popularity factor, best first.

    Buckets are searched from the most popular down in groups of growing size; the search stops
    when the k-th best score so far beats the best score any lower bucket could reach (its top
    factor x an upper bound of the text score), so common words do not score every match.
    """
    top: list[tuple[float, int, int, Any]] = []
    buckets, i, budget = plan.levels, 0, (math.inf if exhaustive else FIRST_GROUP_DOCS)
    while i < len(buckets):
        threshold = top[k - 1][0] if len(top) >= k else -1.0
        bound = plan.bound(buckets[i])
        group: list[int] = []
        docs = 0
        exact = _bucket_top(buckets[i]) == buckets[i]  # one level: the boost applies the factor
        while i < len(buckets) and (not group or docs < budget) and (_bucket_top(buckets[i]) == buckets[i]) == exact:
            factor = level_factor(_bucket_top(buckets[i]))
            if threshold >= 0 and not exhaustive and factor * bound * (1 + SLACK) < threshold:
                i = len(buckets)  # no document in this bucket or below can enter the top k
                break
            group.append(buckets[i])
            docs += plan.estimate[buckets[i]]
            i += 1
        if not group:
            break
        query = plan.query(group)
        if query is not None:
            weight = None if exact else "weight"
            for score, address in searcher.search(query, k, count=False, weight_by_field=weight).hits:
                top.append((float(score), address.segment_ord, address.doc, address))
            top.sort(key=lambda h: (-h[0], h[1], h[2]))
            del top[k:]
        budget *= GROUP_GROWTH
    return [(h[0], h[3]) for h in top]


def _plain_query(schema: tantivy.Schema, terms: list[Term]) -> tantivy.Query:
    """Every word must match one of the name fields (a prefix: the prefix field), no buckets."""
    Q = tantivy.Query

    def word(text: str) -> tantivy.Query:
        parts = [Q.boost_query(Q.term_query(schema, PLAIN + f, text), b) for f, b in FIELD_BOOSTS]
        return Q.disjunction_max_query(parts, TIE_BREAKER)

    must = []
    for term in terms:
        if term.prefix:
            q = Q.term_query(schema, PLAIN + "prefix", term.text[:MAX_PREFIX])
            if len(term.text) > MAX_PREFIX:
                q = Q.boolean_query([(tantivy.Occur.Should, q), (tantivy.Occur.Should, word(term.text))])
        else:
            q = word(term.text)
        must.append((tantivy.Occur.Must, q))
    return must[0][1] if len(must) == 1 else Q.boolean_query(must)


def search_ids(
    archive: Archive, query: str, *, limit: int = 20, offset: int = 0, strategy: str = "auto"
) -> list[tuple[int, float]]:
    """Ranked ``(track_id, score)`` pairs from the index alone (no SQLite reads).

    ``strategy`` (the same results every way, at different speeds; tests and the benchmark
    compare them): ``early`` walks popularity buckets and stops early, ``levels`` scores every
    bucket, ``plain`` scores every match on the fields without buckets; ``auto`` (the default)
    takes ``early`` for one word and for two words of which none is CJK, ``plain`` otherwise:
    an intersection of many words is cheaper on one posting list per word and field than on one
    per bucket, and its bound (a sum over words) is too loose to stop early. Two CJK words (the
    bigrams of a three-character run, or a character and a word) rarely stop early either: on
    the 2 M bench catalog they cost 13.5 ms of CPU on average with ``early``, 5.5 with ``plain``.
    """
    if limit < 1 or limit > 1000:
        raise QueryError(f"limit must be between 1 and 1000, got {limit}")
    if offset < 0 or offset > 10_000:
        raise QueryError(f"offset must be between 0 and 10000, got {offset}")
    if strategy not in STRATEGIES:
        raise QueryError(f"search strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    terms = parse_query(query)
    opened = _open(archive)
    searcher = opened.searcher()
    if strategy == "auto":
        early = len(terms) == 1 or (len(terms) <= EARLY_MAX_WORDS and not any(has_cjk(t.text) for t in terms))
        strategy = "early" if early else "plain"
    if strategy == "plain":
        found = searcher.search(_plain_query(opened.schema, terms), offset + limit, count=False, weight_by_field="weight")
        hits = [(float(score), address) for score, address in found.hits][offset:]
    else:
        plan = _Plan(opened.schema, opened.stats(searcher), [_term_clause(searcher, t) for t in terms])
        hits = _ranked(searcher, plan, offset + limit, strategy == "levels")[offset:]
    if not hits:
        return []
    ids = searcher.fast_field_values("track_id", [address for _, address in hits])
    return [(int(track_id), score) for (score, _), track_id in zip(hits, ids, strict=True) if track_id is not None]


def search(archive: Archive, query: str, *, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
    """Ranked tracks whose track, artist or album name matches every word of ``query``.

    Each result: ``id, name, artists, album, album_id, popularity, listens, isrc, duration_ms, score``.
    Raises :class:`QueryError` for a malformed query.
    """
    hits = search_ids(archive, query, limit=limit, offset=offset)
    if not hits:
        return []
    conn = archive.conn
    ids = [h[0] for h in hits]
    marks = ",".join("?" * len(ids))
    rows = {
        r["id"]: r
        for r in conn.execute(
            f"""SELECT t.id, t.name, t.popularity, t.listens, t.duration_ms, t.album_id, al.name AS album, r.isrc
                FROM tracks t LEFT JOIN albums al ON al.id = t.album_id
                LEFT JOIN recordings r ON r.id = t.recording_id WHERE t.id IN ({marks})""",
            ids,
        )
    }
    credits = artists_of(conn, ids)
    out = []
    for track_id, score in hits:
        row = rows.get(track_id)
        if row is None:  # deleted since the last refresh
            continue
        item: dict[str, Any] = {"id": track_id, "name": row["name"], "artists": credit_line(credits.get(track_id, []))}
        item.update({k: row[k] for k in ("album", "album_id", "popularity", "listens", "isrc", "duration_ms")})
        item["score"] = round(score, 4)
        out.append(item)
    return out
