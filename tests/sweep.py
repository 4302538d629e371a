"""The proof-of-erasure sweep: every text column of every table (decrypted where encrypted), the
outbox, and the mail files of development, searched for what must be gone."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import String, Text, select

from app.extensions import db as _db


def traces(app, needles: list[str], mail_dir: str | None = None) -> list[tuple[str, str]]:
    """(where, needle) for every place a needle still appears (case-insensitive)."""
    found = []
    lowered = [n.lower() for n in needles]
    with app.app_context():
        for table in _db.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, (String, Text)) or c.name == "body"]
            if not columns:
                continue
            for row in _db.session.execute(select(*columns)):
                for value in row:
                    text = str(value or "").lower()
                    found += [(table.name, needle) for needle in lowered if needle in text]
    if mail_dir and Path(mail_dir).is_dir():
        for path in Path(mail_dir).glob("*.eml"):
            data = path.read_bytes().decode("utf-8", "replace").lower()
            found += [(f"mail file {path.name}", needle) for needle in lowered if needle in data]
    return found
