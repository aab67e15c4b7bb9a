"""Expected listens per track: listen counts when known, else a monotone popularity mapping.

The default mapping is log-linear in popularity (0–100)::

    listens(p) = scale * floor * 10 ** (exponent * p)

calibrated in docs/plan.md to the public facts about the reference catalog (≥70 % of tracks under
1,000 plays, ~0.1 % of tracks — popularity ≥ 50 — drawing most plays, the top tracks at a few
billion plays). A track with neither listens nor popularity gets the popularity-0 value (``floor``)
and is counted as missing, so NaN never reaches the planner.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ListensModel:
    floor: float = 3.0
    exponent: float = 0.092
    scale: float = 1.0

    def from_popularity(self, popularity: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Expected listens for popularity values (clipped to 0–100; NaN → popularity 0)."""
        p = np.nan_to_num(np.asarray(popularity, dtype=np.float64), nan=0.0)
        p = np.clip(p, 0.0, 100.0)
        return self.scale * self.floor * np.power(10.0, self.exponent * p)

    def expected(self, popularity: npt.NDArray[np.floating] | None,
                 listens: npt.NDArray[np.floating] | None, n: int) -> F32:
        """Per-track expected listens (float32, finite, >= 0): listens if known, else the mapping."""
        if popularity is None:
            est = np.full(n, self.scale * self.floor, dtype=np.float64)
        else:
            est = self.from_popularity(popularity)
        if listens is not None:
            lis = np.asarray(listens, dtype=np.float64)
            known = np.isfinite(lis) & (lis >= 0)
            est = np.where(known, lis, est)
        return np.asarray(np.clip(est, 0.0, 3.0e38), dtype=np.float32)


def share_above(listens: npt.ArrayLike, fraction: float) -> float:
    """Share of all listens drawn by the top ``fraction`` of tracks (for calibration checks)."""
    arr = np.sort(np.asarray(listens, dtype=np.float64))[::-1]
    k = max(1, int(round(len(arr) * fraction)))
    total = float(arr.sum())
    return float(arr[:k].sum() / total) if total > 0 else 0.0
