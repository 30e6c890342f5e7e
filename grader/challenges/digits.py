"""The `digits` evaluator: 8x8 handwritten digits.

Train (1,497 images) and dev (300) are scikit-learn's digits, split by a published seed:
anyone can rebuild them, labels included. The test split (300) is the host's own: drawn
by `synthetic_digits` from a seed derived from the host's secret, so its labels exist on
the grading side only and nothing shipped can recompute them. Every split is
fingerprinted. Predictions arrive as CSV (`id,label`) or
JSON (`[label, ...]`, `{"predictions": [...]}` or `[{"id": i, "label": l}, ...]`),
and are parsed defensively: every problem is one clear sentence.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from grader.challenges.synthetic_digits import draw_many

SPLIT_SEED = 20261126
DEV_SIZE = 300  # the rest of scikit-learn's 1,797 (1,497) is train
TEST_SIZE = 300  # drawn for the host
MAX_PREDICTION_BYTES = 1 << 20
NUM_CLASSES = 10


class PredictionsRejected(ValueError):
    """A predictions file that cannot be scored; the message says exactly why."""


@dataclass(frozen=True)
class Split:
    name: str
    images: NDArray[np.float32]  # (n, 1, 8, 8), scaled to [0, 1]
    labels: NDArray[np.int64]

    @property
    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for part in (self.images, self.labels):
            h.update(np.ascontiguousarray(part).tobytes())
        return h.hexdigest()


def _scaled(counts: NDArray[np.float64]) -> NDArray[np.float32]:
    return (counts / 16.0).astype(np.float32)[:, None, :, :]


@cache
def splits(private_seed: int) -> dict[str, Split]:
    """train, dev and test; `private_seed` (the host's, see Settings.private_seed) draws
    the test split."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images, labels = _scaled(digits.images), digits.target.astype(np.int64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
    dev, train = order[:DEV_SIZE], order[DEV_SIZE:]
    test_images, test_labels = draw_many(TEST_SIZE, private_seed)
    return {
        "train": Split("train", images[train], labels[train]),
        "dev": Split("dev", images[dev], labels[dev]),
        "test": Split("test", _scaled(test_images), test_labels),
    }


def parse_predictions(data: bytes, file_name: str, n: int) -> NDArray[np.int64]:
    if len(data) > MAX_PREDICTION_BYTES:
        raise PredictionsRejected(f"the file is {len(data)} bytes; at most {MAX_PREDICTION_BYTES}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PredictionsRejected("the file is not UTF-8 text") from None
    pairs = _json_pairs(text) if file_name.lower().endswith(".json") else _csv_pairs(text)
    labels = np.full(n, -1, dtype=np.int64)
    for row, (ident, label) in enumerate(pairs, start=1):
        if not 0 <= ident < n:
            raise PredictionsRejected(f"entry {row}: id {ident} is outside 0..{n - 1}")
        if labels[ident] != -1:
            raise PredictionsRejected(f"entry {row}: id {ident} appears twice")
        if not 0 <= label < NUM_CLASSES:
            raise PredictionsRejected(f"entry {row}: label {label} is not a digit 0-9")
        labels[ident] = label
    missing = np.flatnonzero(labels == -1)
    if missing.size:
        raise PredictionsRejected(
            f"{missing.size} of {n} ids have no prediction (the first: {int(missing[0])})"
        )
    return labels


def _int(value: Any, what: str, row: int) -> int:
    if isinstance(value, bool):
        raise PredictionsRejected(f"entry {row}: {what} {value!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise PredictionsRejected(f"entry {row}: {what} {value!r} is not an integer")


def _csv_pairs(text: str) -> list[tuple[int, int]]:
    rows = list(csv.reader(io.StringIO(text)))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise PredictionsRejected("the CSV is empty")
    header = [c.strip().lower() for c in rows[0]]
    if header[:2] != ["id", "label"]:
        raise PredictionsRejected("the CSV must start with the header `id,label`")
    pairs = []
    for row, cells in enumerate(rows[1:], start=1):
        if len(cells) != 2:
            raise PredictionsRejected(f"entry {row}: expected 2 columns, found {len(cells)}")
        pairs.append((_int(cells[0], "id", row), _int(cells[1], "label", row)))
    return pairs


def _json_pairs(text: str) -> list[tuple[int, int]]:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise PredictionsRejected(f"not valid JSON: {exc}") from None
    if isinstance(doc, dict):
        if "predictions" not in doc:
            raise PredictionsRejected('a JSON object needs a "predictions" list')
        doc = doc["predictions"]
    if not isinstance(doc, list):
        raise PredictionsRejected("the predictions must be a list")
    pairs = []
    for row, item in enumerate(doc, start=1):
        if isinstance(item, dict):
            pairs.append((_int(item.get("id"), "id", row), _int(item.get("label"), "label", row)))
        else:
            pairs.append((row - 1, _int(item, "label", row)))
    return pairs


def macro_f1(truth: NDArray[np.int64], predicted: NDArray[np.int64]) -> float:
    from sklearn.metrics import f1_score

    return float(
        f1_score(
            truth, predicted, average="macro", labels=list(range(NUM_CLASSES)), zero_division=0
        )
    )


def score(split: Split, predicted: NDArray[np.int64]) -> dict[str, float | None]:
    truth = split.labels
    return {
        "accuracy": float(np.mean(predicted == truth)),
        "macro_f1": macro_f1(truth, predicted),
        "params": None,
        "train_time_s": None,
    }


def score_predictions(split: Split, data: bytes, file_name: str) -> dict[str, float | None]:
    return score(split, parse_predictions(data, file_name, len(split.labels)))
