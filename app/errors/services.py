"""What each error status tells the visitor (titles and explanations, translatable)."""

from __future__ import annotations

import threading
import time

from flask_babel import lazy_gettext as _l

ERROR_TEXTS = {
    400: (
        _l("Bad request"),
        _l("The request could not be understood. Please check what you sent and try again."),
    ),
    403: (
        _l("Access denied"),
        _l("You do not have permission to open this page."),
    ),
    404: (
        _l("Page not found"),
        _l("We could not find the page you asked for. It may have moved, or the address may be mistyped."),
    ),
    405: (
        _l("Method not allowed"),
        _l("This address does not accept that kind of request."),
    ),
    413: (
        _l("Request too large"),
        _l("What you sent is larger than we accept. Please send something smaller."),
    ),
    429: (
        _l("Too many requests"),
        _l("You have made too many requests in a short time. Please wait a moment and try again."),
    ),
    500: (
        _l("Something went wrong"),
        _l("An unexpected error happened on our side. It has been logged; please try again later."),
    ),
    503: (
        _l("Temporarily unavailable"),
        _l("A part of our service is briefly unavailable. Nothing you sent was lost; please try again in a "
           "few seconds."),
    ),
}

RETRY_AFTER_SECONDS = 5


class OutageLog:
    """Logs the first failure of a dependency with its traceback, then only counts: one outage must
    not flood the log. After ``window`` seconds without a report, the next failure is "first" again
    and the count of those in between is logged with it."""

    def __init__(self, window: float = 60.0):
        self.window = window
        self._lock = threading.Lock()
        self._state: dict[str, list[float]] = {}  # name -> [first seen, last logged, count since]

    def report(self, logger, name: str, exc: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            first, logged, count = self._state.get(name, [now, 0.0, 0])
            if now - logged < self.window:
                self._state[name] = [first, logged, count + 1]
                return
            self._state[name] = [first if count else now, now, 0]
        if count:
            logger.error("%s still unavailable: %d more failures in the last %d s", name, count, self.window,
                         exc_info=exc)
        else:
            logger.error("%s unavailable", name, exc_info=exc)


def error_texts(status: int) -> tuple[str, str]:
    """Title and explanation for ``status``; unknown codes fall back to their class."""
    if status in ERROR_TEXTS:
        return ERROR_TEXTS[status]
    return ERROR_TEXTS[500] if status >= 500 else ERROR_TEXTS[400]


def problem(status: int, title: str, detail: str | None = None, **extra) -> dict:
    """An RFC 9457 problem document."""
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return body
