from __future__ import annotations

import re
import shutil

import pytest
from catalog_builder import Builder
from hypothesis import given, settings
from hypothesis import strategies as st

from phonotheque.archive import Archive
from phonotheque.catalog.search import (
    has_cjk,
    normalize,
    parse_query,
    query_words,
    refresh_index,
    search,
    words,
)
from phonotheque.errors import QueryError


def names(results: list[dict]) -> list[str]:
    return [r["name"] for r in results]


def test_diacritics_case_and_fields(archive: Archive, build: Builder) -> None:
    build.track("Crazy in Love", ["Beyoncé"], "Dangerously in Love", popularity=80)
    build.track("Straße der Träume", ["Mädchen"], "Nacht")
    build.track("Москва", ["Кино"], "Звезда")
    build.track("東京の夜", ["桜"], "夢")
    refresh_index(archive)
    assert names(search(archive, "BEYONCE")) == ["Crazy in Love"]
    assert names(search(archive, "beyoncé crazy")) == ["Crazy in Love"]
    assert names(search(archive, "dangerously")) == ["Crazy in Love"]  # album name
    assert names(search(archive, "strasse traume")) == ["Straße der Träume"]
    assert names(search(archive, "москва")) == ["Москва"]
    assert names(search(archive, "кино")) == ["Москва"]  # artist name
    assert names(search(archive, "東京")) == ["東京の夜"]  # CJK: any characters of the title
    assert search(archive, "nothing-like-this") == []


def test_every_word_must_match_and_prefix(archive: Archive, build: Builder) -> None:
    build.track("Beat It", ["Michael Jackson"], "Thriller")
    build.track("Beatnik Fly", ["Johnny"], "Singles")
    build.track("Be Mine", ["Someone"], "Be")
    refresh_index(archive)
    assert sorted(names(search(archive, "beat*"))) == ["Beat It", "Beatnik Fly"]
    assert names(search(archive, "beat")) == ["Beat It"]
    assert names(search(archive, "beat* jackson")) == ["Beat It"]
    assert names(search(archive, "jack* thri*")) == ["Beat It"]
    assert names(search(archive, "beat AND jackson")) == ["Beat It"]
    long_prefix = "beatnikbeatnikbeatnik"
    build.track(long_prefix.capitalize(), ["X"], "Y")
    refresh_index(archive)
    assert names(search(archive, long_prefix[:15] + "*")) == [long_prefix.capitalize()]


def test_ranking_uses_popularity_and_relevance(archive: Archive, build: Builder) -> None:
    for i, pop in enumerate([5, 90, 40, 0, 70]):
        build.track(f"Love Song {i}", ["Same"], "Same Album", popularity=pop)
    refresh_index(archive)
    pops = [r["popularity"] for r in search(archive, "love song")]
    assert pops == [90, 70, 40, 5, 0]
    # popularity from listens when the source has none
    build.track("Love Song quiet", ["Same"], "Same Album", listens=3)
    build.track("Love Song loud", ["Same"], "Same Album", listens=10**9)
    refresh_index(archive)
    got = names(search(archive, "love song"))
    assert got.index("Love Song loud") < got.index("Love Song quiet")
    # relevance: a title match beats an album-only match at equal popularity
    build.track("Nocturne", ["Chopin"], "Other", popularity=10)
    build.track("Étude", ["Chopin"], "Nocturne Collection", popularity=10)
    refresh_index(archive)
    assert names(search(archive, "nocturne")) == ["Nocturne", "Étude"]


def test_limit_offset_pages(archive: Archive, build: Builder) -> None:
    for i in range(30):
        build.track(f"Page {i}", popularity=i)
    refresh_index(archive)
    first = search(archive, "page", limit=10)
    second = search(archive, "page", limit=10, offset=10)
    assert len(first) == len(second) == 10
    assert not {r["id"] for r in first} & {r["id"] for r in second}
    assert [r["popularity"] for r in first] == list(range(29, 19, -1))


def test_incremental_refresh_sees_inserts_updates_deletes(archive: Archive, build: Builder) -> None:
    a = build.track("Alpha", ["One"], "First")
    build.track("Bravo", ["Two"], "Second")
    assert refresh_index(archive) == 2
    assert refresh_index(archive) == 0  # nothing changed
    c = build.track("Charlie", ["Three"], "Third")
    assert refresh_index(archive) == 1
    assert names(search(archive, "charlie")) == ["Charlie"]
    conn = archive.conn
    conn.execute("UPDATE tracks SET name = 'Alphabet' WHERE id = ?", (a,))
    conn.execute("UPDATE artists SET name = 'Deux' WHERE name = 'Two'")
    conn.execute("UPDATE albums SET name = 'Troisième' WHERE name = 'Third'")
    assert refresh_index(archive) == 3
    assert names(search(archive, "alphabet")) == ["Alphabet"]
    assert search(archive, "alpha") == []
    assert names(search(archive, "deux")) == ["Bravo"]
    assert names(search(archive, "troisieme")) == ["Charlie"]
    conn.execute("DELETE FROM track_artists WHERE track_id = ?", (c,))
    conn.execute("DELETE FROM tracks WHERE id = ?", (c,))
    refresh_index(archive)
    assert search(archive, "charlie") == []
    # popularity change reorders
    x = build.track("Zulu same", popularity=10)
    build.track("Zulu same too", popularity=50)
    refresh_index(archive)
    assert search(archive, "zulu")[0]["name"] == "Zulu same too"
    conn.execute("UPDATE tracks SET popularity = 99 WHERE id = ?", (x,))
    assert refresh_index(archive) == 1
    assert search(archive, "zulu")[0]["name"] == "Zulu same"


