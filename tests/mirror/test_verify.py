"""verify on real libtorrent releases: full and partial mirrors, corruption, renames, quick mode."""

from __future__ import annotations

import random
import shutil
import time
import unicodedata
from pathlib import Path

import libtorrent as lt
import pytest
from mirror_kit import PIECE, BuiltRelease, TorrentSpec, build_release, standard_specs, track_ids

from phonotheque.mirror.verify import VerifyReport, summary_lines, verify

BIG = "09 track.ogg"  # 7 * PIECE - 5 bytes in standard_specs(files=10) (index 9 of the size list)


def findings(report: VerifyReport) -> dict[str, object]:
    return {p.mirror_path: p for t in report.torrents for p in t.problems}


def flip(path: Path, positions: list[int]) -> None:
    data = bytearray(path.read_bytes())
    for pos in positions:
        data[pos] ^= 0xFF
    path.write_bytes(bytes(data))


def test_full_mirror_is_intact_and_preserves_every_listen(release: BuiltRelease) -> None:
    rep = verify(release.mirror_dir, torrent_list=release.torrent_list, workers=2)
    assert rep.ok and rep.exit_code == 0
    assert rep.counts() == {"complete": 4}
    n_files = sum(len(s.files) for s in release.specs)
    assert rep.files_ok == rep.files_present == rep.files_total == n_files
    assert rep.bytes_ok == sum(len(d) for s in release.specs for d in s.files.values())
    assert rep.bytes_read == rep.bytes_ok  # each byte read exactly once
    assert rep.tracks_preserved == rep.tracks_total == len(release.track_listens())
    assert rep.listens_share == pytest.approx(1.0)
    assert rep.extra == [] and rep.warnings == []


@pytest.mark.parametrize("version", ["hybrid", "v1", "v2"])
def test_corruption_is_found_in_exactly_the_pieces_hit(tmp_path: Path, version: str) -> None:
    rel = build_release(tmp_path, standard_specs(torrents=1, files=10), version=version)
    name = rel.specs[0].name
    size = len(rel.specs[0].files[BIG])
    rng = random.Random(version)
    positions = sorted(rng.sample(range(size), 3))
    flip(rel.mirror_dir / name / BIG, positions)
    rep = verify(rel.mirror_dir, torrent_list=rel.torrent_list, workers=2)
    f = findings(rep)[f"{name}/{BIG}"]
    assert f.status == "corrupt"  # type: ignore[attr-defined]
    assert f.bad_pieces == sorted({p // PIECE for p in positions})  # type: ignore[attr-defined]
    # v1-only torrents are judged by SHA-1 pieces plus the index's SHA-256; v2 roots need no whole-file hash
    assert ("sha256 differs" in f.reason) == (version == "v1")  # type: ignore[attr-defined]
    assert not rep.ok and rep.exit_code == 1
    assert rep.files_ok == rep.files_total - 1
    # --sha256 compares every file's whole SHA-256 with the index as well
    rep2 = verify(rel.mirror_dir, torrent_list=rel.torrent_list, workers=2, sha256=True)
    f2 = findings(rep2)[f"{name}/{BIG}"]
    assert "sha256 differs" in f2.reason and "sha256" in f2.checked  # type: ignore[attr-defined]
    assert rep2.files_ok == rep.files_ok


def _libtorrent_bad_pieces(torrent: Path, save_path: Path) -> set[tuple[str, int]]:
    """(file path, piece index within the file) that libtorrent's own recheck finds bad."""
    ses = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                      "enable_upnp": False, "enable_natpmp": False})
    ti = lt.torrent_info(str(torrent))
    p = lt.add_torrent_params()
    p.ti = ti
    p.save_path = str(save_path)
    h = ses.add_torrent(p)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        s = h.status()
        if s.state in (lt.torrent_status.seeding, lt.torrent_status.downloading, lt.torrent_status.finished):
            break
        time.sleep(0.05)
    fs = ti.layout() if hasattr(ti, "layout") else ti.files()
    bad = set()
    for piece, have in enumerate(s.pieces):
        if not have:
            i = fs.file_index_at_piece(piece)
            first = fs.file_offset(i) // ti.piece_length()
            bad.add((fs.file_path(i).replace("\\", "/"), piece - first))
    ses.remove_torrent(h)
    return bad


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_bad_pieces_agree_with_libtorrent_recheck(tmp_path: Path) -> None:
    rel = build_release(tmp_path, standard_specs(torrents=1, files=10))
    name = rel.specs[0].name
    rng = random.Random(3)
    for path, data in rel.specs[0].files.items():
        if rng.random() < 0.6:
            flip(rel.mirror_dir / name / path, [rng.randrange(len(data))])
    rep = verify(rel.mirror_dir, torrent_list=rel.torrent_list, workers=2)
    ours = {(p.mirror_path, i) for t in rep.torrents for p in t.problems for i in p.bad_pieces}
    copy = tmp_path / "copy"
    shutil.copytree(rel.mirror_dir, copy)
    theirs = _libtorrent_bad_pieces(rel.release_dir / "torrents" / f"{name}.torrent", copy)
    assert ours and ours == theirs


