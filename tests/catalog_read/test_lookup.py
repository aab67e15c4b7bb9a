from __future__ import annotations

import pytest
from catalog_builder import Builder
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from phonotheque.archive import Archive
from phonotheque.catalog.lookup import detect, lookup
from phonotheque.cli.main import cli
from phonotheque.errors import QueryError

MBID = "b1a9c0e9-d987-4042-ae91-78d6a3267d69"
REL_MBID = "1a8c4ac3-6f47-4570-aedb-f1928a0498ea"


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("42", "id", "42"),
        ("id:007", "id", "7"),
        ("USRC17607839", "isrc", "USRC17607839"),
        ("us-rc1-76-07839", "isrc", "USRC17607839"),
        ("isrc:usrc17607839", "isrc", "USRC17607839"),
        ("075990301024", "upc", "75990301024"),
        ("0075990301024", "upc", "75990301024"),
        ("ean:4006381333931", "upc", "4006381333931"),
        (MBID.upper(), "mbid", MBID),
        (MBID.replace("-", ""), "mbid", MBID),
        ("spotify:4uLU6hMCjMI75M1A2tKUQC", "source", "spotify:4uLU6hMCjMI75M1A2tKUQC"),
        ("hello", "unknown", "hello"),
        ("isrc:nope", "unknown", "nope"),
        ("", "unknown", ""),
    ],
)
def test_detect(text: str, kind: str, value: str) -> None:
    assert detect(text) == (kind, value)


@given(st.from_regex(r"[A-Z]{2}[A-Z0-9]{3}[0-9]{7}", fullmatch=True), st.booleans())
def test_any_isrc_shape_is_detected(isrc: str, dashed: bool) -> None:
    text = f"{isrc[:2]}-{isrc[2:5]}-{isrc[5:7]}-{isrc[7:]}" if dashed else isrc.lower()
    assert detect(text) == ("isrc", isrc)


@given(st.integers(min_value=0, max_value=10**11 - 1))
def test_short_digit_strings_are_catalog_ids(n: int) -> None:
    assert detect(str(n)) == ("id", str(n))


def test_lookup_each_kind(archive: Archive, build: Builder) -> None:
    a = build.track(
        "Dreams",
        ["Fleetwood Mac"],
        "Rumours",
        isrc="USWB10002946",
        recording_mbid=MBID,
        upc="075992731320",
        album_mbid=REL_MBID,
        source="mb",
        key="track-1",
        album_key="rel-1",
    )
    b = build.track(
        "Dreams",
        ["Fleetwood Mac"],
        "Greatest Hits",
        isrc="USWB10002946",
        recording_mbid=MBID,
        source="mb",
        key="track-2",
        album_key="rel-2",
    )
    c = build.track(
        "Go Your Own Way",
        ["Fleetwood Mac"],
        "Rumours",
        isrc="USWB10002947",
        source="mb",
        key="track-3",
        album_key="rel-1",
    )
    res = lookup(
        archive,
        [
            str(a),
            "uswb10002946",
            MBID,
            "075992731320",
            "upc:75992731320",
            REL_MBID,
            "mb:track-3",
            "mb:rel-2",
            "USXX99999999",
            "999",
            "garbage",
        ],
    )
    by = {r["query"]: r for r in res}
    assert [t["id"] for t in by[str(a)]["tracks"]] == [a]
    t = by[str(a)]["tracks"][0]
    assert t["album"]["name"] == "Rumours" and t["artists"][0]["name"] == "Fleetwood Mac"
    assert t["recording"]["isrcs"] == ["USWB10002946"] and t["recording"]["mbid"] == MBID
    assert t["sharing_recording"] == [b]
    assert [t["id"] for t in by["uswb10002946"]["tracks"]] == [a, b] and by["uswb10002946"][
        "matched"
    ] == "recording"
    assert [t["id"] for t in by[MBID]["tracks"]] == [a, b]
    assert (
        sorted(t["id"] for t in by["075992731320"]["tracks"])
        == [a, c]
        == sorted(t["id"] for t in by["upc:75992731320"]["tracks"])
    )
    assert by[REL_MBID]["matched"] == "album" and sorted(x["id"] for x in by[REL_MBID]["tracks"]) == [a, c]
    assert [x["id"] for x in by["mb:track-3"]["tracks"]] == [c]
    assert by["mb:rel-2"]["matched"] == "album" and [x["id"] for x in by["mb:rel-2"]["tracks"]] == [b]
    for missing in ("USXX99999999", "999", "garbage"):
        assert by[missing]["found"] is False and by[missing]["reason"]
    assert [r["query"] for r in res] == [
        str(a),
        "uswb10002946",
        MBID,
        "075992731320",
        "upc:75992731320",
        REL_MBID,
        "mb:track-3",
        "mb:rel-2",
        "USXX99999999",
        "999",
        "garbage",
    ]


def test_batch_limit(archive: Archive, build: Builder) -> None:
    build.track("x")
    assert len(lookup(archive, [str(i) for i in range(400)])) == 400
    with pytest.raises(QueryError, match="at most 400"):
        lookup(archive, [str(i) for i in range(401)])


def test_cli_exit_status_and_json(archive: Archive, build: Builder) -> None:
    a = build.track("Only", isrc="GBAYE0601498")
    runner = CliRunner()
    ok = runner.invoke(cli, ["lookup", "-A", str(archive.root), str(a), "GBAYE0601498"])
    assert ok.exit_code == 0, ok.output
    assert "Only" in ok.output
    bad = runner.invoke(cli, ["lookup", "-A", str(archive.root), "--json", str(a), "12345", "nope"])
    assert bad.exit_code == 1
    import json

    data = json.loads(bad.stdout)
    assert data["not_found"] == ["12345", "nope"]
    assert data["results"][0]["tracks"][0]["name"] == "Only"
