"""The environment a course assignment or a reproducibility project pins."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from submissions_schema.base import SchemaModel


class Environment(SchemaModel):
    """The runtime code runs in: pinned requirements installed once into a cached
    environment the sandbox mounts in place of the host's packages (an assignment's
    `environment.yaml`, a reproducibility project's `run.environment`)."""

    model_config = ConfigDict(extra="forbid")

    requirements: list[str] = Field(
        min_length=1, description="pinned requirements, e.g. numpy==1.26.4"
    )
    python: str | None = Field(
        None,
        pattern=r"^3\.[0-9]+$",
        description="the Python it needs (3.11); bubblewrap runs the host's, Docker its image's",
    )
    find_links: list[str] = Field(
        default_factory=list, description="local wheel folders, for servers without an index"
    )
    no_index: bool = Field(False, description="install from find_links only")