def test_partial_mirror_reports_what_it_holds(release: BuiltRelease) -> None:
    specs = release.specs
    shutil.rmtree(release.mirror_dir / specs[1].name)
    shutil.rmtree(release.mirror_dir / specs[3].name)
    gone = sorted(specs[2].files)[:2]
    for p in gone:
        (release.mirror_dir / specs[2].name / p).unlink()
    rep = verify(release.mirror_dir, torrent_list=release.torrent_list)
    states = {t.name: t.state for t in rep.torrents}
    assert states == {specs[0].name: "complete", specs[1].name: "not_held", specs[2].name: "partial",
                      specs[3].name: "not_held"}
    by = {t.name: t for t in rep.torrents}
    assert sorted(by[specs[2].name].missing) == gone
    assert by[specs[1].name].missing == [] and by[specs[1].name].problems == []
    assert rep.ok and rep.exit_code == 0  # everything present is intact
    # what it preserves, from the fixture's own listens (independent of verify's index reading)
    truth = release.track_listens()
    kept = [(specs[0].name, p) for p in specs[0].files] + [(specs[2].name, p) for p in specs[2].files if p not in gone]
    kept_tracks = {tid for t, p in kept for tid in track_ids(t, p)}
    assert rep.tracks_preserved == len(kept_tracks)
    assert rep.listens_share == pytest.approx(sum(truth[t] for t in kept_tracks) / sum(truth.values()))
    assert rep.bytes_ok == sum(len(specs[0].files[p]) for p in specs[0].files) + sum(
        len(specs[2].files[p]) for p in specs[2].files if p not in gone)
    text = "\n".join(summary_lines(rep))
    assert "not held: 2 torrents" in text and f"missing from {specs[2].name}: 2 of 6 files" in text


def test_size_problems_extra_files_and_renames(release: BuiltRelease) -> None:
    m = release.mirror_dir
    a, b = release.specs[0], release.specs[1]
    paths = sorted(a.files, key=lambda p: len(a.files[p]))
    longest = paths[-1]
    with open(m / a.name / longest, "r+b") as fh:
        fh.truncate(len(a.files[longest]) - 100)
    with open(m / a.name / paths[-2], "ab") as fh:
        fh.write(b"tail")
    (m / a.name / "cover.jpg").write_bytes(b"not in the torrent")
    (m / "notes.txt").write_text("mine")
    victim = sorted(b.files)[0]
    (m / b.name / victim).rename(m / b.name / victim.upper())
    rep = verify(m, torrent_list=release.torrent_list)
    f = findings(rep)
    assert f[f"{a.name}/{longest}"].status == "truncated"  # type: ignore[attr-defined]
    assert f[f"{a.name}/{paths[-2]}"].status == "too_long"  # type: ignore[attr-defined]
    ren = f[f"{b.name}/{victim}"]
    assert (ren.status, ren.renamed, ren.actual_path) == ("ok", "case", f"{b.name}/{victim.upper()}")  # type: ignore[attr-defined]
    assert rep.extra == sorted([f"{a.name}/cover.jpg", "notes.txt"])
    assert not rep.ok


