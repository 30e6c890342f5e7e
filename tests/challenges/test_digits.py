"""The digits split and the predictions parser."""

from __future__ import annotations

import json

import numpy as np
import pytest

from grader.challenges.digits import PredictionsRejected, parse_predictions, score, splits


def test_split_is_deterministic_disjoint_and_fingerprinted() -> None:
    s = splits()
    assert {k: len(v.labels) for k, v in s.items()} == {"dev": 300, "test": 300, "train": 1197}
    everything = np.concatenate([v.indices for v in s.values()])
    assert len(np.unique(everything)) == 1797
    assert s["dev"].images.shape == (300, 1, 8, 8)
    assert s["dev"].images.min() >= 0
    assert s["dev"].images.max() <= 1
    splits.cache_clear()
    assert splits()["test"].fingerprint == s["test"].fingerprint


def test_perfect_and_chance_scores() -> None:
    truth = splits()["dev"].labels
    assert score("dev", truth)["accuracy"] == 1.0
    wrong = (truth + 1) % 10
    assert score("dev", wrong) == {
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
    labels = [int(v) for v in splits()["dev"].labels]
    parsed = parse_predictions(json.dumps(doc(labels)).encode(), "p.json", 300)
    assert parsed.tolist() == labels
