"""CSV/TSV with a mapping: messy spreadsheets are handled or reported, and rows round-trip."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
import pytest

from phonotheque.archive import Archive
from phonotheque.catalog.importers import import_source
from phonotheque.catalog.importers.csv import load_mapping
from phonotheque.catalog.remainder import same
from phonotheque.catalog.roundtrip import export_source, iter_source
from phonotheque.errors import ImportFormatError

IMPORT = Path(__file__).resolve().parent.parent / "data" / "import"


def _rows(path: Path, encoding: str, delimiter: str) -> list[dict]:
    """The file's rows read independently with the stdlib (what the export must give back)."""
    return list(csv.DictReader(io.StringIO(path.read_text(encoding=encoding), newline=""), delimiter=delimiter))


def test_messy_spreadsheet(archive: Archive) -> None:
    res = import_source(archive, IMPORT / "library.csv", format="csv", mapping=IMPORT / "library.toml")
    c = archive.conn
    assert (res.inserted, res.duplicates, res.rejected, res.warnings) == (4, 1, 4, 2)
    # BOM stripped from the first header, thousands separators, m:ss durations, dd/mm/yyyy dates, a;b artists
    r1 = c.execute("SELECT t.name, t.listens, t.duration_ms, t.explicit, a.release_date, r.isrc FROM tracks t "
                   "JOIN albums a ON a.id=t.album_id JOIN recordings r ON r.id=t.recording_id "
                   "WHERE t.source_key='r1'").fetchone()
    assert tuple(r1) == ("Hello", 1234567, 295000, 0, "2015-11-20", "GBBKS1500214")
    assert [r[0] for r in c.execute(
        "SELECT ar.name FROM track_artists ta JOIN artists ar ON ar.id=ta.artist_id JOIN tracks t ON t.id=ta.track_id "
        "WHERE t.source_key='r2' ORDER BY ta.position")] == ["Artist A", "Artist B"]
    # empty cells are NULL, not 0 or ""
    r3 = c.execute("SELECT listens, explicit, album_id FROM tracks WHERE source_key='r3'").fetchone()
    assert tuple(r3) == (None, None, None)
    reasons = {r[0]: r[1] for r in c.execute("SELECT line, reason FROM import_rejects WHERE reason NOT LIKE 'warning:%'")}
    assert sorted(reasons) == [7, 8, 9, 10]
    assert "'name'" in reasons[7] and "not a number" in reasons[8] and "date" in reasons[9] and "yes/no" in reasons[10]
    warnings = [r[0] for r in c.execute("SELECT reason FROM import_rejects WHERE reason LIKE 'warning:%'")]
    assert any("mojibake" in w and "Beyoncé" in w for w in warnings)
    # exact round trip of every imported row, unmapped "Comment" column included
    expected = [r for r in _rows(IMPORT / "library.csv", "utf-8-sig", ",") if r["Track ID"] in {"r1", "r2", "r3", "r4"}]
    expected = [r for i, r in enumerate(expected) if r not in expected[:i]]  # the exact duplicate row is skipped
    got = list(iter_source(archive, "library"))
    assert len(got) == 4
    for a, b in zip(got, expected, strict=True):
        assert same(a, b)


def test_windows_1252_is_detected(archive: Archive, tmp_path: Path) -> None:
    res = import_source(archive, IMPORT / "windows1252.csv", format="csv", mapping=IMPORT / "windows1252.toml")
    assert (res.inserted, res.rejected) == (3, 0)
    names = {r[0]: (r[1], r[2]) for r in archive.conn.execute(
        "SELECT t.name, ar.name, t.listens FROM tracks t JOIN track_artists ta ON ta.track_id=t.id "
        "JOIN artists ar ON ar.id=ta.artist_id")}
    assert names["Café au lait"] == ("Motörhead", 1234)  # "." as thousands separator
    assert names["Naïve “quotes”"][0] == "Sigur Rós"
    out = export_source(archive, tmp_path / "out", source="windows1252")
    got = [orjson.loads(x) for x in Path(out["windows1252"]["path"]).read_bytes().splitlines()]
    assert got == _rows(IMPORT / "windows1252.csv", "cp1252", ";")


def test_tsv_and_seconds(archive: Archive) -> None:
    res = import_source(archive, IMPORT / "library.tsv", format="csv", mapping=IMPORT / "library-tsv.toml")
    assert (res.inserted, res.rejected) == (2, 0)
    rows = dict(archive.conn.execute("SELECT source_key, duration_ms FROM tracks").fetchall())
    assert rows == {"x1": 215000, "x2": 61500}
    assert list(iter_source(archive, "library")) == _rows(IMPORT / "library.tsv", "utf-8", "\t")


def test_reimport_is_idempotent(archive: Archive) -> None:
    import_source(archive, IMPORT / "library.csv", format="csv", mapping=IMPORT / "library.toml")
    before = archive.conn.execute("SELECT COUNT(*) FROM tracks").fetchone()[0]
    res = import_source(archive, IMPORT / "library.csv", format="csv", mapping=IMPORT / "library.toml")
    assert (res.inserted, res.updated, res.unchanged, res.duplicates) == (0, 0, 4, 1)
    assert archive.conn.execute("SELECT COUNT(*) FROM tracks").fetchone()[0] == before


def test_bad_mappings(tmp_path: Path, archive: Archive) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[columns]\ntitle = "Title"\n', encoding="utf-8")
    with pytest.raises(ImportFormatError, match="unknown field 'title'"):
        load_mapping(bad)
    bad.write_text('[columns]\nname = "No Such Column"\n', encoding="utf-8")
    with pytest.raises(ImportFormatError, match="not in the header: No Such Column"):
        import_source(archive, IMPORT / "library.csv", format="csv", mapping=bad)
    with pytest.raises(ImportFormatError, match="needs --mapping"):
        import_source(archive, IMPORT / "library.csv", format="csv")
    bad.write_text("not toml [", encoding="utf-8")
    with pytest.raises(ImportFormatError, match="not valid TOML"):
        load_mapping(bad)