def test_bulk_insert_before_index_records_nothing(archive: Archive, build: Builder) -> None:
    for i in range(50):
        build.track(f"Song {i}")
    archive.conn.execute("UPDATE tracks SET popularity = 3")
    assert archive.conn.execute("SELECT count(*) FROM search_dirty").fetchone()[0] == 0
    assert refresh_index(archive) == 50


def test_lost_index_is_rebuilt(archive: Archive, build: Builder) -> None:
    build.track("Gamma ray")
    refresh_index(archive)
    archive.close()
    shutil.rmtree(archive.root / "search-index")
    reopened = Archive.open(archive.root)
    assert refresh_index(reopened) == 1
    assert names(search(reopened, "gamma")) == ["Gamma ray"]
    reopened.close()


def test_stale_index_entry_never_shows_a_deleted_track(archive: Archive, build: Builder) -> None:
    t = build.track("Ghost entry")
    refresh_index(archive)
    archive.conn.execute("DELETE FROM track_artists WHERE track_id = ?", (t,))
    archive.conn.execute("DELETE FROM tracks WHERE id = ?", (t,))
    assert search(archive, "ghost") == []  # before any refresh


@pytest.mark.parametrize(
    "query",
    [
        '"',
        "AND OR",
        "*",
        "NEAR(",
        "a NEAR b",
        "OR",
        "foo AND",
        "NOT foo",
        "x" * 10_000,
        "abc\x00def",
        "((a)",
        "",
        "   ",
        "*abc",
        "a**",
        "!!!",
        "()",
        "a*b",
    ],
)
def test_hostile_queries_are_query_errors(archive: Archive, build: Builder, query: str) -> None:
    build.track("Something")
    refresh_index(archive)
    with pytest.raises(QueryError) as info:
        search(archive, query)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


def test_search_without_index_is_a_clear_error(archive: Archive, build: Builder) -> None:
    build.track("Nope")
    from phonotheque.errors import PhonothequeError

    with pytest.raises(PhonothequeError, match="no search index"):
        search(archive, "nope")


@given(st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_parse_query_never_crashes(text: str) -> None:
    try:
        terms = parse_query(text)
    except QueryError:
        return
    assert terms and all(t.text and t.text == t.text.casefold() for t in terms)


@given(st.text(alphabet=st.characters(categories=["L", "N", "Zs"]), min_size=1, max_size=40))
@settings(max_examples=200, deadline=None)
def test_normalized_words_are_stable(text: str) -> None:
    assert words(normalize(text)) == words(text)  # idempotent: indexing normalized text changes nothing
    assert query_words(normalize(text)) == query_words(text)


_CJK_OR_LATIN = st.text(alphabet=st.sampled_from(list("東京の夜桜恋さくらアイ北京爱情 abcÉé-")), min_size=1, max_size=30)


@given(st.one_of(_CJK_OR_LATIN, st.text(alphabet=st.characters(categories=["L", "N", "Zs"]), max_size=30),
                 st.text(alphabet=st.characters(min_codepoint=0x3000, max_codepoint=0x9FFF), max_size=20)))
@settings(max_examples=300, deadline=None)
def test_a_name_is_found_by_itself_and_any_of_its_characters(text: str) -> None:
    """Every word a query of the whole name (or of any substring of it) searches is an index word."""
    indexed = set(words(text))
    assert set(query_words(text)) <= indexed
    text = normalize(text)
    for i in range(len(text)):
        for j in range(i + 1, min(len(text), i + 4) + 1):
            piece = text[i:j]
            # any run of CJK characters inside the name is found (bigrams, or the character itself);
            # Latin is found by whole words only
            if re.fullmatch(r"\w+", piece) and all(has_cjk(ch) for ch in piece):
                assert query_words(piece) and set(query_words(piece)) <= indexed, piece


def test_another_handle_sees_a_rebuilt_index(archive: Archive, build: Builder) -> None:
    build.track("Kilo first")
    refresh_index(archive)
    other = Archive.open(archive.root)
    assert names(search(other, "kilo")) == ["Kilo first"]
    build.track("Kilo second", popularity=90)
    refresh_index(archive, rebuild=True)
    assert names(search(other, "kilo")) == ["Kilo second", "Kilo first"]
    other.close()


def test_any_text_gives_results_or_a_query_error(tmp_path_factory: pytest.TempPathFactory) -> None:
    archive = Archive.init(tmp_path_factory.mktemp("fuzz") / "a")
    b = Builder(archive)
    for name in ("Ça plane pour moi", "東京", "AND", "x*y", "Ünïcödé"):
        b.track(name)
    refresh_index(archive)

    @given(st.text(max_size=60))
    @settings(max_examples=300, deadline=None)
    def check(text: str) -> None:
        try:
            out = search(archive, text)
        except QueryError:
            return
        assert isinstance(out, list)

    check()
    assert names(search(archive, "ca plane")) == ["Ça plane pour moi"]
    archive.close()
