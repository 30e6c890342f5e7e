"""The one way dlgrader renders HTML: Jinja2 with autoescape on for every template and
string (names, reasons and host text are hostile until escaped) and undefined names an
error rather than a blank."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


def html_templates(package: str) -> Environment:
    """The templates in `package`'s templates/ folder."""
    return Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
