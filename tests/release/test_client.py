"""A real BitTorrent client (libtorrent 2.x) checks, seeds and downloads what `package` made, on loopback."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import libtorrent as lt
import pyarrow.parquet as pq
import pytest

from phonotheque.archive import Archive
from phonotheque.release.package import package

pytestmark = pytest.mark.filterwarnings("ignore:files\\(\\) is deprecated:DeprecationWarning")

SETTINGS: lt.settings_pack = {
    "listen_interfaces": "127.0.0.1:0",
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "allow_multiple_connections_per_ip": True,
    "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
    "outgoing_interfaces": "127.0.0.1",
}


def _session() -> Any:
    return lt.session(SETTINGS)


def _wait(what: str, cond: Callable[[], bool], ses: Any, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        ses.pop_alerts()
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _add(ses: Any, torrent: Path, save: Path, **kw: Any) -> Any:
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(str(torrent))
    atp.save_path = str(save)
    for k, v in kw.items():
        setattr(atp, k, v)
    return ses.add_torrent(atp)


def _flushed(ses: Any, h: Any, pairs: list[tuple[Path, Path]]) -> None:
    """libtorrent writes pieces to disk asynchronously: flush and wait until the bytes are there."""
    h.flush_cache()
    _wait("data on disk", lambda: all(b.exists() and b.stat().st_size == a.stat().st_size and
                                      b.read_bytes() == a.read_bytes() for a, b in pairs), ses, timeout=30)


def _checked(h: Any) -> bool:
    s = h.status()
    return s.state not in (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data,
                           lt.torrent_status.allocating) and s.has_metadata


@pytest.fixture
def released(sample_archive: Archive) -> tuple[Archive, dict[str, Any]]:
    package(sample_archive, release="r", target_size="150KB")
    doc = json.loads((sample_archive.releases_dir / "r" / "torrents.json").read_text())
    return sample_archive, doc


def test_every_torrent_checks_100_percent_on_its_seeding_tree(released: tuple[Archive, dict[str, Any]]) -> None:
    archive, doc = released
    rel = archive.releases_dir / "r"
    ses = _session()
    handles = {t["name"]: _add(ses, rel / t["torrent"], rel / "data") for t in doc["torrents"]}
    _wait("all seeding", lambda: all(h.status().is_seeding for h in handles.values()), ses)
    for t in doc["torrents"]:
        s = handles[t["name"]].status()
        assert s.progress == 1.0 and s.state == lt.torrent_status.seeding, t["name"]
        ih = handles[t["name"]].info_hashes()
        assert str(ih.v1) == t["infohash_v1"] and str(ih.v2) == t["infohash_v2"]


def _first_audio(doc: dict[str, Any]) -> dict[str, Any]:
    return next(t for t in doc["torrents"] if t["kind"] == "audio" and t["file_count"] > 1)


def test_a_second_client_downloads_whole_torrent_and_one_single_file(released: tuple[Archive, dict[str, Any]],
                                                                     tmp_path: Path) -> None:
    archive, doc = released
    rel = archive.releases_dir / "r"
    t = _first_audio(doc)
    seeder, leecher = _session(), _session()
    hs = _add(seeder, rel / t["torrent"], rel / "data")
    _wait("seeder ready", lambda: hs.status().is_seeding, seeder)
    port = seeder.listen_port()

    whole = tmp_path / "whole"
    hl = _add(leecher, rel / t["torrent"], whole)
    _wait("leecher checked", lambda: _checked(hl), leecher)
    hl.connect_peer(("127.0.0.1", port))
    _wait("whole download", lambda: hl.status().is_seeding, leecher)
    src_root, dst_root = rel / "data" / t["name"], whole / t["name"]
    files = sorted(p.relative_to(src_root) for p in src_root.rglob("*") if p.is_file())
    _flushed(leecher, hl, [(src_root / f, dst_root / f) for f in files])
    assert files == sorted(p.relative_to(dst_root) for p in dst_root.rglob("*") if p.is_file() and ".pad" not in p.parts)
    for f in files:
        assert (src_root / f).read_bytes() == (dst_root / f).read_bytes()

    # one single file, chosen by file priorities, is fetched and verified on its own
    one = tmp_path / "one"
    ti = lt.torrent_info(str(rel / t["torrent"]))
    fs = ti.files()
    real = [i for i in range(fs.num_files()) if not fs.file_flags(i) & lt.file_storage.flag_pad_file]
    pick = real[-1]
    prio = [0] * fs.num_files()
    prio[pick] = 4
    picker = _session()  # a fresh client: a session holds one handle per infohash
    h1 = _add(picker, rel / t["torrent"], one, file_priorities=prio)
    _wait("one-file checked", lambda: _checked(h1), picker)
    h1.connect_peer(("127.0.0.1", port))
    _wait("one file finished", lambda: h1.status().is_finished, picker)
    got = one / fs.file_path(pick)
    _flushed(picker, h1, [(rel / "data" / fs.file_path(pick), got)])
    assert got.read_bytes() == (rel / "data" / fs.file_path(pick)).read_bytes()
    assert h1.file_progress()[pick] == fs.file_size(pick)
    others = [i for i in real if i != pick]
    assert all(h1.file_progress()[i] == 0 for i in others)
    assert all(not (one / fs.file_path(i)).exists() for i in others), "no other file's bytes were written"
    # the pieces fetched and verified are exactly the chosen file's pieces to the chosen file were fetched: verified ones = exactly that file's pieces
    first = fs.file_offset(pick) // ti.piece_length()
    last = (fs.file_offset(pick) + fs.file_size(pick) - 1) // ti.piece_length()
    have = [i for i, ok in enumerate(h1.status().pieces) if ok]
    assert have == list(range(first, last + 1))


def test_one_flipped_byte_fails_exactly_its_piece(released: tuple[Archive, dict[str, Any]], tmp_path: Path) -> None:
    archive, doc = released
    rel = archive.releases_dir / "r"
    t = _first_audio(doc)
    copy = tmp_path / "mirror"
    shutil.copytree(rel / "data" / t["name"], copy / t["name"])  # a copy: never flip bytes in the store
    rows = [r for r in pq.read_table(rel / "index" / "files.parquet").to_pylist() if r["torrent"] == t["name"]]
    target = max(rows, key=lambda r: r["size"])
    pos = target["size"] // 2 + 7
    path = copy / t["name"] / target["path"]
    data = bytearray(path.read_bytes())
    data[pos] ^= 0xFF
    path.write_bytes(bytes(data))
    expected_bad = (target["offset"] + pos) // t["piece_size"]   # computed from the index, not from libtorrent

    ses = _session()
    h = _add(ses, rel / t["torrent"], copy)
    _wait("check", lambda: _checked(h), ses)
    pieces = h.status().pieces
    bad = [i for i, ok in enumerate(pieces) if not ok]
    assert bad == [expected_bad]
    ti = lt.torrent_info(str(rel / t["torrent"]))
    fs = ti.files()
    owner = [i for i in range(fs.num_files())
             if fs.file_offset(i) <= expected_bad * ti.piece_length() < fs.file_offset(i) + fs.file_size(i)]
    assert [fs.file_path(i) for i in owner] == [f"{t['name']}/{target['path']}"]
