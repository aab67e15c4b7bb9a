"""Probe an audio file: container and stream facts (PyAV) and every tag (mutagen), no decoding.

Public API (other stages call it)::

    info = probe("song.ogg")        # -> ProbeInfo, raises CorruptAudioError / UnsupportedAudioError
    info.codec, info.sample_rate, info.header_duration_ms, info.tags["title"]

Tags are returned as ``dict[str, list[str]]`` with lower-case keys in the Vorbis-comment
vocabulary (``title``, ``artist``, ``album``, ``isrc``, ``musicbrainz_trackid`` …) whatever the
format (ID3 and MP4 go through mutagen's "easy" key mapping; frames it does not map are kept
under their own name). Legacy encodings are repaired: ID3 latin-1 text that is really cp1252 or
UTF-8, and non-UTF-8 Vorbis comments (read through PyAV with surrogate escapes, decoded as
cp1252). :func:`ingest <phonotheque.store.ingest.ingest>` uses :func:`probe_open` on the bytes it
already holds so a file is read once.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import av
import av.container
import mutagen

from phonotheque.errors import CorruptAudioError, UnsupportedAudioError

# Extensions whose format FFmpeg decodes: a file with one of these names that nothing can open
# is corrupt; any other unreadable file is unsupported (tracker modules, unknown formats).
DECODABLE_EXTENSIONS = frozenset(
    {".aac", ".ac3", ".aif", ".aifc", ".aiff", ".alac", ".ape", ".au", ".caf", ".flac", ".m4a", ".m4b",
     ".mka", ".mp1", ".mp2", ".mp3", ".mp4", ".mpc", ".oga", ".ogg", ".opus", ".spx", ".tta", ".w64",
     ".wav", ".webm", ".wma", ".wv"}
)  # fmt: skip
LOSSLESS_CODECS = frozenset({"flac", "alac", "wavpack", "ape", "tta", "mlp", "truehd", "tak", "shorten"})
MAX_TAG_VALUE = 1 << 16          # longer values are cut (a 10,000-char title is kept whole)


@dataclass
class ProbeInfo:
    container: str
    codec: str
    ext: str                      # extension the content deserves (".ogg" for Ogg Vorbis, ".opus" …)
    bitrate: int | None
    sample_rate: int
    channels: int
    bits_per_sample: int | None
    header_duration_ms: int | None
    lossless: bool
    tags: dict[str, list[str]] = field(default_factory=dict)


def _content_ext(container: str, codec: str, fallback: str) -> str:
    names = container.split(",")
    if "ogg" in names:
        return ".opus" if codec == "opus" else ".ogg"
    table = {"flac": ".flac", "mp3": ".mp3", "wav": ".wav", "aiff": ".aiff", "w64": ".w64", "ape": ".ape",
             "wv": ".wv", "tta": ".tta", "asf": ".wma", "au": ".au", "caf": ".caf", "mpc": ".mpc",
             "mpc8": ".mpc", "aac": ".aac", "ac3": ".ac3", "mp2": ".mp2"}  # fmt: skip
    for name in names:
        if name in table:
            return table[name]
    if "mp4" in names or "mov" in names or "m4a" in names:
        return ".m4a"
    if "matroska" in names or "webm" in names:
        return ".webm" if codec in ("opus", "vorbis") and "webm" in names and fallback == ".webm" else ".mka"
    return fallback or ".bin"


def fix_legacy_text(text: str) -> str:
    """Repair text decoded with the wrong legacy codec.

    * characters U+0080–U+009F (C1 controls, never meant) mean cp1252 bytes read as latin-1;
    * a latin-1 string whose bytes are valid UTF-8 with non-ASCII means UTF-8 read as latin-1;
    * surrogate escapes (undecodable bytes) are decoded as cp1252.
    """
    if any("\udc80" <= c <= "\udcff" for c in text):
        raw = text.encode("utf-8", "surrogateescape")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("cp1252", "replace")
    if text.isascii() or max(map(ord, text)) > 0xFF:
        return text
    raw = text.encode("latin-1")
    try:
        fixed = raw.decode("utf-8")
        if not fixed.isascii():
            return fixed
    except UnicodeDecodeError:
        pass
    if any(0x80 <= ord(c) <= 0x9F for c in text):
        return raw.decode("cp1252", "replace")
    return text


def _value_text(value: Any) -> str | None:
    if isinstance(value, str):
        text = value
    elif isinstance(value, bytes):
        return None                          # binary (pictures, private frames): not a tag value
    elif isinstance(value, tuple):           # MP4 track/disc numbers (n, total)
        text = "/".join(str(v) for v in value if v)
    else:
        text = str(value)
    text = fix_legacy_text(text).replace("\x00", "")
    return text[:MAX_TAG_VALUE]


# formats whose header states the exact length (WAV/AIFF data size, FLAC total samples): mutagen
# reports it even when FFmpeg clamps it to the bytes present, which is what exposes a short file
HEADER_LENGTH_TYPES = frozenset({"WAVE", "AIFF", "FLAC", "EasyMP3WAVE"})


def read_tags(
    fileobj: BinaryIO, name: str, av_metadata: dict[str, str] | None = None, facts: dict[str, Any] | None = None
) -> dict[str, list[str]]:
    """Every text tag mutagen reads, keys lower-cased; ``{}`` for untagged or unreadable files.

    When ``facts`` is given it receives ``header_length`` (seconds) for formats whose header
    declares the exact length."""
    tags: dict[str, list[str]] = {}
    try:
        fileobj.seek(0)
        audio = mutagen.File(fileobj, easy=True)
        if audio is not None and facts is not None and type(audio).__name__ in HEADER_LENGTH_TYPES:
            length = getattr(audio.info, "length", None)
            if length:
                facts["header_length"] = float(length)
        if audio is None or audio.tags is None:
            raise LookupError
        items = list(audio.tags.items())
        raw = getattr(audio.tags, "_EasyID3__id3", None) or getattr(audio.tags, "_EasyMP4Tags__mp4", None)
        if raw is not None:                       # frames the easy mapping does not cover
            easy_keys = {k for k, _ in items}
            for key, value in raw.items():
                text = getattr(value, "text", None) if not isinstance(value, list) else value
                if text is None or key.split(":")[0] in ("APIC", "covr", "PRIV", "GEOB"):
                    continue
                k = key.lower()
                if k not in easy_keys:
                    items.append((k, text if isinstance(text, list) else [text]))
    except Exception:  # mutagen raises many types on damaged headers; tags are best effort
        items = []
    for key, values in items:
        vals = values if isinstance(values, list) else [values]
        texts = [t for t in (_value_text(v) for v in vals) if t is not None]
        if texts:
            tags.setdefault(str(key).lower(), []).extend(texts)
    # mutagen replaces undecodable bytes by U+FFFD: take those values from PyAV's raw view instead
    if av_metadata:
        raw_meta = {k.lower(): v for k, v in av_metadata.items()}
        for key, values in list(tags.items()):
            if any("\ufffd" in v for v in values) and key in raw_meta:
                tags[key] = [fix_legacy_text(v)[:MAX_TAG_VALUE] for v in raw_meta[key].split(";")]
        if not tags:
            for key, value in raw_meta.items():
                tags[key] = [fix_legacy_text(value)[:MAX_TAG_VALUE]]
    return dict(sorted(tags.items()))          # mutagen's key order varies between processes


def open_container(source: str | Path | BinaryIO, name: str) -> av.container.InputContainer:
    """``av.open`` with errors translated: corrupt for known formats, unsupported otherwise."""
    ext = os.path.splitext(name)[1].lower()
    if _size(source) == 0:
        raise CorruptAudioError(name, "empty file (0 bytes)")
    try:
        container = av.open(source if not isinstance(source, Path) else str(source), "r",
                            metadata_errors="surrogateescape")
    except av.FFmpegError as exc:
        if ext in DECODABLE_EXTENSIONS:
            raise CorruptAudioError(name, f"not a valid {ext[1:]} file: {_av_reason(exc)}") from exc
        raise UnsupportedAudioError(name, f"format not supported ({ext or 'no extension'}): {_av_reason(exc)}") from exc
    if not container.streams.audio:
        container.close()
        raise UnsupportedAudioError(name, "no audio stream")
    return container


def _size(source: str | Path | BinaryIO) -> int | None:
    try:
        if isinstance(source, str | Path):
            return os.path.getsize(source)
        pos = source.tell()
        source.seek(0, io.SEEK_END)
        end = source.tell()
        source.seek(pos)
        return end
    except (OSError, ValueError):
        return None


def _av_reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split())[:300]


def probe_open(
    container: av.container.InputContainer, name: str, tag_source: BinaryIO | None
) -> ProbeInfo:
    """Facts of an open container (and tags from ``tag_source``, or PyAV metadata if None)."""
    stream = container.streams.audio[0]
    cc = stream.codec_context
    codec = cc.name or "unknown"
    header_ms: int | None = None
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        header_ms = int(stream.duration * stream.time_base * 1000)
    elif container.duration is not None and container.duration > 0:
        header_ms = int(container.duration / 1000)
    av_meta = {**dict(container.metadata), **dict(stream.metadata)}
    facts: dict[str, Any] = {}
    tags = read_tags(tag_source, name, av_meta, facts) if tag_source is not None else {
        k.lower(): [fix_legacy_text(v)[:MAX_TAG_VALUE]] for k, v in av_meta.items()
    }
    if "header_length" in facts:
        header_ms = max(header_ms or 0, int(facts["header_length"] * 1000)) or None
    bits: int | None = None
    lossless = codec in LOSSLESS_CODECS or codec.startswith("pcm_")
    if lossless:
        raw_bits = getattr(cc, "bits_per_raw_sample", 0) or 0
        bits = raw_bits or (stream.format.bytes * 8 if stream.format is not None else None)
    bitrate = stream.bit_rate or container.bit_rate or None
    return ProbeInfo(
        container=container.format.name,
        codec=codec,
        ext=_content_ext(container.format.name, codec, os.path.splitext(name)[1].lower()),
        bitrate=int(bitrate) if bitrate else None,
        sample_rate=int(stream.sample_rate or 0),
        channels=int(stream.channels or 0),
        bits_per_sample=bits,
        header_duration_ms=header_ms,
        lossless=lossless,
        tags=tags,
    )


def probe(path: str | Path) -> ProbeInfo:
    """Container/stream facts and tags of one file, without decoding audio."""
    name = os.fspath(path)
    with open_container(name, name) as container, open(name, "rb") as fh:
        return probe_open(container, name, fh)
