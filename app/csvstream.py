"""CSV as a stream of lines, for downloads that are read in batches and never held whole."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator


def csv_lines(header: list[str], rows: Iterable) -> Iterator[str]:
    """The header, then each row, as CSV text lines (one reused buffer)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row)
        yield buffer.getvalue()
