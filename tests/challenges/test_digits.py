"""The digits split and the predictions parser."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import load_digits

from grader.challenges.digits import PredictionsRejected, parse_predictions, score, splits


def test_split_is_deterministic_disjoint_and_fingerprinted() -> None:
    s = splits(7)
    assert {k: len(v.labels) for k, v in s.items()} == {"dev": 300, "test": 300, "train": 1497}
    public = np.concatenate([s["train"].images, s["dev"].images]).reshape(-1, 64)
    assert len(np.unique(public, axis=0)) == len(np.unique(load_digits().data, axis=0))
    for split in s.values():
        assert split.images.shape[1:] == (1, 8, 8)
        assert split.images.dtype == np.float32
        assert split.images.min() >= 0
        assert split.images.max() <= 1
    splits.cache_clear()
    assert splits(7)["test"].fingerprint == s["test"].fingerprint
    assert splits(8)["test"].fingerprint != s["test"].fingerprint
    assert splits(8)["dev"].fingerprint == s["dev"].fingerprint


def test_the_test_split_is_in_no_public_file() -> None:
    """No test image is one of scikit-learn's (whose labels ship with them), and the
    host's seed alone decides it: published code and data cannot recompute its labels."""
    test = splits(7)["test"]
    counts = np.rint(test.images.reshape(-1, 64) * 16)
    public = {row.tobytes() for row in load_digits().data}
    assert not any(row.tobytes() in public for row in counts)
    assert np.bincount(test.labels).tolist() == [30] * 10
    assert not np.array_equal(splits(8)["test"].labels, test.labels)


def test_a_model_of_the_public_digits_reads_the_drawn_ones() -> None:
    """The drawn test digits are the same task: a classifier fitted on scikit-learn's
    digits alone labels most of them right (a fair test split, not noise)."""
    from sklearn.svm import SVC

    digits = load_digits()
    model = SVC(gamma=0.001).fit(digits.data, digits.target)
    test = splits(7)["test"]
    accuracy = np.mean(model.predict(test.images.reshape(-1, 64) * 16) == test.labels)
    assert accuracy > 0.85


def test_perfect_and_chance_scores() -> None:
    dev = splits(7)["dev"]
    truth = dev.labels
    assert score(dev, truth)["accuracy"] == 1.0
    wrong = (truth + 1) % 10
    assert score(dev, wrong) == {
        "accuracy": 0.0,
        "macro_f1": 0.0,
        "params": None,
        "train_time_s": None,
    }


def csv_of(labels: list[int]) -> bytes:
    return ("id,label\n" + "\n".join(f"{i},{l}" for i, l in enumerate(labels))).encode()


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (b"", "p.csv", "empty"),
        (b"label\n1\n", "p.csv", "header `id,label`"),
        (csv_of([1] * 299), "p.csv", "1 of 300 ids have no prediction"),
        (csv_of([1] * 300) + b"\n299,1", "p.csv", "appears twice"),
        (csv_of([1] * 299 + [12]), "p.csv", "not a digit"),
        (b"id,label\n0,x\n", "p.csv", "not an integer"),
        (b"id,label\n400,1\n", "p.csv", "outside 0..299"),
        (b"{not json", "p.json", "not valid JSON"),
        (b'{"preds": []}', "p.json", '"predictions" list'),
        (json.dumps([True] * 300).encode(), "p.json", "not an integer"),
        (b"\xff\xfe", "p.csv", "not UTF-8"),
        (b"0" * (2 << 20), "p.csv", "at most"),
    ],
)
def test_bad_predictions_say_exactly_why(data: bytes, name: str, words: str) -> None:
    with pytest.raises(PredictionsRejected, match=words):
        parse_predictions(data, name, 300)


@pytest.mark.parametrize(
    "doc",
    [
        lambda labels: labels,
        lambda labels: {"predictions": labels},
        lambda labels: [{"id": i, "label": l} for i, l in reversed(list(enumerate(labels)))],
    ],
)
def test_json_forms(doc) -> None:  # type: ignore[no-untyped-def]
    labels = [int(v) for v in splits(7)["dev"].labels]
    parsed = parse_predictions(json.dumps(doc(labels)).encode(), "p.json", 300)
    assert parsed.tolist() == labels
