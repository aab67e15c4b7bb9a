"""transcode(archive) and tag(archive) over a real archive database, resumability, kill -9."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import mutagen
import orjson
import pytest
from click.testing import CliRunner
from mutagen.oggopus import OggOpus

from phonotheque.archive import Archive
from phonotheque.cli.main import cli
from phonotheque.store.patch import restore
from phonotheque.store.tagging import tag
from phonotheque.store.transcode import transcode


@pytest.fixture
def archive(tmp_path: Path, media: dict[str, Path], make_archive: Any) -> Archive:
    a = make_archive(tmp_path / "arch", [
        ("Long Tail", [("reencode", media["flac16"]), ("reencode", media["mono22"]), ("reencode", media["surround"]),
                       ("reencode", media["garbage"]), ("reencode", None)]),
        ("Popular", [("original", media["mp3"]), ("original", media["vorbis"]), ("original", media["mod"]),
                     ("original", media["flac24"]), ("skip", media["wav"])]),
    ])
    assert isinstance(a, Archive)
    return a


def test_transcode_run(archive: Archive) -> None:
    s = transcode(archive, workers=2)
    assert (s.planned, s.succeeded, s.failed, s.missing_original, s.done_before) == (5, 3, 1, 1, 0)
    assert s.problems[0].track_id == 4 and s.problems[0].status.startswith("error")
    conn = archive.conn
    rows = conn.execute(
        "SELECT tf.track_id, f.* FROM track_files tf JOIN files f ON f.id = tf.file_id WHERE tf.role='reencode' "
        "ORDER BY tf.track_id").fetchall()
    assert [r["track_id"] for r in rows] == [1, 2, 3]
    gains: set[str] = set()
    for r in rows:
        path = archive.root / r["store_path"]
        data = path.read_bytes()
        assert r["store_path"] == f"store/{r['sha256'][:2]}/{r['sha256'][2:4]}/{r['sha256']}.opus"
        assert hashlib.sha256(data).hexdigest() == r["sha256"] and len(data) == r["size"]
        assert r["tier"] == "reencode" and r["codec"] == "opus" and r["sample_rate"] == 48000
        assert r["derived_from"] is not None and r["reencoded_kbit"] > 0 and len(r["v1_pieces"]) % 20 == 0
        tags = OggOpus(path).tags
        assert tags is not None
        assert tags["ALBUM"] == ["Long Tail"] and tags["PHONOTHEQUE_TRACKID"] == [str(r["track_id"])]
        assert tags["PHONOTHEQUE_URL"] == [f"https://arch.example/track/{r['track_id']}"]
        assert int(tags["R128_TRACK_GAIN"][0]) == round((-23 - r["loudness_lufs"]) * 256)
        gains.add(tags["R128_ALBUM_GAIN"][0])
        assert orjson.loads(r["tags"])["R128_ALBUM_GAIN"] == tags["R128_ALBUM_GAIN"]
    assert len(gains) == 1  # one album gain for the album
    assert [r["channels"] for r in rows] == [2, 1, 2]
    orig = conn.execute("SELECT loudness_lufs FROM files WHERE id=?", (rows[0]["derived_from"],)).fetchone()
    assert orig[0] == pytest.approx(rows[0]["loudness_lufs"])
    log = conn.execute("SELECT status, reason FROM media_log WHERE step='transcode' AND track_id=4").fetchone()
    assert log["status"].startswith("error") and log["reason"]
    # resumable: a second run redoes nothing that succeeded, retries the failure
    again = transcode(archive, workers=1)
    assert (again.done_before, again.succeeded, again.failed) == (3, 0, 1)
    assert conn.execute("SELECT COUNT(*) FROM files WHERE tier='reencode'").fetchone()[0] == 3
    assert not list((archive.root / "store" / "tmp").glob("*.part"))


def test_tag_run_and_restore(archive: Archive, tmp_path: Path) -> None:
    s = tag(archive, workers=2)
    assert (s.planned, s.succeeded, s.failed) == (4, 3, 1)
    assert s.problems[0].status == "error_unsupported" and s.problems[0].path.endswith(".mod")
    conn = archive.conn
    rows = conn.execute(
        "SELECT g.track_id, o.sha256 AS osha, o.store_path AS opath, o.sha256_with_embedded_meta AS meta_sha, "
        "t.sha256 AS tsha, t.store_path AS tpath, t.tier, t.derived_from, p.path AS ppath, p.size AS psize "
        "FROM tagged_files g JOIN files o ON o.id = g.original_file_id JOIN files t ON t.id = g.tagged_file_id "
        "JOIN patches p ON p.tagged_file_id = t.id ORDER BY g.track_id").fetchall()
    assert [r["track_id"] for r in rows] == [6, 7, 9]
    for r in rows:
        assert r["meta_sha"] == r["tsha"] and r["tier"] == "original"
        assert (archive.root / r["ppath"]).name == f"{r['tsha']}.zstdpatch"
        assert 0 < r["psize"] < 20000
        tagged = (archive.root / r["tpath"]).read_bytes()
        assert hashlib.sha256(tagged).hexdigest() == r["tsha"]
        # the original in the store is untouched
        assert hashlib.sha256((archive.root / r["opath"]).read_bytes()).hexdigest() == r["osha"]
    # the tags come from the catalog rows (build_archive): track 7 is track 2 of album 2 "Popular"
    vorbis = mutagen.File(archive.root / rows[1]["tpath"])
    assert vorbis is not None and vorbis.tags is not None
    t = vorbis.tags
    assert t["TITLE"] == ["Popular track 2"] and t["ARTIST"] == ["Artist One"] and t["ALBUMARTIST"] == ["Artist One"]
    assert t["ALBUM"] == ["Popular"] and t["DATE"] == ["2001-02-03"] and t["BARCODE"] == ["0123456789012"]
    assert t["TRACKNUMBER"] == ["2"] and t["TOTALTRACKS"] == ["5"] and t["ISRC"] == ["XX0000000007"]
    assert t["MUSICBRAINZ_TRACKID"] == ["bbbbbbbb-0000-0000-0000-000000000007"]
    assert t["MUSICBRAINZ_ALBUMID"] == ["aaaaaaaa-0000-0000-0000-000000000002"]
    assert t["MUSICBRAINZ_ARTISTID"] == ["11111111-1111-1111-1111-111111111111"]
    assert t["LICENSE"] == ["CC-BY-4.0"] and t["PHONOTHEQUE_URL"] == ["https://arch.example/track/7"]
    gain = float(t["REPLAYGAIN_TRACK_GAIN"][0].split()[0])
    assert -40 < gain < 40 and "REPLAYGAIN_ALBUM_GAIN" in t
    # restore through the archive: tagged copies -> exact originals
    out = tmp_path / "restored"
    res = restore([archive.root / r["tpath"] for r in rows], archive=archive, out=out)
    assert [i.status for i in res.items] == ["restored"] * 3
    for r in rows:
        assert hashlib.sha256((out / Path(r["tpath"]).name).read_bytes()).hexdigest() == r["osha"]
    # and an original given to restore is recognised as such
    res = restore([archive.root / rows[0]["opath"]], archive=archive, out=out)
    assert res.items[0].status == "already_original"
    again = tag(archive, workers=1)
    assert (again.done_before, again.succeeded, again.failed) == (3, 0, 1)


def test_cli_transcode_and_tag(archive: Archive) -> None:
    r = CliRunner().invoke(cli, ["transcode", "-A", str(archive.root), "--json", "--workers", "1"])
    assert r.exit_code == 1  # one track could not be transcoded
    d = orjson.loads(r.stdout)
    assert d["succeeded"] == 3 and d["problems"][0]["track_id"] == 4
    r = CliRunner().invoke(cli, ["tag", "-A", str(archive.root), "--workers", "1"])
    assert r.exit_code == 1 and "3 tagged" in r.stdout and "error_unsupported" in r.stdout


def _state(root: Path) -> set[tuple[int, str]]:
    with sqlite3.connect(root / "catalog.sqlite") as c:
        return set(c.execute("SELECT tf.track_id, f.sha256 FROM track_files tf JOIN files f ON f.id=tf.file_id "
                             "WHERE tf.role='reencode'"))


def test_kill_minus_9_then_rerun_equals_a_clean_run(tmp_path: Path, media: dict[str, Path], make_archive: Any) -> None:
    albums = [(f"Album {i}", [("reencode", media["flac16"]), ("reencode", media["mono22"])]) for i in range(6)]
    killed = make_archive(tmp_path / "killed", albums)
    clean = make_archive(tmp_path / "clean", albums)
    assert isinstance(killed, Archive) and isinstance(clean, Archive)
    killed.close()
    cmd = [sys.executable, "-m", "phonotheque.cli.main", "transcode", "-A", str(killed.root), "--workers", "2"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    done = 0
    while time.monotonic() < deadline:
        time.sleep(0.05)
        done = len(_state(killed.root))
        if done >= 2:
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 2 <= done < 12, "the run should be killed midway"
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    transcode(clean, workers=2)
    assert _state(killed.root) == _state(clean.root)
    assert len(_state(clean.root)) == 12
    assert not list((killed.root / "store" / "tmp").glob("*.part"))
    with sqlite3.connect(killed.root / "catalog.sqlite") as c:
        known = {r[0] for r in c.execute("SELECT store_path FROM files")}
    on_disk = {p.relative_to(killed.root).as_posix() for p in (killed.root / "store").rglob("*")
               if p.is_file() and p.parent.name != "tmp"}
    assert on_disk == known  # no orphan and no missing file


def test_a_patch_that_does_not_reproduce_is_never_stored(archive: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulate a zstd fault (the one fault we cannot cause for real): the rebuilt bytes differ."""
    from phonotheque.store import patch as patch_mod

    real = patch_mod.apply_patch

    def corrupting(tagged: bytes, patch: bytes, *, where: str = "patch") -> bytes:
        out = real(tagged, patch, where=where)
        return out[:-1] + bytes([out[-1] ^ 1])

    monkeypatch.setattr(patch_mod, "apply_patch", corrupting)
    s = tag(archive, workers=1)
    assert s.succeeded == 0 and s.failed == 4
    assert {p.status for p in s.problems} == {"error_patch", "error_unsupported"}
    assert all("does not reproduce" in p.reason and p.path.startswith(str(archive.root)) for p in s.problems
               if p.status == "error_patch")
    conn = archive.conn
    assert conn.execute("SELECT COUNT(*) FROM patches").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM files WHERE derived_from IS NOT NULL").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM files WHERE sha256_with_embedded_meta IS NOT NULL").fetchone()[0] == 0
    assert not (archive.store_dir / "patches").exists() or not list((archive.store_dir / "patches").iterdir())
    assert not list((archive.root / "store" / "tmp").glob("*.part"))
