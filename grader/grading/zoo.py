"""The staff's own evidence that an assignment's tests are right.

Next to its solution an assignment keeps a corpus of differently written correct
solutions (`correct/*.py`: each must get full marks) and a bug zoo (`bugs.yaml`: each
entry a realistic mistake planted in one of those solutions, with the functions it
breaks and, where the grader knows the mistake, words of the hint that names it). Both
are graded in one sandbox batch, exactly as students are judged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader.grading.cases import Case
from grader.grading.specs import Assignment, SpecError
from grader.grading.variants import Variant, grade_variants
from grader.sandbox import Sandbox
from submissions_schema import TestResult, TestStatus


class Edit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    find: str
    replace: str


class Bug(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    base: str = Field(
        "", description="the solution it is planted in: a corpus file; '' the solution"
    )
    edits: list[Edit] = Field(min_length=1)
    breaks: set[str] = Field(min_length=1, description="the functions that must lose points")
    hint: str | None = Field(None, description="words of the hint that names the mistake")
    why: str = ""


class Zoo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bugs: list[Bug]


def load_zoo(path: Path) -> list[Bug]:
    try:
        data = yaml.safe_load(path.read_text())
        return Zoo.model_validate(data).bugs
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        raise SpecError(f"{path}: {exc}") from None


def corpus_sources(folder: Path, module: str) -> dict[str, str]:
    """The solution ('') and every correct/*.py beside it, by the name a bug's base uses."""
    sources = {"": (folder / f"{module}.py").read_text()}
    for path in sorted((folder / "correct").glob("*.py")):
        sources[f"correct/{path.name}"] = path.read_text()
    return sources


def plant(source: str, bug: Bug) -> str:
    """The source with each edit made once; an edit whose text is not there is the zoo's
    mistake, said with the bug's name."""
    for edit in bug.edits:
        if edit.find not in source:
            raise SpecError(
                f"bug {bug.name!r}: {edit.find!r} is not in {bug.base or 'the solution'}"
            )
        source = source.replace(edit.find, edit.replace, 1)
    return source


def failed_functions(tests: list[TestResult]) -> set[str]:
    return {t.function for t in tests if t.status != TestStatus.passed}


@dataclass(frozen=True)
class CorpusVerdict:
    name: str
    tests: list[TestResult]

    @property
    def full_marks(self) -> bool:
        return not failed_functions(self.tests)


@dataclass(frozen=True)
class BugVerdict:
    bug: Bug
    tests: list[TestResult]

    @property
    def broken(self) -> set[str]:
        return failed_functions(self.tests)

    @property
    def exact(self) -> bool:
        """It loses points on exactly the functions it breaks."""
        return self.broken == self.bug.breaks

    @property
    def hints(self) -> list[str]:
        return sorted({t.hint for t in self.tests if t.function in self.bug.breaks and t.hint})

    @property
    def named(self) -> bool:
        """A hint names the mistake (the words the zoo expects are in one)."""
        words = self.bug.hint
        return words is not None and any(words in h for h in self.hints)


def check_corpus(
    assignment: Assignment, sources: dict[str, str], cases: list[Case], box: Sandbox
) -> list[CorpusVerdict]:
    variants = [Variant(f"correct_{i:03d}", s) for i, s in enumerate(sources.values())]
    results = grade_variants(variants, cases, assignment, box)
    return [CorpusVerdict(n, results[v.module]) for n, v in zip(sources, variants, strict=True)]


def check_zoo(
    assignment: Assignment,
    bugs: list[Bug],
    sources: dict[str, str],
    cases: list[Case],
    box: Sandbox,
) -> list[BugVerdict]:
    """Each bug planted in its base (`sources`: '' the solution, else corpus names) and
    graded on every problem."""
    for bug in bugs:
        if bug.base not in sources:
            raise SpecError(f"bug {bug.name!r}: no solution {bug.base!r} to plant it in")
    variants = [Variant(f"bug_{i:03d}", plant(sources[b.base], b)) for i, b in enumerate(bugs)]
    results = grade_variants(variants, cases, assignment, box)
    graded = {t.function for tests in results.values() for t in tests}
    for bug in bugs:
        if unknown := bug.breaks - graded:
            raise SpecError(
                f"bug {bug.name!r} breaks {', '.join(sorted(unknown))}, which no test grades;"
                f" the graded functions are {', '.join(sorted(graded))}"
            )
    return [BugVerdict(b, results[v.module]) for b, v in zip(bugs, variants, strict=True)]
