"""EvalAI challenge bundles: a host's folder or zip in the EvalAI-Starters layout, checked,
copied into a normalized folder and stored as a new version under the data folder.

    challenge_config.yaml        phases, splits, leaderboards (grader/challenges/evalai.py)
    evaluation_script/           a package whose __init__.py imports evaluate from main.py,
      (or the zip the config's     with an optional requirements.txt
       evaluation_script names)
    annotations/...              each phase's test_annotation_file: the host's private truth
    templates/*.html             the description, guidelines, terms, each phase's text

The bundle is hostile input: a zip goes through the upload checks (members, sizes, ratio,
links, traversal) and a folder through the untrusted readers (no links followed, no
FIFOs, caps on entries and bytes). A stored version is `<data>/challenges/<name>/<sha>/`
(content hash, kept beside older ones; `current` names the one in force), readable by
this host's user only: annotations are never served by any route.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

import yaml

from grader.challenges.evalai import EvalAIImportError, import_evalai_config, parse_config
from grader.challenges.specs import SHIPPED, all_challenges, imported_dir, load_challenge_file
from grader.untrusted_fs import UnreadableTree, copy_tree, read_bytes, read_text, walk_files
from submissions_schema.challenges import Challenge
from submissions_schema.environment import Environment

EVALAI_SCRIPT = "evalai-script"
EVALUATIONS = ("digits", EVALAI_SCRIPT)
CONFIG_FILE = "challenge_config.yaml"
SPEC_FILE = "challenge.yaml"  # the validated Challenge, written into each version
SCRIPT_DIR = "evaluation_script"
REQUIREMENTS = f"{SCRIPT_DIR}/requirements.txt"
MAX_CONFIG_BYTES = 1 << 20
MAX_TEMPLATE_BYTES = 256 << 10
MAX_FOLDER_ENTRIES = 20_000
TEMPLATE_KEYS = (
    "description",
    "evaluation_details",
    "terms_and_conditions",
    "submission_guidelines",
)
DIGITS_SPLITS = ("train", "dev", "test")  # grader/challenges/digits.py splits()
NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")


class BundleError(ValueError):
    """The bundle cannot be imported; the message says which file and why."""


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:100] or "challenge"


def check_evaluation(evaluation: str) -> str:
    if evaluation not in EVALUATIONS:
        raise BundleError(f"unknown evaluation {evaluation!r}; known: {', '.join(EVALUATIONS)}")
    return evaluation


def _nearest(root: Path, marker: str) -> Path | None:
    """The folder holding `marker` nearest the top of an (already copied, link-free) tree."""
    try:
        holders = [e.path.parent for e in walk_files(root) if e.path.name == marker]
    except UnreadableTree as exc:
        raise BundleError(str(exc)) from None
    return min(holders, key=lambda p: len(p.parts)) if holders else None


Unzip = Callable[[bytes, Path], None]
"""Unpacks a hostile zip into a folder or raises BundleError: the service's upload
checks (grader/service/uploads.py extract_zip), handed down, since the layers run one way."""


def _copy_folder(source: Path, dest: Path, max_bytes: int) -> None:
    """A folder as the untrusted readers see it: links and special files left behind."""
    try:
        total = sum(
            e.size
            for e in walk_files(source, max_entries=MAX_FOLDER_ENTRIES)
            if ".git" not in e.relative.parts
        )
    except UnreadableTree as exc:
        raise BundleError(f"{source}: {exc}") from None
    if total > max_bytes:
        raise BundleError(f"{source} holds {total} bytes; a bundle may hold {max_bytes}")
    copy_tree(source, dest, skip=frozenset({".git", "__pycache__"}))


def _inside(root: Path, relative: object, what: str) -> Path:
    """A path the config names, as a regular file inside the bundle, else BundleError."""
    if not isinstance(relative, str) or not relative.strip():
        raise BundleError(f"{what} must name a file in the bundle")
    parts = PurePosixPath(relative.strip()).parts
    if PurePosixPath(relative).is_absolute() or ".." in parts:
        raise BundleError(f"{what} {relative!r} must be a path inside the bundle")
    path = root.joinpath(*parts)
    if not path.is_file() or path.is_symlink():
        raise BundleError(f"{what} {relative!r} is not a file in the bundle")
    return path


def _copy_file(source: Path, target: Path, max_bytes: int, what: str) -> None:
    data = read_bytes(source, max_bytes)
    if data is None:
        raise BundleError(f"{what} is not a regular file of at most {max_bytes >> 10} KB")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def _script(root: Path, config_value: object, into: Path, max_bytes: int, unzip: Unzip) -> str:
    """The evaluation script package: the evaluation_script/ folder when the bundle has one
    (the Starters' repository: its run.sh and GitHub workflow rebuild the zip from that
    folder, so a zip beside it is a stale build), else the zip the config names (EvalAI's
    own upload). A note when a zip was left aside, else ""."""
    named = root / str(config_value) if isinstance(config_value, str) else None
    zipped = named is not None and str(config_value).endswith(".zip") and named.is_file()
    note = ""
    if (root / SCRIPT_DIR).is_dir() and not (root / SCRIPT_DIR).is_symlink():
        package: Path | None = root / SCRIPT_DIR
        if zipped:
            note = (
                f"evaluation_script ({config_value} is ignored: the {SCRIPT_DIR}/ folder "
                "beside it is the script, as EvalAI-Starters' run.sh and GitHub workflow "
                "rebuild the zip from that folder)"
            )
    elif zipped:
        data = read_bytes(_inside(root, config_value, "evaluation_script"), max_bytes)
        if data is None:
            raise BundleError(f"evaluation_script {config_value} is too large or not a file")
        scratch = into.parent / ".script-zip"
        unzip(data, scratch)
        package = _nearest(scratch, "__init__.py")
    else:
        raise BundleError(
            f"no evaluation script: neither {config_value or 'evaluation_script.zip'} nor an "
            f"{SCRIPT_DIR}/ folder is in the bundle"
        )
    if package is None or not (package / "__init__.py").is_file():
        raise BundleError("the evaluation script has no __init__.py (it must import evaluate)")
    into.mkdir(parents=True)
    copy_tree(package, into, skip=frozenset({"__pycache__"}))
    return note


def stage_bundle(
    source: Path, work: Path, name: str | None, max_bytes: int, unzip: Unzip
) -> tuple[Challenge, Path]:
    """Check a bundle (folder or .zip) and lay it out normalized under work/bundle:
    (the challenge it describes, that folder)."""
    raw, bundle = work / "raw", work / "bundle"
    raw.mkdir(parents=True)
    if source.is_file() and source.suffix.lower() == ".zip":
        data = read_bytes(source, max_bytes)
        if data is None:
            raise BundleError(f"{source} is not a regular file of at most {max_bytes >> 20} MB")
        unzip(data, raw)
    elif source.is_dir() and not source.is_symlink():
        _copy_folder(source, raw, max_bytes)
    else:
        raise BundleError(f"{source} is neither a bundle folder nor a .zip")
    root = _nearest(raw, CONFIG_FILE)
    if root is None:
        raise BundleError(f"the bundle holds no {CONFIG_FILE}")
    text = read_text(root / CONFIG_FILE, MAX_CONFIG_BYTES)
    if text is None:
        raise BundleError(f"{CONFIG_FILE} is not UTF-8 text of at most 1 MB")
    try:
        config = parse_config(text)
        title = str(config.get("title") or "")
        chosen = name or slug(title or source.stem)
        if not NAME.match(chosen):
            raise BundleError(f"{chosen!r} is not a challenge name (a-z, 0-9, '-', '_', '.')")
        challenge = import_evalai_config(text, chosen, EVALAI_SCRIPT, bundle=True)
    except EvalAIImportError as exc:
        raise BundleError(f"{CONFIG_FILE}: {exc}") from None
    bundle.mkdir()
    (bundle / CONFIG_FILE).write_text(text)
    script_note = _script(
        root, config.get("evaluation_script"), bundle / SCRIPT_DIR, max_bytes, unzip
    )
    for phase in challenge.phases:
        what = f"challenge_phases[{phase.codename}].test_annotation_file"
        if phase.test_annotation_file is None:
            raise BundleError(f"{what} is missing: evaluate() needs each phase's annotations")
        path = _inside(root, phase.test_annotation_file, what)
        stored = bundle.joinpath(*PurePosixPath(phase.test_annotation_file).parts)
        _copy_file(path, stored, max_bytes, what)
        if not any(ps.challenge_phase_id == phase.id for ps in challenge.phase_splits):
            raise BundleError(f"phase {phase.codename} is evaluated on no split")
    phase_texts = {
        f"phase-{p['codename']}": p.get("description")
        for p in config.get("challenge_phases") or []
        if isinstance(p.get("codename"), str)
    }
    notes = [script_note] if script_note else []
    for key, value in {**{k: config.get(k) for k in TEMPLATE_KEYS}, **phase_texts}.items():
        if isinstance(value, str) and value.strip().endswith(".html"):
            if key.startswith("phase-") and not (root / value.strip()).exists():
                # EvalAI keeps a phase whose description file is absent (no text);
                # the challenge's own templates it requires, and so do we.
                notes.append(
                    f"challenge_phases[{key[6:]}].description ({value.strip()} is "
                    "not in the bundle: the phase has no description)"
                )
                continue
            path = _inside(root, value, key)
            _copy_file(path, bundle / "templates" / f"{key}.html", MAX_TEMPLATE_BYTES, key)
    if notes:
        challenge = challenge.model_copy(update={"unsupported": [*challenge.unsupported, *notes]})
    if (bundle / REQUIREMENTS).is_file():
        from grader.grading.environments import EnvironmentFailed, with_requirements_file

        try:
            env = with_requirements_file(Environment(requirements_file=REQUIREMENTS), bundle)
        except EnvironmentFailed as exc:
            raise BundleError(str(exc)) from None
        if env.requirements:
            challenge = challenge.model_copy(update={"environment": env})
    return challenge, bundle


def version_dir(challenge: Challenge, data_dir: Path) -> Path:
    """Where an imported version's files are (its script, annotations, templates)."""
    return imported_dir(data_dir) / challenge.name / challenge.version


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    with open(home / ".import.lock", "w") as lock:  # one import of a name at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def store_bundle(
    challenge: Challenge, bundle: Path, data_dir: Path
) -> tuple[Challenge, Challenge | None]:
    """Make the staged bundle the current version of its name: (it, the one it replaces)."""
    from grader.grading.course import folder_digest

    shipped = {load_challenge_file(p).name for p in SHIPPED.glob("*.yaml")}
    if challenge.name in shipped:
        raise BundleError(f"{challenge.name} is a shipped challenge's name")
    sha = folder_digest(bundle)[:16]
    versioned = challenge.model_copy(update={"version": sha})
    home = imported_dir(data_dir) / challenge.name
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(imported_dir(data_dir), 0o700)  # the host's: annotations live here
    with _locked(home):
        previous = all_challenges(data_dir).get(challenge.name)
        target = home / sha
        if not target.is_dir():
            staging = Path(tempfile.mkdtemp(prefix=f".{sha}-", dir=home))
            shutil.copytree(bundle, staging, dirs_exist_ok=True)
            (staging / SPEC_FILE).write_text(
                yaml.safe_dump(versioned.model_dump(mode="json", by_alias=True), sort_keys=False)
            )
            os.replace(staging, target)
        pointer = home / ".current.tmp"
        pointer.write_text(sha + "\n")
        os.replace(pointer, home / "current")
        legacy = imported_dir(data_dir) / f"{challenge.name}.yaml"
        legacy.unlink(missing_ok=True)  # a config-only import of the same name is replaced
    return load_challenge_file(target / SPEC_FILE), previous


