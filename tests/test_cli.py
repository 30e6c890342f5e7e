"""`dlgrader reference check` end to end, as a TA runs it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from reference_impl.parity import all_cases
from reference_impl.torch_ref import cuda_available


def dlgrader(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grader.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_reference_check_prints_every_op_and_exits_0() -> None:
    proc = dlgrader("reference", "check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for case in all_cases():
        assert case.op in proc.stdout
    assert f"all {len(all_cases())} checks agree" in proc.stdout


@pytest.mark.skipif(cuda_available(), reason="this machine has CUDA")
def test_reference_check_on_missing_cuda_says_so() -> None:
    proc = dlgrader("reference", "check", "--device", "cuda")
    assert proc.returncode == 3
    assert "no CUDA device" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_device_is_a_clear_error() -> None:
    proc = dlgrader("reference", "check", "--device", "tpu")
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
