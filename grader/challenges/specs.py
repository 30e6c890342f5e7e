"""Where challenges come from: shipped specs, and those a host imported (data folder)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from submissions_schema.challenges import Challenge

SHIPPED = Path(__file__).resolve().parent / "specs"


class ChallengeSpecError(ValueError):
    pass


def imported_dir(data_dir: Path) -> Path:
    return data_dir / "challenges"


def load_challenge_file(path: Path) -> Challenge:
    try:
        return Challenge.model_validate(yaml.safe_load(path.read_text()))
    except (yaml.YAMLError, ValidationError) as exc:
        raise ChallengeSpecError(f"{path}: {exc}") from None


def _current_versions(folder: Path) -> list[Path]:
    """Each imported bundle's version in force: <name>/current names its folder."""
    found = []
    for pointer in sorted(folder.glob("*/current")):
        spec = pointer.parent / pointer.read_text().strip() / "challenge.yaml"
        if spec.is_file():
            found.append(spec)
    return found


def all_challenges(data_dir: Path | None = None) -> dict[str, Challenge]:
    """The shipped challenges, and those imported into `data_dir` (a host's data folder):
    config-only imports (<name>.yaml) and bundles (<name>/<version>/, see bundle.py)."""
    found: dict[str, Challenge] = {}
    for folder in (SHIPPED, *([imported_dir(data_dir)] if data_dir else [])):
        if not folder.is_dir():
            continue
        paths = sorted(folder.glob("*.yaml"))
        if folder != SHIPPED:
            paths += _current_versions(folder)
        for path in paths:
            challenge = load_challenge_file(path)
            found.setdefault(challenge.name, challenge)  # a shipped name is never replaced
    return found


def get_challenge(name: str, data_dir: Path | None = None) -> Challenge:
    challenges = all_challenges(data_dir)
    if name not in challenges:
        raise KeyError(f"no challenge {name!r}; known: {', '.join(sorted(challenges)) or 'none'}")
    return challenges[name]


def save_imported(challenge: Challenge, data_dir: Path) -> Path:
    """A config-only import (a built-in evaluator scores it), replacing a bundle of that name."""
    folder = imported_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / challenge.name / "current").exists():  # older versions stay, unpointed
        (folder / challenge.name / "current").unlink()
    path = folder / f"{challenge.name}.yaml"
    path.write_text(
        yaml.safe_dump(challenge.model_dump(mode="json", by_alias=True), sort_keys=False)
    )
    return path
