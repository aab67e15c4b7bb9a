"""Ranked search against an independent reference: BM25 x popularity computed in plain Python.

The index splits every word by popularity level and stops early; these tests check that what
comes out is exactly the ranking of one BM25 over the whole catalog (tantivy's formula: k1 1.2,
b 0.75, idf ln(1 + (N - n + .5) / (n + .5)), fields name x2 / artists x1.5 / album x1 combined
as best + a tenth of the others, prefixes scored on the set of word prefixes) times 1 + pop/25.
"""

from __future__ import annotations

import math
import random
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from catalog_builder import Builder

from phonotheque.archive import Archive
from phonotheque.catalog import search as search_mod
from phonotheque.catalog.search import SearchIndexError, parse_query, refresh_index, search, search_ids, words

VOCAB = ["love", "night", "baby", "river", "lover", "lovely", "nightingale", "rio", "été", "straße",
         "東京", "home", "heart", "fire", "blue", "moon", "la", "dance", "time", "road", "東京の夜", "夜"]
LONG = "supercalifragilistic"
FIELDS = (("name", 2.0), ("artists", 1.5), ("album", 1.0))


@dataclass
class Doc:
    fields: dict[str, list[str]]
    prefixes: set[str]
    popularity: int


def _idf(n: int, total: int) -> float:
    return math.log(1 + (total - n + 0.5) / (n + 0.5))


class Reference:
    """Scores every track for a query from first principles (no index)."""

    def __init__(self, docs: dict[int, Doc]) -> None:
        self.docs = docs
        self.n = len(docs)
        self.avgdl = {f: sum(len(d.fields[f]) for d in docs.values()) / self.n for f, _ in FIELDS}
        self.avgdl["prefix"] = sum(len(d.prefixes) for d in docs.values()) / self.n
        self.df: Counter[tuple[str, str]] = Counter()
        for d in docs.values():
            for f, _ in FIELDS:
                for w in set(d.fields[f]):
                    self.df[(f, w)] += 1
            for p in d.prefixes:
                self.df[("prefix", p)] += 1

    def _bm25(self, field: str, word: str, tf: int, dl: int) -> float:
        norm = 1.2 * (1 - 0.75 + 0.75 * dl / self.avgdl[field])
        return _idf(self.df[(field, word)], self.n) * 2.2 * tf / (tf + norm)

    def _word(self, d: Doc, word: str) -> float | None:
        scores = []
        for f, boost in FIELDS:
            tf = min(8, d.fields[f].count(word))
            if tf:
                scores.append(boost * self._bm25(f, word, tf, len(d.fields[f])))
        if not scores:
            return None
        return max(scores) + 0.1 * (sum(scores) - max(scores))

    def _prefix(self, d: Doc, text: str) -> float | None:
        head = text[:12]
        parts = []
        if head in d.prefixes:
            parts.append(self._bm25("prefix", head, 1, len(d.prefixes)))
        if len(text) > 12 and (w := self._word(d, text)) is not None:
            parts.append(w)
        return sum(parts) if parts else None

    def ranking(self, query: str) -> list[tuple[int, float]]:
        terms = parse_query(query)
        out = []
        for track_id, d in self.docs.items():
            total = 0.0
            for t in terms:
                s = self._prefix(d, t.text) if t.prefix else self._word(d, t.text)
                if s is None:
                    break
                total += s
            else:
                out.append((track_id, total * (1 + d.popularity / 25)))
        return sorted(out, key=lambda x: -x[1])


def _catalog(archive: Archive, n: int, seed: int) -> dict[int, Doc]:
    rng = random.Random(seed)
    b = Builder(archive)
    artists = [f"{rng.choice(VOCAB)} {rng.choice(['Band', 'Trio', 'Kid', 'Orchestra'])}" for _ in range(40)]
    albums = [" ".join(rng.sample(VOCAB, rng.randint(1, 3))) for _ in range(60)]
    docs: dict[int, Doc] = {}
    for i in range(n):
        name = " ".join(rng.choices(VOCAB, k=rng.choice([1, 1, 2, 2, 3, 4, 6])))
        if i % 97 == 0:
            name = " ".join(["la"] * 12)  # more repeats than count
        if i % 113 == 0:
            name = f"{LONG} {rng.choice(VOCAB)}"
        # skewed like real catalogs: most tracks barely popular, a few very popular
        pop = min(100, int(rng.paretovariate(1.3) * 3) - 3) if rng.random() < 0.97 else rng.randint(0, 100)
        credits = rng.sample(artists, rng.choice([1, 1, 2]))
        album = rng.choice(albums)
        while True:
            fields = {"name": words(name), "artists": words(" ".join(credits)), "album": words(album)}
            prefixes = {w[:k] for ws in fields.values() for w in ws for k in range(1, min(len(w), 12) + 1)}
            if len(prefixes) <= 40:  # tantivy stores lengths above 40 rounded: keep the reference exact
                break
            name, credits = name.rpartition(" ")[0] or "x", credits[:1]
        tid = b.track(name, credits, album, popularity=pop)
        docs[tid] = Doc(fields, prefixes, pop)
    return docs


