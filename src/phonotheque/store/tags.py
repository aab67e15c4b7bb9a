"""Catalog metadata as embedded tags, with the field names MusicBrainz Picard writes.

:class:`TrackMeta` is what a file should carry; :func:`track_meta` builds it from the catalog;
:func:`write_tags` writes it into Ogg Opus, Ogg Vorbis, FLAC, MP3 (ID3v2.4), M4A, and WAV/AIFF (ID3v2.4 chunk).

Field names (Picard's mapping, https://picard-docs.musicbrainz.org/en/appendices/tag_mapping.html):
Vorbis comments (Opus, Vorbis, FLAC) use ``TITLE``, ``ARTIST``, ``ARTISTS``, ``ALBUM``,
``ALBUMARTIST``, ``DATE``, ``ORIGINALDATE``, ``TRACKNUMBER``, ``TOTALTRACKS``/``TRACKTOTAL``,
``DISCNUMBER``, ``TOTALDISCS``/``DISCTOTAL``, ``ISRC``, ``BARCODE``, ``MUSICBRAINZ_TRACKID`` (the
recording), ``MUSICBRAINZ_RELEASETRACKID``, ``MUSICBRAINZ_ALBUMID``, ``MUSICBRAINZ_ARTISTID``,
``MUSICBRAINZ_ALBUMARTISTID``, ``LABEL``, ``CATALOGNUMBER``, ``LICENSE``, ``COPYRIGHT``, ``WEBSITE``;
ID3v2.4 uses TIT2/TPE1/TALB/TPE2/TDRC/TDOR/TRCK/TPOS/TSRC/TPUB/TCOP/WOAR, ``UFID:http://musicbrainz.org``
and ``TXXX:`` frames with Picard's descriptions; M4A uses the iTunes atoms and
``----:com.apple.iTunes:`` freeform atoms. The archive adds ``PHONOTHEQUE_TRACKID`` and
``PHONOTHEQUE_URL``.

Loudness, per format: Opus gets ``R128_TRACK_GAIN``/``R128_ALBUM_GAIN`` (Q7.8 integers relative
to −23 LUFS, RFC 7845 — Opus players ignore REPLAYGAIN_*); Vorbis and FLAC get
``REPLAYGAIN_TRACK_GAIN``/``_PEAK`` and ``REPLAYGAIN_ALBUM_GAIN``/``_PEAK`` (ReplayGain 2.0,
−18 LUFS reference), MP3 the same as ``TXXX`` frames, M4A as freeform atoms.

Cover art: ``METADATA_BLOCK_PICTURE`` (Ogg), a FLAC PICTURE block, an ID3 ``APIC`` frame, an
M4A ``covr`` atom — front cover, when the archive holds the image bytes.
"""

from __future__ import annotations

import base64
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import mutagen
from mutagen.aiff import AIFF
from mutagen.flac import FLAC, Picture
from mutagen.id3 import (
    APIC,
    ID3,
    TALB,
    TCOP,
    TDOR,
    TDRC,
    TIT2,
    TPE1,
    TPE2,
    TPOS,
    TPUB,
    TRCK,
    TSRC,
    TXXX,
    UFID,
    WOAR,
    ID3NoHeaderError,
)
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4, MP4Cover, MP4FreeForm
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

from phonotheque.archive import Archive
from phonotheque.errors import NotFoundError, TagWriteError, UnsupportedAudioError
from phonotheque.store.loudness import REPLAYGAIN_REFERENCE, r128_q78

FORMATS = ("opus", "vorbis", "flac", "mp3", "m4a", "wav", "aiff")


