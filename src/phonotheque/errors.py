"""One root exception, detailed subclasses named by meaning.

Every error a user can cause derives from :class:`PhonothequeError`; the CLI turns it into a
one-line message and a non-zero exit status. Errors about one item (a file, a line) carry the
item so whole-run reports can list every problem.
"""

from __future__ import annotations

from pathlib import Path


class PhonothequeError(Exception):
    """Root of every error phonotheque raises on purpose."""

    exit_code = 1


class ArchiveError(PhonothequeError):
    """The archive directory is missing, not initialised, or unusable."""


class SettingsError(PhonothequeError):
    """A setting in archive.toml or on the command line is invalid."""


class CatalogSchemaError(PhonothequeError):
    """The catalog file has a schema this version cannot use (too new, or damaged)."""


class ImportFormatError(PhonothequeError):
    """A source cannot be imported at all (unknown format, unreadable file, bad mapping)."""


class RecordError(PhonothequeError):
    """One source record was rejected; carries where it came from and why."""

    def __init__(self, source: str, line: int | None, reason: str, key: str | None = None) -> None:
        self.source = source
        self.line = line
        self.reason = reason
        self.key = key
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {reason}")


class QueryError(PhonothequeError):
    """A search query or lookup is malformed."""


class NotFoundError(PhonothequeError):
    """A requested id, release or file does not exist."""


class BudgetError(PhonothequeError):
    """A size or budget string cannot be parsed or is out of range."""


class PlanError(PhonothequeError):
    """The plan cannot be made or is missing."""


class AudioError(PhonothequeError):
    """Base for problems with one audio file; carries the path and the reason."""

    status = "error"

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class CorruptAudioError(AudioError):
    status = "error_corrupt"


class UnsupportedAudioError(AudioError):
    status = "error_unsupported"


class TagWriteError(AudioError):
    status = "error_tag"


class TranscodeError(AudioError):
    status = "error_transcode"


class PatchError(AudioError):
    status = "error_patch"


class StoreError(PhonothequeError):
    """The content-addressed store is inconsistent (file missing or changed since ingest)."""


class ReleaseError(PhonothequeError):
    """A release cannot be packaged or published."""


class MirrorError(PhonothequeError):
    """A mirror directory or torrent list is unusable."""


class Interrupted(PhonothequeError):
    """The user interrupted a run; what was committed stays committed."""

    exit_code = 130


class SchedulerError(PhonothequeError):
    """The parallel runner cannot start or reach its scheduler (process pool or Dask cluster)."""


class ImportRejectedError(PhonothequeError):
    """``import --strict``: some records were rejected (the rest was imported; see the report)."""

    exit_code = 3
    result: object = None  # the ImportResult of the run


class ExcludedError(PhonothequeError):
    """An item is on the exclusion (takedown) list: its metadata stays visible, its audio and pointers do not."""

    def __init__(self, item: str, reason: str) -> None:
        self.item = item
        self.reason = reason
        super().__init__(f"{item}: excluded ({reason})")
