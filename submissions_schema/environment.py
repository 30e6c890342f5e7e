"""The environment a course assignment or a reproducibility project pins."""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator

from submissions_schema.base import SchemaModel


class Environment(SchemaModel):
    """The runtime code runs in: pinned requirements installed once into a cached
    environment the sandbox mounts in place of the host's packages (an assignment's
    `environment.yaml`, a reproducibility project's `run.environment`)."""

    model_config = ConfigDict(extra="forbid")

    requirements: list[str] = Field(
        default_factory=list, description="pinned requirements, e.g. numpy==1.26.4"
    )
    requirements_file: str | None = Field(
        None,
        description="a lock or requirements file the project ships (relative to it), "
        "read as pins before `requirements`",
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

    @model_validator(mode="after")
    def _something_to_install(self) -> Environment:
        if not self.requirements and not self.requirements_file:
            raise ValueError("an environment needs requirements or a requirements_file")
        return self
