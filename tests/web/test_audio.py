"""Audio of held files: whole files, byte ranges (exact bytes), content types, ETags, exclusions (451)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web_kit import EXCLUDED_REASON, WebArchive

from phonotheque.web.ranges import RangeError, parse_range


def test_whole_file_with_type_length_and_ranges_advertised(client: Any, web: WebArchive) -> None:
    data = web.store_file(web.awakening_file).read_bytes()
    r = client.get(f"/api/files/{web.awakening_file}/audio")
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "audio/ogg" and r.headers["content-length"] == str(len(data))
    assert r.headers["accept-ranges"] == "bytes" and r.headers["etag"].strip('"') == hashlib.sha256(data).hexdigest()
    head = client.head(f"/api/files/{web.awakening_file}/audio")
    assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == str(len(data))


def test_track_audio_plays_a_held_file(client: Any, web: WebArchive) -> None:
    t = client.get(f"/api/tracks/{web.awakening}").json()
    r = client.get(f"/api/tracks/{web.awakening}/audio")
    assert r.status_code == 200 and r.content == web.store_file(t["audio_file_id"]).read_bytes()


@pytest.mark.parametrize(("header", "expect"), [
    ("bytes=0-0", (0, 0)), ("bytes=0-99", (0, 99)), ("bytes=100-", (100, None)), ("bytes=-500", (-500, None)),
    ("bytes=1000-1999999999", (1000, None)), ("bytes=65530-65545", (65530, 65545)),
])
def test_range_returns_exactly_those_bytes(client: Any, web: WebArchive, header: str, expect: tuple) -> None:
    data = web.store_file(web.awakening_file).read_bytes()
    first, last = expect
    if first < 0:
        first, last = len(data) + first, len(data) - 1
    last = len(data) - 1 if last is None else last
    r = client.get(f"/api/files/{web.awakening_file}/audio", headers={"Range": header})
    assert r.status_code == 206
    assert r.content == data[first : last + 1]
    assert r.headers["content-range"] == f"bytes {first}-{last}/{len(data)}"
    assert r.headers["content-length"] == str(last - first + 1)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=st.integers(0, 260_000), n=st.integers(1, 70_000))
def test_any_range_is_the_slice_of_the_file(client: Any, web: WebArchive, a: int, n: int) -> None:
    data = web.store_file(web.awakening_file).read_bytes()
    r = client.get(f"/api/files/{web.awakening_file}/audio", headers={"Range": f"bytes={a}-{a + n - 1}"})
    if a >= len(data):
        assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(data)}"
    else:
        assert r.status_code == 206 and r.content == data[a : a + n]


@pytest.mark.parametrize("header", ["bytes=999999999-", "bytes=-0", "bytes=" + "9" * 40 + "-"])
def test_unsatisfiable_range_is_416_json(client: Any, web: WebArchive, header: str) -> None:
    r = client.get(f"/api/files/{web.awakening_file}/audio", headers={"Range": header})
    assert r.status_code == 416 and "not satisfiable" in r.json()["error"]
    assert r.headers["content-range"].startswith("bytes */")


@pytest.mark.parametrize("header", ["bytes=0-1,5-9", "items=0-5", "bytes=abc", "bytes=9-1", "bytes=-", "bytes=٣-٤"])
def test_ranges_not_understood_send_the_whole_file(client: Any, web: WebArchive, header: str) -> None:
    data = web.store_file(web.awakening_file).read_bytes()
    r = client.get(f"/api/files/{web.awakening_file}/audio", headers={"Range": header.encode("utf-8")})
    assert r.status_code == 200 and r.content == data


def test_if_range_and_if_none_match(client: Any, web: WebArchive) -> None:
    url = f"/api/files/{web.awakening_file}/audio"
    etag = client.head(url).headers["etag"]
    assert client.get(url, headers={"Range": "bytes=0-9", "If-Range": etag}).status_code == 206
    stale = client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"0000"'})
    assert stale.status_code == 200 and len(stale.content) > 10
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304


def test_content_type_follows_the_extension(client: Any, web: WebArchive) -> None:
    t = client.get(f"/api/tracks/{web.deprecation}").json()
    opus = next(f for f in t["files"] if f["role"] == "reencode")
    r = client.head(f"/api/files/{opus['id']}/audio")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/ogg"  # Ogg Opus
    wav = client.get("/api/search?q=rmoney").json()["results"]
    if wav:
        f = client.get(f"/api/tracks/{wav[0]['id']}").json()["files"][0]
        assert f["content_type"] == "audio/wav"
        assert client.head(f"/api/files/{f['id']}/audio").headers["content-type"] == "audio/wav"


def test_excluded_track_has_no_audio(client: Any, web: WebArchive) -> None:
    r = client.get(f"/api/tracks/{web.chaos_god}/audio")
    assert r.status_code == 451 and EXCLUDED_REASON in r.json()["error"]
    assert not r.headers["content-type"].startswith("audio/")
    # by file id too: the original, and the tagged copy the release ships
    assert client.get(f"/api/files/{web.chaos_god_file}/audio", headers={"Range": "bytes=0-9"}).status_code == 451
    shipped = client.get(f"/api/tracks/{web.chaos_god}").json()["files"]
    for f in shipped:
        assert client.get(f"/api/files/{f['id']}/audio").status_code == 451, f


def test_unknown_or_unheld_audio(client: Any, web: WebArchive) -> None:
    assert client.get("/api/files/999999/audio").status_code == 404
    r = client.get(f"/api/tracks/{web.pending}/audio")
    assert r.status_code == 404 and "holds no file" in r.json()["error"]


# -- the parser alone -------------------------------------------------------------------------


@given(size=st.integers(1, 10**12), a=st.integers(0, 10**13), n=st.integers(1, 10**13))
def test_parse_range_closed(size: int, a: int, n: int) -> None:
    b = a + n - 1
    if a >= size:
        with pytest.raises(RangeError):
            parse_range(f"bytes={a}-{b}", size)
    else:
        assert parse_range(f"bytes={a}-{b}", size) == (a, min(b, size - 1))
        assert parse_range(f"bytes={a}-", size) == (a, size - 1)


@given(size=st.integers(1, 10**12), n=st.integers(1, 10**13))
def test_parse_range_suffix(size: int, n: int) -> None:
    assert parse_range(f"bytes=-{n}", size) == (max(0, size - n), size - 1)


@given(st.text(max_size=60))
def test_parse_range_never_crashes(header: str) -> None:
    try:
        got = parse_range(header, 1000)
    except RangeError:
        return
    assert got is None or (0 <= got[0] <= got[1] < 1000)


def test_a_file_missing_from_the_store(own_web: WebArchive) -> None:
    import warnings

    from phonotheque.web import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    own_web.store_file(own_web.awakening_file).unlink()
    with TestClient(create_app(own_web.root), raise_server_exceptions=True) as c:
        r = c.get(f"/api/files/{own_web.awakening_file}/audio")
        assert r.status_code == 404 and "missing from the store" in r.json()["error"]
        assert c.get(f"/tracks/{own_web.awakening}").status_code == 200  # the page still shows the metadata
