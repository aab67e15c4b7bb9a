"""Tables of the plan stage (owned by phonotheque.plan). Append migrations; never edit shipped ones."""

from __future__ import annotations

PLAN_V1 = """
CREATE TABLE IF NOT EXISTS plan (
    track_id INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
    decision TEXT NOT NULL CHECK (decision IN ('original','reencode','skip')),
    status TEXT NOT NULL,               -- planned_original | planned_reencode | skipped_low_priority |
                                        -- skipped_isrc_has_copy | skipped_budget | excluded | ...
    reason TEXT,                        -- human sentence when useful (exclusion reason, missing inputs)
    priority REAL,
    expected_listens REAL,
    est_bytes INTEGER,
    release_order INTEGER              -- 1 = first file to release; NULL when skipped
);
CREATE INDEX IF NOT EXISTS plan_order ON plan(release_order) WHERE release_order IS NOT NULL;
CREATE TABLE IF NOT EXISTS plan_runs (
    id INTEGER PRIMARY KEY,
    policy TEXT NOT NULL,
    budget INTEGER,
    created_at TEXT NOT NULL,
    summary TEXT NOT NULL               -- JSON: what `plan --json` prints
);
"""

MIGRATIONS: list[str] = [PLAN_V1]
