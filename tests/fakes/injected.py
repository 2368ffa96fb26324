"""Failures a test plans into a fake: let ``after`` matching requests through, then hit ``count``."""

from __future__ import annotations

from typing import Protocol, TypeVar


class Plan(Protocol):
    count: int
    after: int


P = TypeVar("P", bound=Plan)


def take(plans: list[P]) -> P | None:
    """The plan this request falls under, if any; a plan used up is dropped so the next one applies."""
    if not plans:
        return None
    plan = plans[0]
    if plan.after > 0:
        plan.after -= 1
        return None
    plan.count -= 1
    if plan.count <= 0:
        plans.pop(0)
    return plan
