"""The `digits` evaluator: scikit-learn's 8x8 handwritten digits (1,797 images).

The split into train, dev and test is deterministic and fingerprinted; the test
labels never leave the grading side. Predictions arrive as CSV (`id,label`) or
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

SPLIT_SEED = 20261126
SIZES = {"dev": 300, "test": 300}  # the rest (1,197) is train
MAX_PREDICTION_BYTES = 1 << 20
NUM_CLASSES = 10


class PredictionsRejected(ValueError):
    """A predictions file that cannot be scored; the message says exactly why."""


@dataclass(frozen=True)
class Split:
    name: str
    images: NDArray[np.float32]  # (n, 1, 8, 8), scaled to [0, 1]
    labels: NDArray[np.int64]
    indices: NDArray[np.int64]  # rows of load_digits()

    @property
    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for part in (self.indices, self.images, self.labels):
            h.update(np.ascontiguousarray(part).tobytes())
        return h.hexdigest()


@cache
def splits() -> dict[str, Split]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
    dev, test = SIZES["dev"], SIZES["test"]
    parts = {"dev": order[:dev], "test": order[dev : dev + test], "train": order[dev + test :]}
    return {name: Split(name, images[idx], labels[idx], idx) for name, idx in parts.items()}


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


def score(split: str, predicted: NDArray[np.int64]) -> dict[str, float | None]:
    truth = splits()[split].labels
    return {
        "accuracy": float(np.mean(predicted == truth)),
        "macro_f1": macro_f1(truth, predicted),
        "params": None,
        "train_time_s": None,
    }


def score_predictions(split: str, data: bytes, file_name: str) -> dict[str, float | None]:
    return score(split, parse_predictions(data, file_name, len(splits()[split].labels)))
