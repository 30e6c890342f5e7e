"""YAML from students and hosts (claims.yaml, challenge configs): with a size cap, and
without anchors or aliases, whose nesting makes a 600-byte document take minutes."""

from __future__ import annotations

from typing import Any

import yaml

MAX_YAML_BYTES = 256 << 10
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class UntrustedYAMLError(ValueError):
    """Not YAML we read; the message says why, in one line."""


def load_yaml(text: str, max_bytes: int = MAX_YAML_BYTES) -> Any:
    if len(text.encode("utf-8", "replace")) > max_bytes:
        raise UntrustedYAMLError(f"larger than {max_bytes >> 10} KB")
    try:
        for event in yaml.parse(text, Loader=_Loader):  # events only: nothing is built yet
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise UntrustedYAMLError("anchors and aliases (& and *) are not accepted")
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise UntrustedYAMLError(" ".join(str(exc).split())) from None