@dataclass
class TrackMeta:
    """Everything a file of one catalog track carries as tags. Empty fields are not written."""

    title: str | None = None
    artist: str | None = None                 # the credit as printed ("A feat. B")
    artists: list[str] = field(default_factory=list)
    album: str | None = None
    albumartist: str | None = None
    date: str | None = None
    originaldate: str | None = None
    tracknumber: int | None = None
    totaltracks: int | None = None
    discnumber: int | None = None
    totaldiscs: int | None = None
    isrc: str | None = None
    barcode: str | None = None
    musicbrainz_trackid: str | None = None    # recording MBID (Picard's naming)
    musicbrainz_releasetrackid: str | None = None
    musicbrainz_albumid: str | None = None
    musicbrainz_artistids: list[str] = field(default_factory=list)
    musicbrainz_albumartistids: list[str] = field(default_factory=list)
    label: str | None = None
    catalognumber: str | None = None
    license: str | None = None
    copyright: str | None = None
    website: str | None = None
    catalog_id: str | None = None
    catalog_url: str | None = None
    track_lufs: float | None = None           # integrated loudness of the track
    track_peak: float | None = None           # sample peak, linear
    album_lufs: float | None = None
    album_peak: float | None = None
    cover: bytes | None = field(default=None, repr=False)
    cover_mime: str = "image/jpeg"

    def vorbis_fields(self) -> dict[str, list[str]]:
        """Picard's Vorbis-comment names → values (loudness excluded: it depends on the codec)."""
        f: dict[str, list[str]] = {}

        def put(key: str, value: object) -> None:
            if value is None or value == "" or value == []:
                return
            f[key] = [str(v) for v in value] if isinstance(value, list) else [str(value)]

        put("TITLE", self.title)
        put("ARTIST", self.artist)
        put("ARTISTS", self.artists)
        put("ALBUM", self.album)
        put("ALBUMARTIST", self.albumartist)
        put("DATE", self.date)
        put("ORIGINALDATE", self.originaldate)
        put("TRACKNUMBER", self.tracknumber)
        put("TOTALTRACKS", self.totaltracks)
        put("TRACKTOTAL", self.totaltracks)
        put("DISCNUMBER", self.discnumber)
        put("TOTALDISCS", self.totaldiscs)
        put("DISCTOTAL", self.totaldiscs)
        put("ISRC", self.isrc)
        put("BARCODE", self.barcode)
        put("MUSICBRAINZ_TRACKID", self.musicbrainz_trackid)
        put("MUSICBRAINZ_RELEASETRACKID", self.musicbrainz_releasetrackid)
        put("MUSICBRAINZ_ALBUMID", self.musicbrainz_albumid)
        put("MUSICBRAINZ_ARTISTID", self.musicbrainz_artistids)
        put("MUSICBRAINZ_ALBUMARTISTID", self.musicbrainz_albumartistids)
        put("LABEL", self.label)
        put("CATALOGNUMBER", self.catalognumber)
        put("LICENSE", self.license)
        put("COPYRIGHT", self.copyright)
        put("WEBSITE", self.website)
        put("PHONOTHEQUE_TRACKID", self.catalog_id)
        put("PHONOTHEQUE_URL", self.catalog_url)
        return f

    def replaygain_fields(self) -> dict[str, str]:
        f: dict[str, str] = {}
        if self.track_lufs is not None:
            f["REPLAYGAIN_TRACK_GAIN"] = f"{REPLAYGAIN_REFERENCE - self.track_lufs:+.2f} dB"
            if self.track_peak is not None:
                f["REPLAYGAIN_TRACK_PEAK"] = f"{self.track_peak:.6f}"
        if self.album_lufs is not None:
            f["REPLAYGAIN_ALBUM_GAIN"] = f"{REPLAYGAIN_REFERENCE - self.album_lufs:+.2f} dB"
            if self.album_peak is not None:
                f["REPLAYGAIN_ALBUM_PEAK"] = f"{self.album_peak:.6f}"
        return f

    def r128_fields(self) -> dict[str, str]:
        f: dict[str, str] = {}
        track, album = r128_q78(self.track_lufs), r128_q78(self.album_lufs)
        if track is not None:
            f["R128_TRACK_GAIN"] = str(track)
        if album is not None:
            f["R128_ALBUM_GAIN"] = str(album)
        return f


# ID3v2.4: Picard's TXXX descriptions for the fields without a standard frame
_ID3_TXXX = {
    "ARTISTS": "ARTISTS",
    "BARCODE": "BARCODE",
    "MUSICBRAINZ_RELEASETRACKID": "MusicBrainz Release Track Id",
    "MUSICBRAINZ_ALBUMID": "MusicBrainz Album Id",
    "MUSICBRAINZ_ARTISTID": "MusicBrainz Artist Id",
    "MUSICBRAINZ_ALBUMARTISTID": "MusicBrainz Album Artist Id",
    "CATALOGNUMBER": "CATALOGNUMBER",
    "LICENSE": "LICENSE",
    "PHONOTHEQUE_TRACKID": "PHONOTHEQUE_TRACKID",
    "PHONOTHEQUE_URL": "PHONOTHEQUE_URL",
}
_ID3_TEXT = {"TITLE": TIT2, "ARTIST": TPE1, "ALBUM": TALB, "ALBUMARTIST": TPE2, "DATE": TDRC,
             "ORIGINALDATE": TDOR, "ISRC": TSRC, "LABEL": TPUB, "COPYRIGHT": TCOP}
