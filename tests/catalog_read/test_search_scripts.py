"""Scripts whose words carry combining marks (Devanagari, Bengali, Tamil; Arabic and Hebrew points).

What a user notices: a Hindi word is one word — searching ``प्यार`` finds "प्यार दिल से" and not a
title that merely shares its consonants; a word with Arabic harakat or Hebrew niqqud is found when
typed without them and the other way round, as ``cafe`` finds ``Café``.
"""

from __future__ import annotations

import pytest
from catalog_builder import Builder

from phonotheque.archive import Archive
from phonotheque.catalog.search import refresh_index, search
from phonotheque.catalog.search_text import parse_query, words


def names(results: list[dict]) -> list[str]:
    return [r["name"] for r in results]


@pytest.fixture
def scripts(archive: Archive, build: Builder) -> Archive:
    build.track("प्यार दिल से", ["अरिजीत सिंह"], "दिल", popularity=10)
    build.track("पर यार", ["कोई"], "अलबम", popularity=90)  # the consonants प य र, other words
    build.track("আমার সোনার বাংলা", ["রবীন্দ্রনাথ"], "গান", popularity=10)
    build.track("யாதும் ஊரே", ["கணியன்"], "பாடல்", popularity=10)
    build.track("عَرَبِيّ", ["فَيْرُوز"], "أغاني", popularity=10)
    build.track("שָׁלוֹם", ["זמר"], "אלבום", popularity=10)
    refresh_index(archive)
    return archive


def test_devanagari_word_is_one_word() -> None:
    assert words("प्यार दिल से") == ["प्यार", "दिल", "से"]


@pytest.mark.parametrize(("query", "title"), [
    ("प्यार", "प्यार दिल से"), ("दिल से", "प्यार दिल से"), ("अरिजीत", "प्यार दिल से"), ("प्या*", "प्यार दिल से"),
    ("সোনার", "আমার সোনার বাংলা"),
    ("யாதும்", "யாதும் ஊரே"),
])
def test_indic_words_found_whole(scripts: Archive, query: str, title: str) -> None:
    assert names(search(scripts, query)) == [title]


def test_shared_consonants_are_not_a_match(scripts: Archive) -> None:
    # under \w+ splitting both titles were the letters प य र and matched each other's words
    assert names(search(scripts, "यार")) == ["पर यार"]
    assert names(search(scripts, "प्यार")) == ["प्यार दिल से"]


@pytest.mark.parametrize(("query", "title"), [
    ("عربي", "عَرَبِيّ"), ("عَرَبِيّ", "عَرَبِيّ"), ("فيروز", "عَرَبِيّ"), ("שלום", "שָׁלוֹם"), ("שָׁלוֹם", "שָׁלוֹם"),
])
def test_arabic_and_hebrew_points_do_not_matter(scripts: Archive, query: str, title: str) -> None:
    assert names(search(scripts, query)) == [title]


def test_prefix_may_end_in_a_vowel_sign() -> None:
    assert [(t.text, t.prefix) for t in parse_query("प्या*")] == [("प्या", True)]
