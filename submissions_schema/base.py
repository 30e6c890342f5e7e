"""The base of every exchanged model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SchemaModel(BaseModel):
    """Validators are built when a model is first used, not at import: a command builds
    the few it needs, not all fifty (half the command line's start-up time otherwise)."""

    model_config = ConfigDict(defer_build=True)