# M4A: iTunes atoms Picard uses, then freeform names
_MP4_ATOMS = {"TITLE": "\xa9nam", "ARTIST": "\xa9ART", "ALBUM": "\xa9alb", "ALBUMARTIST": "aART",
              "DATE": "\xa9day", "COPYRIGHT": "cprt"}
_MP4_FREEFORM = {
    "ARTISTS": "ARTISTS", "ORIGINALDATE": "ORIGINALDATE", "ISRC": "ISRC", "BARCODE": "BARCODE",
    "MUSICBRAINZ_TRACKID": "MusicBrainz Track Id",
    "MUSICBRAINZ_RELEASETRACKID": "MusicBrainz Release Track Id",
    "MUSICBRAINZ_ALBUMID": "MusicBrainz Album Id", "MUSICBRAINZ_ARTISTID": "MusicBrainz Artist Id",
    "MUSICBRAINZ_ALBUMARTISTID": "MusicBrainz Album Artist Id", "LABEL": "LABEL",
    "CATALOGNUMBER": "CATALOGNUMBER", "LICENSE": "LICENSE", "WEBSITE": "WEBSITE",
    "PHONOTHEQUE_TRACKID": "PHONOTHEQUE_TRACKID", "PHONOTHEQUE_URL": "PHONOTHEQUE_URL",
}


def detect_format(path: str | Path) -> str:
    """``opus``, ``vorbis``, ``flac``, ``mp3`` or ``m4a`` (mutagen's scoring); else UnsupportedAudioError."""
    try:
        audio = mutagen.File(str(path))
    except mutagen.MutagenError as exc:
        raise UnsupportedAudioError(path, f"tags cannot be read: {exc}") from exc
    kinds = {OggOpus: "opus", OggVorbis: "vorbis", FLAC: "flac", MP3: "mp3", MP4: "m4a", WAVE: "wav", AIFF: "aiff"}
    for cls, kind in kinds.items():
        if isinstance(audio, cls):
            return kind
    name = type(audio).__name__ if audio is not None else "unknown format"
    raise UnsupportedAudioError(path, f"cannot embed tags in this format ({name}); supported: {', '.join(FORMATS)}")


def _picture(meta: TrackMeta) -> Picture:
    pic = Picture()
    pic.type = 3  # front cover
    pic.mime = meta.cover_mime
    pic.desc = ""
    pic.data = meta.cover or b""
    return pic


def write_tags(path: str | Path, meta: TrackMeta) -> str:
    """Write ``meta`` into the file at ``path`` in place; returns the format. Fields the catalog
    has replace the file's; other tags the file carries are kept.

    Raises :class:`UnsupportedAudioError` for formats without a tag writer (.mod, .wav ...) and
    :class:`TagWriteError` when the file cannot be written (read-only, damaged).
    """
    kind = detect_format(path)
    # the mode bits count even for root: a file marked read-only is not ours to change
    if not os.access(path, os.W_OK) or not os.stat(path).st_mode & 0o222:
        raise TagWriteError(path, "is read-only")
    try:
        if kind in ("opus", "vorbis", "flac"):
            _write_vorbis(path, meta, kind)
        elif kind == "mp3":
            _write_id3(path, meta)
        elif kind in ("wav", "aiff"):
            _write_chunk_id3(path, meta, WAVE if kind == "wav" else AIFF)
        else:
            _write_mp4(path, meta)
    except (mutagen.MutagenError, OSError) as exc:
        raise TagWriteError(path, f"tags could not be written: {exc}") from exc
    return kind


def _write_vorbis(path: str | Path, meta: TrackMeta, kind: str) -> None:
    audio = {"opus": OggOpus, "vorbis": OggVorbis, "flac": FLAC}[kind](str(path))
    if audio.tags is None:
        audio.add_tags()
    tags = audio.tags
    assert tags is not None
    fields: dict[str, list[str]] = meta.vorbis_fields()
    gain = meta.r128_fields() if kind == "opus" else meta.replaygain_fields()
    fields.update({k: [v] for k, v in gain.items()})
    for key, values in fields.items():
        tags[key] = values
    if meta.cover:
        if kind == "flac":
            assert isinstance(audio, FLAC)
            audio.clear_pictures()
            audio.add_picture(_picture(meta))
        else:
            tags["METADATA_BLOCK_PICTURE"] = [base64.b64encode(_picture(meta).write()).decode("ascii")]
    audio.save()