def build_environment(challenge: Challenge, sandbox: str) -> list[str]:
    """The script's requirements, installed once per version at import (uv's reason when
    one fails); for Docker also the derived image. What was installed."""
    if challenge.environment is None:
        return []
    from grader.grading.environments import EnvironmentFailed, build_image, build_site

    try:
        built = build_site(challenge.environment)
        from grader.sandbox.docker_sandbox import DockerSandbox

        # `auto` grades in Docker wherever its image is present: the image is needed there too.
        if sandbox == "docker" or (sandbox == "auto" and DockerSandbox.available() is None):
            build_image(challenge.environment, DockerSandbox().image)
    except EnvironmentFailed as exc:
        raise BundleError(f"{REQUIREMENTS}: {exc}") from None
    return built.installed


def import_config_only(text: str, name: str, evaluation: str) -> Challenge:
    """A bare challenge_config.yaml scored by a built-in evaluator: its splits must be
    ones that evaluator has (the digits splits: train, dev, test)."""
    check_evaluation(evaluation)
    if evaluation == EVALAI_SCRIPT:
        raise BundleError("evalai-script needs a bundle (a folder or zip with evaluation_script/)")
    try:
        challenge = import_evalai_config(text, name, evaluation)
    except EvalAIImportError as exc:
        raise BundleError(str(exc)) from None
    evaluated = {d.codename for d in challenge.dataset_splits}
    unknown = sorted(evaluated - set(DIGITS_SPLITS))
    if unknown:
        raise BundleError(
            f"the digits evaluator has the splits {', '.join(DIGITS_SPLITS)}; the config names "
            f"{', '.join(unknown)}: import a bundle with its own evaluation_script instead"
        )
    return challenge


def templates(challenge: Challenge, data_dir: Path) -> dict[str, str]:
    """The HTML texts an imported version keeps (description, evaluation_details,
    terms_and_conditions, submission_guidelines, phase-<codename>), raw and capped:
    the challenge page sanitizes them."""
    if not challenge.version:
        return {}
    folder = version_dir(challenge, data_dir) / "templates"
    found = {}
    for path in sorted(folder.glob("*.html")) if folder.is_dir() else []:
        text = read_text(path, MAX_TEMPLATE_BYTES)
        if text is not None:
            found[path.stem] = text
    return found