def test_unicode_normalization_rename_is_recognised(tmp_path: Path) -> None:
    name = "Café Müller – Ça ira.ogg"
    rel = build_release(tmp_path, [TorrentSpec("T", {f"Björk/{name}": b"x" * 70000, "plain.ogg": b"y" * 10},
                                               listens={f"Björk/{name}": 5.0, "plain.ogg": 1.0})])
    src = rel.mirror_dir / "T" / "Björk"
    nfd_dir = rel.mirror_dir / "T" / unicodedata.normalize("NFD", "Björk")
    src.rename(nfd_dir)
    (nfd_dir / name).rename(nfd_dir / unicodedata.normalize("NFD", name))
    rep = verify(rel.mirror_dir, torrent_list=rel.torrent_list)
    f = findings(rep)[f"T/Björk/{name}"]
    assert (f.status, f.renamed) == ("ok", "unicode")  # type: ignore[attr-defined]
    assert rep.ok and rep.files_ok == 2 and rep.extra == []


def test_quick_mode_samples_pieces_and_checks_sizes(tmp_path: Path) -> None:
    rel = build_release(tmp_path, standard_specs(torrents=1, files=10))
    name = rel.specs[0].name
    target = rel.mirror_dir / name / BIG  # 7 pieces: quick samples 0, 6 and one more
    from phonotheque.mirror.check import sample_pieces

    sampled = sample_pieces(f"{name}/{BIG}", 7)
    unsampled = next(i for i in range(7) if i not in sampled)
    flip(target, [unsampled * PIECE + 5])
    full = verify(rel.mirror_dir, torrent_list=rel.torrent_list, workers=1)
    quick = verify(rel.mirror_dir, torrent_list=rel.torrent_list, quick=True, workers=1)
    assert findings(full)[f"{name}/{BIG}"].bad_pieces == [unsampled]  # type: ignore[attr-defined]
    assert quick.ok  # a piece quick mode does not sample is not read
    assert quick.bytes_read < full.bytes_read
    flip(target, [unsampled * PIECE + 5, sampled[1] * PIECE + 9])
    quick = verify(rel.mirror_dir, torrent_list=rel.torrent_list, quick=True)
    assert findings(quick)[f"{name}/{BIG}"].bad_pieces == [sampled[1]]  # type: ignore[attr-defined]
    other = sorted(rel.specs[0].files)[0]
    with open(rel.mirror_dir / name / other, "ab") as fh:
        fh.write(b"!")
    quick = verify(rel.mirror_dir, torrent_list=rel.torrent_list, quick=True)
    assert findings(quick)[f"{name}/{other}"].status == "too_long"  # type: ignore[attr-defined]


def test_one_or_two_workers_give_the_same_report_and_progress_counts_bytes(release: BuiltRelease) -> None:
    flip(release.mirror_dir / release.specs[2].name / sorted(release.specs[2].files)[0], [0])
    calls: list[tuple[float, float | None]] = []

    def progress(n: float = 0, total: float | None = None) -> None:
        calls.append((n, total))

    one = verify(release.mirror_dir, torrent_list=release.torrent_list, workers=1).to_dict()
    two = verify(release.mirror_dir, torrent_list=release.torrent_list, workers=2, progress=progress).to_dict()
    one.pop("seconds")
    two.pop("seconds")
    assert one == two and not one["ok"]
    totals = [t for _, t in calls if t is not None]
    assert totals == [two["bytes_read"]] and sum(n for n, _ in calls) == two["bytes_read"]


