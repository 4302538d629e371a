"""Same-site redirects: a ``next`` parameter never sends anyone to another site."""

from __future__ import annotations

from urllib.parse import urlsplit


def is_safe_next(target: str | None) -> bool:
    """True for a same-site relative path such as ``/account?tab=keys``.

    Refuses absolute and scheme-relative URLs (``//evil.example``), backslash tricks
    (``/\\evil.example``) and control characters, which browsers may strip or reinterpret.
    """
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return False
    if any(ord(ch) < 32 or ch == "\\" for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None, default: str = "/") -> str:
    return target if is_safe_next(target) else default
