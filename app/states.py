"""Transition tables: which state an aggregate (an order, a refund, a dispute, a rights request, a
support thread, an API key, a breach, an agent's request) may move to from the one it is in.

Each domain's models module declares its states as a ``StrEnum`` (the stored values are the
members' values) and one ``Transitions`` table; every service that moves the aggregate asks the
table, so a move the table does not list is refused with ``IllegalTransition`` (or the domain's
own subclass of it), which views turn into a form message or a 4xx, never a 500.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum


class IllegalTransition(ValueError):
    """A move the aggregate's transition table does not allow; the message names both states."""

    def __init__(self, message: str, current: str | None = None, target: str | None = None):
        super().__init__(message)
        self.current, self.target = current, target


class Transitions:
    """The allowed moves of one aggregate. Staying in the same state is not a move and is always
    allowed (an idempotent event or an unchanged form changes nothing)."""

    def __init__(self, aggregate: str, moves: Mapping[StrEnum | None, Iterable[StrEnum]],
                 error: type[IllegalTransition] = IllegalTransition):
        self.aggregate = aggregate
        self.moves = {current: frozenset(targets) for current, targets in moves.items()}
        self.error = error

    def allowed(self, current: str | None, target: str) -> bool:
        return current == target or target in self.moves.get(current, frozenset())

    def check(self, current: str | None, target: str) -> str:
        """``target`` when the table allows the move; raises the table's error otherwise."""
        if not self.allowed(current, target):
            raise self.error(f"The {self.aggregate} is {current or 'new'}: it cannot become {target}.",
                             current, target)
        return target

    def states(self) -> set:
        """Every state the table names."""
        found = {s for s in self.moves if s is not None}
        for targets in self.moves.values():
            found |= targets
        return found