def test_without_a_file_index_verify_uses_the_torrents_and_the_list(tmp_path: Path) -> None:
    rel = build_release(tmp_path, standard_specs(torrents=2, files=3), with_index=False)
    shutil.rmtree(rel.mirror_dir / rel.specs[1].name)
    rep = verify(rel.mirror_dir, torrent_list=rel.torrent_list)
    assert rep.ok and rep.index is None and "no file index" in rep.warnings[0]
    assert rep.listens_source == "torrent list"
    assert rep.listens_share == pytest.approx(rel.entries[0]["listens_share"])


def test_missing_torrent_file_falls_back_to_the_index_sha256(release: BuiltRelease) -> None:
    a = release.specs[0]
    (release.release_dir / "torrents" / f"{a.name}.torrent").unlink()
    victim = sorted(a.files)[-1]
    flip(release.mirror_dir / a.name / victim, [1])
    rep = verify(release.mirror_dir, torrent_list=release.torrent_list)
    assert any("torrent file is missing" in w for w in rep.warnings)
    f = findings(rep)[f"{a.name}/{victim}"]
    assert f.status == "corrupt" and f.checked == "sha256"  # type: ignore[attr-defined]
    assert next(t for t in rep.torrents if t.name == a.name).files_ok == len(a.files) - 1


def test_unaligned_v1_torrent_is_judged_by_the_index_sha256(tmp_path: Path) -> None:
    files = {"a.ogg": b"a" * 70_001, "b.ogg": b"b" * 30_000, "c.ogg": b"c" * 5}
    rel = build_release(tmp_path, [TorrentSpec("T", files, listens={p: 1.0 for p in files})], version="v1-unaligned")
    from phonotheque.mirror.artifacts import load_torrent_list

    meta = load_torrent_list(rel.torrent_list).torrents[0].meta
    assert meta is not None and all(f.v1_pieces is None for f in meta.files)  # pieces span files
    rep = verify(rel.mirror_dir, torrent_list=rel.torrent_list, workers=1)
    assert rep.ok and rep.files_ok == 3
    flip(rel.mirror_dir / "T" / "b.ogg", [7])
    rep = verify(rel.mirror_dir, torrent_list=rel.torrent_list, workers=1)
    f = findings(rep)["T/b.ogg"]
    assert (f.status, f.checked, f.reason) == ("corrupt", "sha256", "sha256 differs from the file index")  # type: ignore[attr-defined]
    for p in (rel.release_dir / "index").iterdir():
        p.unlink()
    rep = verify(rel.mirror_dir, torrent_list=rel.torrent_list, workers=1)
    assert findings(rep)["T/b.ogg"].status == "unverified" and not rep.ok  # type: ignore[attr-defined]


def test_parquet_and_csv_index_give_the_same_report(release: BuiltRelease) -> None:
    flip(release.mirror_dir / release.specs[1].name / sorted(release.specs[1].files)[-1], [3])
    shutil.rmtree(release.mirror_dir / release.specs[3].name)
    both = verify(release.mirror_dir, torrent_list=release.torrent_list).to_dict()
    index = release.release_dir / "index"
    csv_bytes = (index / "files.csv.zst").read_bytes()
    (index / "files.csv.zst").unlink()
    parquet_only = verify(release.mirror_dir, torrent_list=release.torrent_list).to_dict()
    (index / "files.csv.zst").write_bytes(csv_bytes)
    (index / "files.parquet").unlink()
    csv_only = verify(release.mirror_dir, torrent_list=release.torrent_list).to_dict()
    for d in (both, parquet_only, csv_only):
        d.pop("seconds")
        d.pop("index")
    assert both == parquet_only == csv_only
    assert both["tracks_preserved"] < both["tracks_total"] and not both["ok"]


def test_a_damaged_index_is_a_clear_error(release: BuiltRelease) -> None:
    from phonotheque.errors import MirrorError

    (release.release_dir / "index" / "files.csv.zst").write_bytes(b"not zstd")
    with pytest.raises(MirrorError, match="files.csv.zst: cannot read the file index"):
        verify(release.mirror_dir, torrent_list=release.torrent_list)