def _write_id3(path: str | Path, meta: TrackMeta) -> None:
    try:
        tags = ID3(str(path))
    except ID3NoHeaderError:
        tags = ID3()
    _fill_id3(tags, meta)
    tags.save(str(path), v2_version=4)


def _write_chunk_id3(path: str | Path, meta: TrackMeta, cls: type[WAVE] | type[AIFF]) -> None:
    """WAV and AIFF carry ID3v2.4 in an ``id3 `` chunk (what Picard and foobar2000 write)."""
    audio = cls(str(path))
    if audio.tags is None:
        audio.add_tags()
    assert audio.tags is not None
    _fill_id3(audio.tags, meta)  # type: ignore[arg-type]
    audio.save(v2_version=4)


def _fill_id3(tags: ID3, meta: TrackMeta) -> None:
    f = meta.vorbis_fields()
    for key, frame in _ID3_TEXT.items():
        if key in f:
            tags.setall(frame.__name__, [frame(encoding=3, text=f[key])])
    if meta.tracknumber is not None:
        text = f"{meta.tracknumber}/{meta.totaltracks}" if meta.totaltracks else str(meta.tracknumber)
        tags.setall("TRCK", [TRCK(encoding=3, text=[text])])
    if meta.discnumber is not None:
        text = f"{meta.discnumber}/{meta.totaldiscs}" if meta.totaldiscs else str(meta.discnumber)
        tags.setall("TPOS", [TPOS(encoding=3, text=[text])])
    if "MUSICBRAINZ_TRACKID" in f:
        tags.setall("UFID:http://musicbrainz.org",
                    [UFID(owner="http://musicbrainz.org", data=f["MUSICBRAINZ_TRACKID"][0].encode("ascii"))])
    if "WEBSITE" in f:
        tags.setall("WOAR", [WOAR(url=f["WEBSITE"][0])])
    for key, desc in _ID3_TXXX.items():
        if key in f:
            tags.setall(f"TXXX:{desc}", [TXXX(encoding=3, desc=desc, text=f[key])])
    for key, value in meta.replaygain_fields().items():
        tags.setall(f"TXXX:{key}", [TXXX(encoding=3, desc=key, text=[value])])
    if meta.cover:
        tags.setall("APIC", [APIC(encoding=3, mime=meta.cover_mime, type=3, desc="", data=meta.cover)])


def _write_mp4(path: str | Path, meta: TrackMeta) -> None:
    audio = MP4(str(path))
    if audio.tags is None:
        audio.add_tags()
    tags = audio.tags
    assert tags is not None
    f = meta.vorbis_fields()
    for key, atom in _MP4_ATOMS.items():
        if key in f:
            tags[atom] = f[key]
    if meta.tracknumber is not None:
        tags["trkn"] = [(meta.tracknumber, meta.totaltracks or 0)]
    if meta.discnumber is not None:
        tags["disk"] = [(meta.discnumber, meta.totaldiscs or 0)]
    free = {name: f[key] for key, name in _MP4_FREEFORM.items() if key in f}
    free.update({k: [v] for k, v in meta.replaygain_fields().items()})
    for name, values in free.items():
        tags[f"----:com.apple.iTunes:{name}"] = [MP4FreeForm(v.encode("utf-8")) for v in values]
    if meta.cover:
        fmt = MP4Cover.FORMAT_PNG if meta.cover_mime == "image/png" else MP4Cover.FORMAT_JPEG
        tags["covr"] = [MP4Cover(meta.cover, imageformat=fmt)]
    audio.save()


