"""Declarative settings: one table feeds validation, archive.toml, --help and the docs.

Each :class:`Setting` has a name (``section.key`` in archive.toml), a default, a type and a help
line. ``archive.toml`` only needs to hold what differs from the defaults; ``phonotheque init``
writes the whole table, commented, so a user sees every knob.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phonotheque.errors import SettingsError


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    type: type
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("archive.name", "phonotheque archive", str, "Human name of the archive, shown in reports and releases."),
    Setting("archive.url", "", str, "Public base URL of the archive (used in tags and release notes)."),
    Setting("archive.licence", "", str, "Default licence of imported records when a source names none."),
    Setting("catalog.default_licence", "CC0-1.0", str, "Licence recorded for MusicBrainz-derived rows."),
    Setting("catalog.batch_size", 5000, int, "Records per write transaction during import."),
    Setting("plan.original_weight", 1.0, float, "Quality weight of a listen preserved as the original file."),
    Setting("plan.reencode_weight", 0.9, float, "Quality weight of a listen preserved on the Opus long-tail tier."),
    Setting("plan.original_kbit", 320.0, float, "Assumed bitrate (kbit/s) of an original not yet held, for size estimates."),
    Setting("plan.secondary_threshold", 0.351, float, "Reference policy: minimum secondary priority to re-encode a popularity-0 track."),
    Setting("plan.listens_scale", 1.0, float, "Multiplier of the popularity→listens mapping (see docs/plan.md)."),
    Setting("plan.listens_exponent", 0.092, float, "log10 listens gained per popularity point in the default mapping."),
    Setting("plan.listens_floor", 3.0, float, "Expected listens of a popularity-0 track in the default mapping."),
    Setting("store.piece_size", 1 << 20, int, "Torrent piece size in bytes, fixed when the archive is created (hashes are computed at ingest)."),
    Setting("store.workers", 0, int, "Worker processes for file work (0 = one per core)."),
    Setting("store.min_duration_ratio", 0.9, float, "A decoded stream shorter than this share of its header duration is corrupt."),
    Setting("store.fingerprint_seconds", 120, int, "Seconds of audio fed to Chromaprint (AcoustID uses 120)."),
    Setting("transcode.codec", "libopus", str, "Encoder of the long-tail tier."),
    Setting("transcode.container", "ogg", str, "Container of the long-tail tier (ogg or webm)."),
    Setting("transcode.bitrate", 75000, int, "Target bitrate of the long-tail tier, bits per second (VBR)."),
    Setting("transcode.complexity", 10, int, "Opus encoder complexity, 0-10."),
    Setting("release.target_size", 1 << 40, int, "Default target size of one release torrent in bytes."),
    Setting("release.version", "hybrid", str, "Torrent version: hybrid, v1 or v2."),
    Setting("release.trackers", "", str, "Tracker announce URLs, comma-separated (tiers split by '|')."),
    Setting("release.web_seeds", "", str, "Web seed base URLs (BEP 19), comma-separated."),
    Setting("web.host", "127.0.0.1", str, "Address the web UI listens on."),
    Setting("web.port", 8080, int, "Port the web UI listens on."),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


def _coerce(setting: Setting, value: Any) -> Any:
    if setting.type is bool:
        if isinstance(value, bool):
            return value
        raise SettingsError(f"setting {setting.name}: expected true/false, got {value!r}")
    if setting.type is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(f"setting {setting.name}: expected an integer, got {value!r}")
        return value
    if setting.type is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SettingsError(f"setting {setting.name}: expected a number, got {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise SettingsError(f"setting {setting.name}: expected a string, got {value!r}")
    return value


class Settings(Mapping[str, Any]):
    """Validated settings: defaults overlaid with archive.toml."""

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self._values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
        for name, value in (values or {}).items():
            if name not in BY_NAME:
                raise SettingsError(f"unknown setting {name!r} (see `phonotheque init --help` for the list)")
            self._values[name] = _coerce(BY_NAME[name], value)
        self._validate()

    def _validate(self) -> None:
        ps = self._values["store.piece_size"]
        if ps < 16384 or ps & (ps - 1):
            raise SettingsError(f"setting store.piece_size: must be a power of two >= 16384, got {ps}")
        if self._values["release.version"] not in ("hybrid", "v1", "v2"):
            raise SettingsError("setting release.version: must be hybrid, v1 or v2")
        if not 0 <= self._values["transcode.complexity"] <= 10:
            raise SettingsError("setting transcode.complexity: must be 0-10")
        if self._values["transcode.bitrate"] < 6000 or self._values["transcode.bitrate"] > 510000:
            raise SettingsError("setting transcode.bitrate: must be between 6000 and 510000 bit/s")

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    @classmethod
    def load(cls, path: Path) -> Settings:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{path}: not valid TOML: {exc}") from exc
        flat: dict[str, Any] = {}
        for section, table in data.items():
            if not isinstance(table, dict):
                raise SettingsError(f"{path}: top-level key {section!r} must be a [section]")
            for key, value in table.items():
                flat[f"{section}.{key}"] = value
        return cls(flat)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def render_toml(overrides: Mapping[str, Any] | None = None) -> str:
    """archive.toml text: every setting with its help; overrides active, defaults commented."""
    overrides = dict(overrides or {})
    lines = ["# phonotheque archive settings. Uncomment a line to change it.", ""]
    section = None
    for s in SETTINGS:
        sec, key = s.name.split(".", 1)
        if sec != section:
            if section is not None:
                lines.append("")
            lines.append(f"[{sec}]")
            section = sec
        lines.append(f"# {s.help}")
        if s.name in overrides:
            lines.append(f"{key} = {_toml_value(overrides[s.name])}")
        else:
            lines.append(f"# {key} = {_toml_value(s.default)}")
    return "\n".join(lines) + "\n"
