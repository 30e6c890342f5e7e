"""`dlgrader env`: build, list and prune the environments courses pin."""

from __future__ import annotations

from typing import Annotated

import typer

from grader.cli.common import (
    EXIT_USAGE,
    add_plain_row,
    assignment_named,
    console,
    env_app,
    fail,
    new_table,
)


@env_app.command("build")
def env_build(
    name: Annotated[str, typer.Argument(help="an assignment with an environment.yaml")],
    docker: Annotated[
        bool, typer.Option(help="build the derived Docker image instead of the folder")
    ] = False,
    image: Annotated[str, typer.Option(help="the sandbox image to derive from")] = (
        "dlgrader-sandbox:latest"
    ),
) -> None:
    """Install the assignment's pinned requirements once, for bubblewrap (a packages
    folder) or Docker (an image derived from the sandbox image)."""
    from grader.grading.environments import build_image, build_site

    spec = assignment_named(name)
    if spec.environment is None:
        raise fail(f"{name} has no environment.yaml: it runs on the host's packages", EXIT_USAGE)
    if docker:
        with console.status("building the image…"):
            tag = build_image(spec.environment, image)
        console.print(f"built {tag}", highlight=False)
        return
    with console.status("installing…"):
        built = build_site(spec.environment)
    console.print(f"built {built.path}: {', '.join(built.installed)}", highlight=False)


@env_app.command("list")
def env_list() -> None:
    """The environments built on this machine, and the assignments that use them."""
    from grader.grading.course import known_assignments
    from grader.grading.environments import built_environments, environment_key, host_python

    users: dict[str, list[str]] = {}
    for a in known_assignments().values():
        if a.environment is not None:
            users.setdefault(environment_key(a.environment, host_python()), []).append(a.name)
    table = new_table(title="environments")
    for col in ("key", "packages", "used by"):
        table.add_column(col)
    for built in built_environments():
        used = ", ".join(users.get(built.key, [])) or "none known"
        add_plain_row(table, built.key, ", ".join(built.installed), used)
    console.print(table)


@env_app.command("prune")
def env_prune() -> None:
    """Remove the environments no known assignment uses."""
    from grader.grading.course import known_assignments
    from grader.grading.environments import environment_key, host_python, prune

    keep = {
        environment_key(a.environment, host_python())
        for a in known_assignments().values()
        if a.environment is not None
    }
    removed = prune(keep)
    console.print(f"removed {len(removed)}: {', '.join(removed) or 'nothing'}", highlight=False)
