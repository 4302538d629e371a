"""Human-readable references for orders (``ORD-``), support threads (``SUP-``) and rights requests
(``PRV-``): random, in an alphabet without look-alike characters (no 0/O, 1/I/L), so a reference
read over the phone or typed from a letter comes out right."""

from __future__ import annotations

import secrets

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def new_reference(prefix: str, *groups: int) -> str:
    """``prefix-`` and groups of random characters of the given lengths joined by ``-``
    (``new_reference("ORD", 4, 4)`` → ``ORD-7KQ2-M9XD``). Unique columns catch the rare repeat."""
    return "-".join([prefix, *("".join(secrets.choice(ALPHABET) for _ in range(n)) for n in groups)])
