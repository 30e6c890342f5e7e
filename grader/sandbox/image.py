"""Building the Docker sandbox image (`dlgrader sandbox build`)."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grader.sandbox.base import HARNESS_DIR, HARNESS_FILES

DOCKERFILE = Path(__file__).resolve().parents[2] / "deploy" / "sandbox.Dockerfile"
DEFAULT_IMAGE = "dlgrader-sandbox:latest"
HARNESS_LABEL = "org.dlgrader.harness"


def harness_digest() -> str:
    """The harness an image must carry; an image built with another one is stale."""
    digest = hashlib.sha256()
    for name in HARNESS_FILES:
        digest.update(name.encode() + b"\0" + (HARNESS_DIR / name).read_bytes())
    return digest.hexdigest()


def image_problem(client: Any, tag: str = DEFAULT_IMAGE) -> str | None:
    """None when `tag` exists and carries this harness, else what is wrong."""
    try:
        image = client.images.get(tag)
    except Exception:
        return f"the sandbox image {tag} is missing: run `dlgrader sandbox build`"
    if (image.labels or {}).get(HARNESS_LABEL) != harness_digest():
        return f"the sandbox image {tag} holds an older harness: run `dlgrader sandbox build`"
    return None


HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


def build_sandbox_image(
    tag: str = DEFAULT_IMAGE,
    base_image: str | None = None,
    torch_wheel: Path | None = None,
    torch_index_url: str | None = None,
    log: Callable[[str], None] = print,
) -> str:
    """Build the image; returns its id. A local torch wheel (CPU machines keep one on disk)
    avoids downloading torch; a CUDA index URL gives GPU servers their build."""
    import docker

    client = docker.from_env()
    with tempfile.TemporaryDirectory(prefix="dlgrader-image-") as tmp:
        context = Path(tmp)
        build = context / "build"
        build.mkdir()
        shutil.copyfile(DOCKERFILE, context / "Dockerfile")
        (build / "harness").mkdir()
        for name in HARNESS_FILES:
            (build / "harness" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(HARNESS_DIR / name, build / "harness" / name)
        if HOST_CA.exists():
            shutil.copyfile(HOST_CA, build / "ca.crt")
        else:
            (build / "ca.crt").write_text("")
        if torch_wheel is not None:
            shutil.copyfile(torch_wheel, build / torch_wheel.name)
        buildargs = {"HARNESS_DIGEST": harness_digest()}
        if base_image:
            buildargs["BASE_IMAGE"] = base_image
        if torch_index_url:
            buildargs["TORCH_INDEX_URL"] = torch_index_url
        image_id = ""
        for chunk in client.api.build(
            path=str(context), tag=tag, buildargs=buildargs, rm=True, forcerm=True, decode=True
        ):
            if "stream" in chunk and chunk["stream"].strip():
                log(chunk["stream"].rstrip())
            if "error" in chunk:
                raise RuntimeError(f"sandbox image build failed: {chunk['error'].strip()}")
            if "aux" in chunk and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
        return image_id


DERIVED_DOCKERFILE = """\
FROM {base}
USER 0
COPY build/ /tmp/build/
RUN set -eu; export PIP_CERT=/tmp/build/ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1; \\
    /opt/venv/bin/pip install --no-cache-dir {options} -r /tmp/build/requirements.txt; \\
    chmod -R a+rX /opt/venv; rm -rf /tmp/build
USER 65534:65534
"""


def build_derived_image(
    base: str,
    tag: str,
    requirements: list[str],
    find_links: list[str],
    no_index: bool,
    log: Callable[[str], None] = print,
) -> None:
    """The sandbox image with other packages (a course's environment) installed over
    its own; the harness, and its label, come from the base."""
    import docker

    client = docker.from_env()
    problem = image_problem(client, base)
    if problem:
        raise RuntimeError(problem)
    with tempfile.TemporaryDirectory(prefix="dlgrader-env-image-") as tmp:
        context = Path(tmp)
        build = context / "build"
        build.mkdir()
        (build / "requirements.txt").write_text("\n".join(requirements) + "\n")
        if HOST_CA.exists():
            shutil.copyfile(HOST_CA, build / "ca.crt")
        else:
            (build / "ca.crt").write_text("")
        options = []
        for i, folder in enumerate(find_links):
            shutil.copytree(folder, build / f"wheels{i}")
            options.append(f"--find-links /tmp/build/wheels{i}")
        if no_index:
            options.append("--no-index")
        dockerfile = DERIVED_DOCKERFILE.format(base=base, options=" ".join(options))
        (context / "Dockerfile").write_text(dockerfile)
        for chunk in client.api.build(
            path=str(context), tag=tag, rm=True, forcerm=True, decode=True
        ):
            if "stream" in chunk and chunk["stream"].strip():
                log(chunk["stream"].rstrip())
            if "error" in chunk:
                raise RuntimeError(f"environment image build failed: {chunk['error'].strip()}")


def image_exists(tag: str) -> bool:
    """Whether the daemon has `tag`, carrying this harness."""
    import docker

    try:
        return image_problem(docker.from_env(), tag) is None
    except Exception:
        return False
