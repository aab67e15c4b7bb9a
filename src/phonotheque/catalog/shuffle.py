"""True shuffle: tracks drawn uniformly over the whole catalog (or over a filtered set).

``ORDER BY random()`` reads every row; picking a random rowid and taking the next row biases toward
rows after gaps. Here every draw is uniform over the tracks that pass the filters:

1. **rejection sampling** over the id range: a uniformly random integer in ``[min(id), max(id)]`` is
   kept only if a track with that id exists and passes the filters. Every qualifying track has the
   same chance, whatever the gaps; a batch of candidates costs one indexed ``IN`` query;
2. when few candidates pass (sparse ids or a narrow filter), an **exact** fallback counts the
   qualifying tracks and fetches uniformly random positions in a fixed order of an index.

Draws are without replacement (``n`` distinct tracks, or all of them if fewer qualify).
"""

from __future__ import annotations

import random
import sqlite3
from typing import Any

from phonotheque.archive import Archive
from phonotheque.catalog.lookup import track_details
from phonotheque.errors import QueryError

MAX_N = 1000
BATCH = 256
REJECTION_ROUNDS = 8


def _filters(min_popularity: int | None, held: bool) -> tuple[str, list[Any]]:
    where, params = [], []
    if min_popularity is not None:
        where.append("t.popularity >= ?")
        params.append(min_popularity)
    if held:
        where.append("EXISTS (SELECT 1 FROM track_files tf WHERE tf.track_id = t.id)")
    return (" AND ".join(where) or "1"), params


def shuffle_ids(
    conn: sqlite3.Connection, n: int = 1, min_popularity: int | None = None, held: bool = False,
    rng: random.Random | None = None,
) -> list[int]:
    """``n`` distinct track ids, each draw uniform over the tracks passing the filters."""
    rng = rng or random.Random()
    lo, hi = conn.execute("SELECT (SELECT min(id) FROM tracks), (SELECT max(id) FROM tracks)").fetchone()
    if lo is None:
        return []
    where, params = _filters(min_popularity, held)
    chosen: list[int] = []
    seen: set[int] = set()
    tried = hits = 0
    for _ in range(REJECTION_ROUNDS):
        if len(chosen) >= n:
            break
        if tried >= BATCH and (n - len(chosen)) * tried > hits * BATCH * REJECTION_ROUNDS:
            break  # too few candidates pass: the exact path is cheaper
        # first round small (fast when most ids exist), later rounds sized by the observed acceptance
        want = n - len(chosen)
        size = 4 * want + 12 if not tried else min(20_000, max(BATCH, int(2 * want * tried / max(hits, 1))))
        candidates = [rng.randint(lo, hi) for _ in range(size)]
        marks = ",".join("?" * len(candidates))
        ok = {r[0] for r in conn.execute(f"SELECT t.id FROM tracks t WHERE t.id IN ({marks}) AND {where}",
                                         [*candidates, *params])}
        tried += len(candidates)
        hits += sum(c in ok for c in candidates)
        for c in candidates:
            if c in ok and c not in seen:
                seen.add(c)
                chosen.append(c)
                if len(chosen) >= n:
                    break
    if len(chosen) < n:
        chosen.extend(_exact(conn, n - len(chosen), seen, min_popularity, held, rng))
    return chosen


def _exact(
    conn: sqlite3.Connection, n: int, seen: set[int], min_popularity: int | None, held: bool, rng: random.Random
) -> list[int]:
    """Uniform positions in a fixed index order of the qualifying tracks (for sparse sets)."""
    if held:
        pop = "AND t.popularity >= ?" if min_popularity is not None else ""
        params: list[Any] = [min_popularity] if min_popularity is not None else []
        base = (f"SELECT DISTINCT tf.track_id FROM track_files tf JOIN tracks t ON t.id = tf.track_id "
                f"WHERE 1 {pop} ORDER BY tf.track_id")
    elif min_popularity is not None:
        base = "SELECT t.id FROM tracks t WHERE t.popularity >= ? ORDER BY t.popularity, t.id"
        params = [min_popularity]
    else:
        base = "SELECT t.id FROM tracks t ORDER BY t.id"
        params = []
    count = conn.execute(f"SELECT count(*) FROM ({base})", params).fetchone()[0]
    remaining = count - len(seen)
    picked: list[int] = []
    tried: set[int] = set()
    while len(picked) < min(n, remaining) and len(tried) < count:
        k = rng.randrange(count)
        if k in tried:
            continue
        tried.add(k)
        row = conn.execute(f"{base} LIMIT 1 OFFSET ?", [*params, k]).fetchone()
        if row is not None and row[0] not in seen:
            seen.add(row[0])
            picked.append(row[0])
    return picked


def shuffle(
    archive: Archive, n: int = 1, min_popularity: int | None = None, held: bool = False, seed: int | None = None
) -> list[dict[str, Any]]:
    """``n`` uniformly random distinct tracks (full records, see :func:`lookup.track_details`).

    ``min_popularity`` keeps tracks with popularity >= P; ``held`` keeps tracks the store holds a
    file for (``track_files``). ``seed`` makes the draw reproducible.
    """
    if not 1 <= n <= MAX_N:
        raise QueryError(f"shuffle: -n must be between 1 and {MAX_N}, got {n}")
    if min_popularity is not None and not 0 <= min_popularity <= 100:
        raise QueryError(f"shuffle: --min-popularity must be between 0 and 100, got {min_popularity}")
    ids = shuffle_ids(archive.conn, n, min_popularity, held, random.Random(seed))
    return track_details(archive.conn, ids)