def sniff_image_mime(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


# -- from the catalog -------------------------------------------------------------------------

def _credit(rows: list[sqlite3.Row]) -> tuple[str | None, list[str], list[str]]:
    """(credit string with join phrases, names, MBIDs) of track_artists/album_artists rows."""
    if not rows:
        return None, [], []
    parts: list[str] = []
    names: list[str] = []
    mbids: list[str] = []
    for i, r in enumerate(rows):
        shown = r["credited_name"] or r["name"]
        names.append(r["name"])
        if r["mbid"]:
            mbids.append(r["mbid"])
        parts.append(shown)
        if i < len(rows) - 1:
            parts.append(r["join_phrase"] if r["join_phrase"] is not None else ", ")
        elif r["join_phrase"]:
            parts.append(r["join_phrase"])
    return "".join(parts).strip(), names, mbids


def cover_path(archive_root: Path, sha256: str) -> Path | None:
    """Where the archive keeps image bytes: ``store/images/<sha256[:2]>/<sha256>[.ext]``."""
    d = archive_root / "store" / "images" / sha256[:2]
    if not d.is_dir():
        return None
    for p in sorted(d.glob(f"{sha256}*")):
        if p.is_file():
            return p
    return None


def track_meta(archive: Archive, track_id: int) -> TrackMeta:
    """The tags a file of catalog track ``track_id`` should carry (loudness left empty)."""
    conn = archive.conn
    t = conn.execute(
        "SELECT t.*, s.format AS source_format, s.licence AS source_licence FROM tracks t "
        "JOIN sources s ON s.id = t.source_id WHERE t.id = ?", (track_id,),
    ).fetchone()
    if t is None:
        raise NotFoundError(f"track {track_id}: not in the catalog")
    meta = TrackMeta(title=t["name"], tracknumber=t["track_number"], discnumber=t["disc_number"])
    meta.catalog_id = str(track_id)
    base = str(archive.settings["archive.url"]).rstrip("/")
    meta.catalog_url = f"{base}/track/{track_id}" if base else None
    artists = conn.execute(
        "SELECT ta.credited_name, ta.join_phrase, a.name, a.mbid FROM track_artists ta "
        "JOIN artists a ON a.id = ta.artist_id WHERE ta.track_id = ? ORDER BY ta.position", (track_id,),
    ).fetchall()
    meta.artist, meta.artists, meta.musicbrainz_artistids = _credit(artists)
    mbid = conn.execute(
        "SELECT value FROM external_ids WHERE entity='track' AND entity_id=? AND kind='mbid' ORDER BY value LIMIT 1",
        (track_id,),
    ).fetchone()
    if mbid:
        meta.musicbrainz_releasetrackid = mbid[0]
    elif t["source_format"] == "musicbrainz":
        meta.musicbrainz_releasetrackid = t["source_key"]
    if t["recording_id"] is not None:
        r = conn.execute("SELECT mbid, isrc FROM recordings WHERE id=?", (t["recording_id"],)).fetchone()
        if r:
            meta.musicbrainz_trackid, meta.isrc = r["mbid"], r["isrc"]
    if meta.isrc is None:
        isrc = conn.execute(
            "SELECT value FROM external_ids WHERE entity='track' AND entity_id=? AND kind='isrc' ORDER BY value LIMIT 1",
            (track_id,),
        ).fetchone()
        meta.isrc = isrc[0] if isrc else None
    album_licence = None
    if t["album_id"] is not None:
        al = conn.execute("SELECT * FROM albums WHERE id=?", (t["album_id"],)).fetchone()
        meta.album, meta.date, meta.barcode = al["name"], al["release_date"], al["upc"]
        meta.musicbrainz_albumid = al["mbid"]
        album_licence = al["licence"]
        aa = conn.execute(
            "SELECT aa.credited_name, aa.join_phrase, a.name, a.mbid FROM album_artists aa "
            "JOIN artists a ON a.id = aa.artist_id WHERE aa.album_id = ? ORDER BY aa.position", (t["album_id"],),
        ).fetchall()
        meta.albumartist, _, meta.musicbrainz_albumartistids = _credit(aa)
        discs = conn.execute(
            "SELECT MAX(disc_number), COUNT(*) FROM tracks WHERE album_id=?", (t["album_id"],)
        ).fetchone()
        meta.totaldiscs = discs[0] if discs[0] and discs[0] > 1 else None
        if meta.totaldiscs:
            meta.totaltracks = conn.execute(
                "SELECT COUNT(*) FROM tracks WHERE album_id=? AND disc_number IS ?", (t["album_id"], t["disc_number"])
            ).fetchone()[0]
        else:
            meta.totaltracks = al["total_tracks"] or discs[1]
        lab = conn.execute(
            "SELECT l.name, al.catalog_number FROM album_labels al LEFT JOIN labels l ON l.id = al.label_id "
            "WHERE al.album_id=? ORDER BY al.position LIMIT 1", (t["album_id"],),
        ).fetchone()
        if lab:
            meta.label, meta.catalognumber = lab[0], lab[1]
        img = conn.execute(
            "SELECT sha256 FROM images WHERE entity='album' AND entity_id=? AND sha256 IS NOT NULL "
            "ORDER BY position LIMIT 1", (t["album_id"],),
        ).fetchone()
        if img:
            p = cover_path(archive.root, img[0])
            if p is not None:
                data = p.read_bytes()
                mime = sniff_image_mime(data)
                if mime:
                    meta.cover, meta.cover_mime = data, mime
    meta.license = t["licence"] or album_licence or t["source_licence"]
    return meta
