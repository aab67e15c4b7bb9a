"""Chinese and Japanese names: runs of Han/kana are indexed as bigrams plus characters (issue 2).

What a user notices: a title is found by itself, by any two adjacent characters of it and by any one
character; characters typed in another order do not put other titles above the exact one; Latin
and CJK mix in one name or query. And the archivist's way to rebuild an older index by hand.
"""

from __future__ import annotations

import json

import pytest
from catalog_builder import Builder
from click.testing import CliRunner

from phonotheque.archive import Archive
from phonotheque.catalog import search as search_mod
from phonotheque.catalog.search import SearchIndexError, parse_query, refresh_index, search, search_ids
from phonotheque.cli.main import cli


def names(results: list[dict]) -> list[str]:
    return [r["name"] for r in results]


@pytest.fixture
def cjk(archive: Archive, build: Builder) -> Archive:
    build.track("東京の夜桜", ["椎名林檎"], "夜の空", popularity=20)
    build.track("月亮代表我的心", ["邓丽君"], "島国情歌", popularity=30)
    build.track("Sunset", ["Nobody"], "Nothing", popularity=90)
    refresh_index(archive)
    return archive


@pytest.mark.parametrize("query", ["東京の夜桜", "東京", "京の", "夜桜", "の夜*", "東*", "東", "京", "の", "桜", "夜"])
def test_japanese_title_found_by_whole_title_two_characters_or_one(cjk: Archive, query: str) -> None:
    assert "東京の夜桜" in names(search(cjk, query))


@pytest.mark.parametrize("query", ["月亮代表我的心", "代表", "我的", "的心", "心", "月", "邓丽君", "丽君", "君"])
def test_chinese_title_and_artist_found(cjk: Archive, query: str) -> None:
    assert names(search(cjk, query)) == ["月亮代表我的心"]


def test_characters_must_be_adjacent_and_in_order(cjk: Archive) -> None:
    assert search(cjk, "京東") == []  # reversed pair: not in the title
    assert search(cjk, "東の") == []  # not adjacent
    assert names(search(cjk, "東 の")) == ["東京の夜桜"]  # two separate characters: each must appear
    assert [t.text for t in parse_query("東京の夜")] == ["東京", "京の", "の夜"]


def test_scrambled_characters_do_not_rank_above_the_exact_title(archive: Archive, build: Builder) -> None:
    exact = build.track("星空梦想", ["歌手"], "专辑", popularity=0)
    for scrambled in ("梦想星空", "想梦空星", "空星想梦", "星梦空想"):  # same characters, far more popular
        build.track(scrambled, ["歌手"], "专辑", popularity=100)
    build.track("星空", ["歌手"], "专辑", popularity=100)
    refresh_index(archive)
    hits = search_ids(archive, "星空梦想")
    assert hits and hits[0][0] == exact
    # under the former one-word-per-character index every scrambled title matched and, being
    # popular, ranked first; a genuine substring match still ranks by popularity
    assert names(search(archive, "星空"))[0] == "星空"
    assert len(search(archive, "星 空 梦 想")) == 5  # characters one by one: all five titles


def test_mixed_latin_and_cjk_names(archive: Archive, build: Builder) -> None:
    build.track("Every Heart ミンナノキモチ", ["BoA"], "Listen to My Heart", popularity=50)
    build.track("東京Love Story", ["Kazumasa Oda"], "Tokyo", popularity=40)
    build.track("Love Story", ["Taylor Swift"], "Fearless", popularity=95)
    build.track("Café 東京", ["Été Band"], "Nuit", popularity=10)
    refresh_index(archive)
    assert names(search(archive, "boa ミンナ")) == ["Every Heart ミンナノキモチ"]
    assert names(search(archive, "heart キモチ")) == ["Every Heart ミンナノキモチ"]
    assert names(search(archive, "東京love")) == ["東京Love Story"]  # no space between scripts
    assert names(search(archive, "love 東京")) == ["東京Love Story"]
    assert names(search(archive, "love story"))[:2] == ["Love Story", "東京Love Story"]
    assert names(search(archive, "cafe 東京")) == ["Café 東京"]
    assert names(search(archive, "ete 東")) == ["Café 東京"]
    assert sorted(names(search(archive, "東京"))) == ["Café 東京", "東京Love Story"]


def test_older_index_is_refused_naming_the_rebuild_flag(archive: Archive, build: Builder) -> None:
    build.track("東京の夜", popularity=10)
    refresh_index(archive)
    (archive.root / "search-index" / search_mod.FORMAT_FILE).write_text("2")  # as format 2 wrote it
    search_mod._OPEN.clear()
    with pytest.raises(SearchIndexError, match="older format.*phonotheque search --rebuild-index"):
        search(archive, "東京")
    res = CliRunner().invoke(cli, ["search", "東京", "-A", str(archive.root)])
    assert res.exit_code == 1 and "--rebuild-index" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(cli, ["search", "--rebuild-index", "-A", str(archive.root)])
    assert res.exit_code == 0, res.output
    assert "search index rebuilt: 1 tracks" in res.output
    assert (archive.root / "search-index" / search_mod.FORMAT_FILE).read_text() == search_mod.INDEX_FORMAT
    res = CliRunner().invoke(cli, ["search", "京の", "--rebuild-index", "--json", "-A", str(archive.root)])
    assert res.exit_code == 0, res.output
    assert [r["name"] for r in json.loads(res.stdout)] == ["東京の夜"]


def test_search_without_query_or_flag_is_a_usage_error(archive: Archive) -> None:
    res = CliRunner().invoke(cli, ["search", "-A", str(archive.root)])
    assert res.exit_code == 2 and "--rebuild-index" in res.output
