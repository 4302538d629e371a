"""The settings tables of docs/configuration.md, made from the model: one table per section, each
setting with what it means, what it allows and its default. ``python -m app.config.reference``
rewrites them between the doc's markers (a test keeps the doc in step)."""

from __future__ import annotations

import sys
from pathlib import Path

from app.config.fields import BASE_DIR, allowed_text, default_text
from app.config.model import SECTIONS

DOC = BASE_DIR / "docs" / "configuration.md"
BEGIN = "<!-- settings: made from app/config by `python -m app.config.reference`; edit the model, not this -->"
END = "<!-- end of settings -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def tables() -> str:
    """The generated part of the doc, markers included."""
    lines = [BEGIN, ""]
    for section in SECTIONS:
        lines += [f"### {section.__doc__.strip().splitlines()[0]}", "",
                  "| variable | meaning | allowed | default |", "|---|---|---|---|"]
        lines += [f"| `{name}` | {_cell(field.description or '')} | {_cell(allowed_text(field))} "
                  f"| {_cell(default_text(field))} |" for name, field in section.model_fields.items()]
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def in_doc(text: str) -> str:
    """The generated part of a doc's text (markers included), or an empty string."""
    start, end = text.find(BEGIN), text.find(END)
    return text[start:end + len(END)] if 0 <= start < end else ""


def update(path: Path = DOC) -> bool:
    """Rewrite the tables in ``path``; return whether anything changed."""
    text = path.read_text(encoding="utf-8")
    current = in_doc(text)
    if not current:
        raise SystemExit(f"{path}: the settings markers are missing")
    new = text.replace(current, tables())
    path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    print("updated" if update(Path(sys.argv[1]) if len(sys.argv) > 1 else DOC) else "already up to date")