QUERIES = ["love", "la", "night", "baby love", "lov*", "l*", "n*", "ete", "strasse", "東京", "東*",
           "blue moon fire", "night* river", "supercalifragi*", LONG + "*", "road band", "time kid*",
           "orchestra", "love love", "rio*", "nothingmatches", "dance heart home", "東京の夜", "京", "夜", "の夜*",
           "夜 love", "京の"]
_rng = random.Random(3)  # and word combinations, where the bound over several words is put to the test
QUERIES += [" ".join(_rng.sample(VOCAB + ["band", "kid", "trio"], _rng.randint(2, 4))) for _ in range(12)]
QUERIES += [f"{_rng.choice(VOCAB)} {_rng.choice(VOCAB)[:2]}*" for _ in range(4)]


@pytest.fixture(scope="module")
def ranked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Archive, Reference]]:
    archive = Archive.init(tmp_path_factory.mktemp("ranked") / "a")
    docs = _catalog(archive, 2500, seed=7)
    refresh_index(archive)
    yield archive, Reference(docs)
    archive.close()


def _same_ranking(got: list[tuple[int, float]], want: list[tuple[int, float]], ref: dict[int, float]) -> None:
    assert len(got) == len(want)
    for (gid, gscore), (_, wscore) in zip(got, want, strict=True):
        assert gscore == pytest.approx(wscore, rel=1e-4)  # the k best scores, in order
        assert ref[gid] == pytest.approx(gscore, rel=1e-4)  # and each track really has its score


@pytest.mark.parametrize("first_group", [1, 50, 4096])
@pytest.mark.parametrize("query", QUERIES)
def test_ranking_equals_reference_bm25_times_popularity(
    ranked: tuple[Archive, Reference], monkeypatch: pytest.MonkeyPatch, query: str, first_group: int
) -> None:
    archive, reference = ranked
    monkeypatch.setattr(search_mod, "FIRST_GROUP_DOCS", first_group)  # small: many early-stop rounds
    want = reference.ranking(query)
    scores = dict(want)
    for strategy in ("auto", "early", "levels", "plain"):
        for limit, offset in ((20, 0), (5, 7), (1, 0), (50, 30)):
            got = search_ids(archive, query, limit=limit, offset=offset, strategy=strategy)
            _same_ranking(got, want[offset : offset + limit], scores)


