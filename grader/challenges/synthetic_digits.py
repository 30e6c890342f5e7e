"""Handwriting-like digits in scikit-learn's 8x8 format, drawn from a seed.

The digits challenge's test split comes from here, with a seed only the host knows: its
labels are then in no public file (scikit-learn ships every one of its 1,797 images with
its label, so no split of them can be private). Each digit is a few pen strokes; a draw
jitters them, shears, rotates, wobbles and thickens the pen, size-normalises the ink
into a 32x32 bitmap, and counts the ink in 4x4 blocks (0-16), as the UCI optdigits data
behind scikit-learn's was made. A support-vector classifier fitted on scikit-learn's
digits labels about nine in ten of these correctly (tests/challenges/test_digits.py).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Points = NDArray[np.float64]


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float) -> Points:
    t = np.radians(np.linspace(a0, a1, 48))
    return np.stack([cx + rx * np.cos(t), cy - ry * np.sin(t)], axis=1)


def _line(*points: tuple[float, float]) -> Points:
    p = np.asarray(points, dtype=np.float64)
    return np.concatenate([np.linspace(p[i], p[i + 1], 20) for i in range(len(p) - 1)])


def _join(*pieces: Points) -> Points:
    return np.concatenate(pieces)


# Pen strokes in a unit box (x right, y down). One stroke is one array of points.
STROKES: dict[int, list[Points]] = {
    0: [_arc(0.5, 0.5, 0.3, 0.45, 0, 360)],
    1: [_line((0.35, 0.25), (0.55, 0.05), (0.55, 0.95))],
    2: [_join(_arc(0.5, 0.3, 0.28, 0.25, 160, -40),
              _line((0.71, 0.46), (0.2, 0.95), (0.8, 0.95)))],
    3: [_arc(0.47, 0.27, 0.27, 0.22, 150, -90), _arc(0.47, 0.71, 0.3, 0.24, 90, -150)],
    4: [_line((0.6, 0.05), (0.15, 0.65), (0.85, 0.65)), _line((0.62, 0.3), (0.62, 0.95))],
    5: [_join(_line((0.8, 0.05), (0.3, 0.05), (0.26, 0.45)),
              _arc(0.47, 0.66, 0.3, 0.28, 130, -150))],
    6: [_join(_line((0.62, 0.02), (0.3, 0.45)), _arc(0.5, 0.68, 0.27, 0.27, 170, 530))],
    7: [_line((0.15, 0.05), (0.85, 0.05), (0.45, 0.95)), _line((0.4, 0.5), (0.8, 0.5))],
    8: [_arc(0.5, 0.27, 0.18, 0.22, -90, 270), _arc(0.5, 0.72, 0.21, 0.24, 90, 450)],
    9: [_join(_arc(0.5, 0.3, 0.28, 0.25, 0, 360), _line((0.78, 0.3), (0.65, 0.95)))],
}  # fmt: skip

_PIXELS = np.stack(np.meshgrid(np.arange(32) + 0.5, np.arange(32) + 0.5), -1).reshape(-1, 2)


def draw(label: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """One 8x8 image of `label`, ink counts 0-16 as in `sklearn.datasets.load_digits`."""
    points = np.concatenate([s + rng.normal(0, 0.02, size=(1, 2)) for s in STROKES[label]])
    points = points - 0.5
    angle, shear = np.radians(rng.uniform(-12, 12)), rng.uniform(-0.25, 0.25)
    rotate = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    stretch = np.diag([rng.uniform(0.75, 1.1), rng.uniform(0.9, 1.1)])
    points = points @ (rotate @ np.array([[1.0, shear], [0.0, 1.0]]) @ stretch).T
    points += 0.015 * np.sin(points[:, ::-1] * rng.uniform(4, 9) + rng.uniform(0, 2 * np.pi, 2))
    low, high = points.min(axis=0), points.max(axis=0)
    points = (points - (low + high) / 2) * (26 / max(high - low)) + 16
    pen = rng.uniform(2.2, 3.3)
    nearest = ((_PIXELS[:, None, :] - points[None, :, :]) ** 2).sum(-1).min(axis=1)
    ink = (nearest < pen * pen).reshape(8, 4, 8, 4)  # rows of 32 pixels, in 4x4 blocks
    return ink.sum(axis=(1, 3)).astype(np.float64)


def draw_many(n: int, seed: int) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """`n` images (n, 8, 8) with labels as balanced as n allows, in a shuffled order."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 10).astype(np.int64)
    return np.stack([draw(int(label), rng) for label in labels]), labels
