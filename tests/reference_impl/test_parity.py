"""The parity suite `dlgrader reference check` prints, case by case."""

from __future__ import annotations

import pytest

from reference_impl.parity import all_cases
from reference_impl.torch_ref import TorchReference, cuda_available

CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.op for c in CASES])
def test_case_agrees_on_cpu(case, ref) -> None:  # type: ignore[no-untyped-def]
    result = case.run(ref, seed=0)
    assert result.passed, result.failures


@pytest.mark.parametrize("seed", [1, 2])
def test_suite_agrees_for_other_seeds(seed: int, ref: TorchReference) -> None:
    failures = {c.op: r.failures for c in CASES if not (r := c.run(ref, seed)).passed}
    assert not failures


@pytest.mark.cuda
@pytest.mark.skipif(not cuda_available(), reason="no CUDA device")
def test_suite_agrees_on_cuda() -> None:
    ref = TorchReference("cuda")
    failures = {c.op: r.failures for c in CASES if not (r := c.run(ref, 0)).passed}
    assert not failures
