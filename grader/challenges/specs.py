"""Where challenges come from: shipped specs, and those a host imported (data folder)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from grader.settings import get_settings
from submissions_schema.challenges import Challenge

SHIPPED = Path(__file__).resolve().parent / "specs"


class ChallengeSpecError(ValueError):
    pass


def imported_dir() -> Path:
    return get_settings().data_dir / "challenges"


def load_challenge_file(path: Path) -> Challenge:
    try:
        return Challenge.model_validate(yaml.safe_load(path.read_text()))
    except (yaml.YAMLError, ValidationError) as exc:
        raise ChallengeSpecError(f"{path}: {exc}") from None


def all_challenges() -> dict[str, Challenge]:
    found: dict[str, Challenge] = {}
    for folder in (SHIPPED, imported_dir()):
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            challenge = load_challenge_file(path)
            found[challenge.name] = challenge
    return found


def get_challenge(name: str) -> Challenge:
    challenges = all_challenges()
    if name not in challenges:
        raise KeyError(f"no challenge {name!r}; known: {', '.join(sorted(challenges)) or 'none'}")
    return challenges[name]


def save_imported(challenge: Challenge) -> Path:
    folder = imported_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{challenge.name}.yaml"
    path.write_text(
        yaml.safe_dump(challenge.model_dump(mode="json", by_alias=True), sort_keys=False)
    )
    return path