def test_common_word_ranking_is_led_by_popular_tracks(ranked: tuple[Archive, Reference]) -> None:
    archive, reference = ranked
    hits = search(archive, "love", limit=10)
    assert len(hits) == 10
    everyone = [reference.docs[i].popularity for i, _ in reference.ranking("love")]
    assert min(h["popularity"] for h in hits) > sorted(everyone)[len(everyone) // 2]  # above the median


def test_repeated_words_count_at_most_eight_times(archive: Archive, build: Builder) -> None:
    build.track(" ".join(["da"] * 9), popularity=0)
    build.track(" ".join(["da"] * 30), popularity=0)
    refresh_index(archive)
    (a, sa), (b, sb) = search_ids(archive, "da")
    assert sa > 0 and sb > 0 and sa != sb  # same tf (capped), the longer name scores lower
    assert len(search(archive, "da*")) == 2


def test_index_of_an_older_format_is_rebuilt_not_misread(archive: Archive, build: Builder) -> None:
    build.track("Format check", popularity=10)
    refresh_index(archive)
    (archive.root / "search-index" / search_mod.FORMAT_FILE).unlink()  # as an index of format 1 has
    search_mod._OPEN.clear()
    with pytest.raises(SearchIndexError, match="older format"):
        search(archive, "format")
    assert refresh_index(archive) == 1  # rebuilt from scratch
    assert [r["name"] for r in search(archive, "format")] == ["Format check"]


def test_deletes_and_popularity_changes_keep_reference_ranking(archive: Archive, build: Builder) -> None:
    ids = [build.track(f"Echo {w}", popularity=p) for w, p in (("a", 5), ("b", 50), ("c", 95), ("d", 0))]
    refresh_index(archive)
    archive.conn.execute("UPDATE tracks SET popularity = 100 WHERE id = ?", (ids[3],))
    archive.conn.execute("DELETE FROM track_artists WHERE track_id = ?", (ids[2],))
    archive.conn.execute("DELETE FROM tracks WHERE id = ?", (ids[2],))
    refresh_index(archive)
    assert [r["name"] for r in search(archive, "echo")] == ["Echo d", "Echo b", "Echo a"]
    shutil.rmtree(archive.root / "search-index")
    search_mod._OPEN.clear()
    refresh_index(archive)
    assert [r["name"] for r in search(archive, "echo")] == ["Echo d", "Echo b", "Echo a"]


def test_early_stop_at_the_edge_of_the_bound(
    archive: Archive, build: Builder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A popularity-0 track whose score is the bound itself, just above popular tracks' scores.

    "Zeta" alone in a name reaches the exact BM25 upper bound of the word; longer names with
    "zeta" get a popularity chosen so their score stays just below it. Stopping a hair early
    would lose the unpopular track; the search must still find it, at the reference's rank.
    """
    monkeypatch.setattr(search_mod, "FIRST_GROUP_DOCS", 1)
    fillers = ["q", "w", "e", "r", "t", "y", "u"]
    plan = [(n, rep) for n in range(1, 8) for rep in range(4)]  # names of 2..8 words, 4 of each
    total_words = sum(n + 1 for n, _ in plan) + 4 + 20  # + four "zeta" + 20 one-word others
    avgdl = total_words / (len(plan) + 4 + 20)

    def g(dl: int) -> float:  # BM25's length factor at tf 1
        return 1 / (1 + 1.2 * (0.25 + 0.75 * dl / avgdl))

    docs: dict[int, Doc] = {}
    for n, _rep in plan:
        name = " ".join(["zeta", *fillers[:n]])
        pop = math.floor(25 * (g(1) / g(n + 1) - 1) - 1e-9)  # largest popularity scoring below "Zeta"
        tid = build.track(name, ["Artist"], "Album", popularity=pop)
        docs[tid] = Doc({"name": words(name), "artists": ["artist"], "album": ["album"]}, set(), pop)
    for pop in (40, 60, 80):  # a few that rank above it
        tid = build.track("Zeta", ["Artist"], "Album", popularity=pop)
        docs[tid] = Doc({"name": ["zeta"], "artists": ["artist"], "album": ["album"]}, set(), pop)
    lone = build.track("Zeta", ["Artist"], "Album", popularity=0)
    docs[lone] = Doc({"name": ["zeta"], "artists": ["artist"], "album": ["album"]}, set(), 0)
    for i in range(20):
        tid = build.track(f"other{i}", ["Artist"], "Album", popularity=0)
        docs[tid] = Doc({"name": [f"other{i}"], "artists": ["artist"], "album": ["album"]}, set(), 0)
    refresh_index(archive)
    reference = Reference(docs)
    want = reference.ranking("zeta")
    rank = [i for i, _ in want].index(lone)
    assert 0 < rank < 20  # the scenario: the lone track is inside the top 20, below popular ones
    assert want[19][1] > 0.97 * want[rank][1]  # and the 20th best is within 3% of the bound
    got = search_ids(archive, "zeta", limit=20, strategy="early")
    _same_ranking(got, want[:20], dict(want))
    assert lone in [i for i, _ in got]


def test_after_updates_and_deletes_every_strategy_agrees(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deleted documents stay in tantivy's statistics until merged: the bucket rescaling must
    use the same N and document frequencies as tantivy's own BM25 on the plain fields."""
    monkeypatch.setattr(search_mod, "FIRST_GROUP_DOCS", 4)
    docs = _catalog(archive, 600, seed=11)
    refresh_index(archive)
    rng = random.Random(5)
    conn = archive.conn
    for tid in rng.sample(sorted(docs), 150):  # popularity moves across buckets, some tracks go
        if rng.random() < 0.3:
            conn.execute("DELETE FROM track_artists WHERE track_id = ?", (tid,))
            conn.execute("DELETE FROM tracks WHERE id = ?", (tid,))
        else:
            conn.execute("UPDATE tracks SET popularity = ? WHERE id = ?", (rng.randint(0, 100), tid))
    refresh_index(archive)
    for query in QUERIES:
        plain = search_ids(archive, query, limit=30, strategy="plain")
        for strategy in ("early", "levels", "auto"):
            got = search_ids(archive, query, limit=30, strategy=strategy)
            assert [s for _, s in got] == pytest.approx([s for _, s in plain], rel=1e-4), (query, strategy)
            assert all(s > 0 for _, s in got)
