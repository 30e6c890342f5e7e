"""A course's known mistakes (`bugs.yaml` beside an assignment's solution).

Each is a realistic mistake planted by find/replace in the staff solution or a correct
solution of the corpus, with the functions it must lose points on. `dlgrader assignment
check` proves the cases catch every one (grader/grading/zoo.py); one with a `tell:` is
also a hint: where a student's output matches what the mistake computes on the same
inputs, the student is told it (grader/grading/cases.py runs them with the solution).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader.grading.specs import SpecError

ZOO_FILE = "bugs.yaml"


class Edit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    find: str = Field(description="the exact text, indentation included")
    replace: str
    first: bool = Field(False, description="the text is there more than once: take the first")


class Bug(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    base: str = Field(
        "", description="the solution it is planted in: a corpus file; '' the solution"
    )
    edits: list[Edit] = Field(min_length=1)
    breaks: set[str] = Field(min_length=1, description="the functions that must lose points")
    hint: str | None = Field(None, description="words of the hint that must name it")
    tell: str | None = Field(
        None,
        description="a hint for students: told where their output matches this mistake's",
    )

    @property
    def expected_hint(self) -> str | None:
        return self.hint or self.tell

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


def plant(source: str, bug: Bug) -> str:
    """The source with each edit made once. An edit whose text is not there, or is there
    more than once without `first: true`, is the zoo's mistake, said with the bug's name."""
    where = bug.base or "the solution"
    for edit in bug.edits:
        count = source.count(edit.find)
        if count == 0:
            raise SpecError(f"bug {bug.name!r}: {edit.find!r} is not in {where}")
        if count > 1 and not edit.first:
            raise SpecError(
                f"bug {bug.name!r}: {edit.find!r} is in {where} {count} times; make it "
                "unique, or say first: true to change the first"
            )
        source = source.replace(edit.find, edit.replace, 1)
    return source
