"""An EvalAI challenge_config.yaml becomes the same phases, splits and schema here."""

from __future__ import annotations

import pytest

from grader.challenges.evalai import EvalAIImportError, import_evalai_config
from submissions_schema.challenges import SplitVisibility

CONFIG = """
title: Random Number Generator Challenge
description: templates/description.html
evaluation_script: evaluation_script.zip
remote_evaluation: false
is_docker_based: false
start_date: 2019-01-01 00:00:00
leaderboard:
  - id: 1
    schema:
      labels: ["Metric1", "Metric2", "Metric3", "Total"]
      default_order_by: "Total"
      metadata:
        Metric2: {sort_ascending: true, description: "lower is better"}
challenge_phases:
  - id: 1
    name: Dev Phase
    description: templates/challenge_phase_1_description.html
    leaderboard_public: false
    is_public: true
    is_submission_public: true
    start_date: 2019-01-19 00:00:00
    end_date: 2099-04-25 23:59:59
    test_annotation_file: annotations/test_annotations_devsplit.json
    codename: dev
    max_submissions_per_day: 5
    max_submissions_per_month: 50
    max_submissions: 50
    max_concurrent_submissions_allowed: 3
    allowed_submission_file_types: ".json, .zip, .txt"
    is_restricted_to_select_one_submission: false
  - id: 2
    name: Test Phase
    leaderboard_public: true
    is_public: true
    start_date: 2019-01-01 00:00:00
    end_date: 2099-04-25 23:59:59
    codename: test
    max_submissions_per_day: 5
    max_submissions: 50
    is_restricted_to_select_one_submission: true
dataset_splits:
  - {id: 1, name: Train Split, codename: train_split}
  - {id: 2, name: Test Split, codename: test_split}
challenge_phase_splits:
  - {challenge_phase_id: 1, leaderboard_id: 1, dataset_split_id: 1, visibility: 1,
     leaderboard_decimal_precision: 2, is_leaderboard_order_descending: true}
  - {challenge_phase_id: 2, leaderboard_id: 1, dataset_split_id: 1, visibility: 3,
     leaderboard_decimal_precision: 2, is_leaderboard_order_descending: true}
  - {challenge_phase_id: 2, leaderboard_id: 1, dataset_split_id: 2, visibility: 1,
     leaderboard_decimal_precision: 3, is_leaderboard_order_descending: false}
"""


def test_phases_splits_and_schema_carry_over() -> None:
    c = import_evalai_config(CONFIG, "rng", "digits")
    assert c.title == "Random Number Generator Challenge"
    assert [p.codename for p in c.phases] == ["dev", "test"]
    dev = c.phase("dev")
    assert (dev.max_submissions_per_day, dev.max_submissions_per_month, dev.max_submissions) == (
        5,
        50,
        50,
    )
    assert dev.allowed_submission_file_types == [".json", ".zip", ".txt"]
    assert dev.leaderboard_public is False
    assert c.phase("test").is_restricted_to_select_one_submission is True
    assert [d.codename for d in c.dataset_splits] == ["train_split", "test_split"]
    assert len(c.phase_splits) == 3
    hidden = c.phase_split("test", "test_split")
    assert hidden.visibility == SplitVisibility.host
    assert hidden.leaderboard_decimal_precision == 3
    assert hidden.is_leaderboard_order_descending is False
    assert c.phase_split("test", "train_split").visibility == SplitVisibility.public
    schema = c.leaderboard_schema(hidden)
    assert schema.labels == ["Metric1", "Metric2", "Metric3", "Total"]
    assert schema.default_order_by == "Total"
    assert schema.ascending("Metric2")


def test_what_is_not_supported_is_named() -> None:
    c = import_evalai_config(CONFIG, "rng", "digits")
    for name in (
        "evaluation_script (top level)",
        "remote_evaluation (top level)",
        "challenge_phases[dev].description",
    ):
        assert name in c.unsupported
    # What a bundle's files answer is handled; the per-phase fields take effect.
    bundled = import_evalai_config(CONFIG, "rng", "evalai-script", bundle=True)
    assert bundled.unsupported == [
        "remote_evaluation (top level)",
        "is_docker_based (top level)",
        "start_date (top level)",
    ]
    dev = bundled.phase("dev")
    assert dev.test_annotation_file == "annotations/test_annotations_devsplit.json"
    assert dev.is_submission_public is True
    assert bundled.phase("test").is_submission_public is False  # EvalAI's default
    assert ".npz" in bundled.phase("test").allowed_submission_file_types


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("title: [unclosed", "not valid YAML"),
        ("- a list", "not a mapping"),
        (
            CONFIG.replace('default_order_by: "Total"', 'default_order_by: "Nope"'),
            r"leaderboard\[1\]\.schema\.default_order_by 'Nope' is not one of its labels",
        ),
        (
            CONFIG.replace(
                "dataset_split_id: 2, visibility: 1", "dataset_split_id: 9, visibility: 1"
            ),
            "dataset_split_id is 9, which names no dataset split",
        ),
        (CONFIG.replace("visibility: 3", "visibility: 7"), "visibility must be 1, 2 or 3"),
    ],
)
def test_bad_configs_say_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(EvalAIImportError, match=words):
        import_evalai_config(text, "rng", "digits")
