"""Which checksummed pieces of a library an open verifies: at most a budget of bytes, in turn.

The checksummed data (vector file chunks, then frame blocks, in a fixed order) is walked as one
sequence of units; an open verifies the units from where the last writer's open stopped
(`scrub_state.position`, a byte position in that sequence) until the budget is spent, wrapping
around. A library whose data fits the budget is verified whole at every open; a larger one is,
over `size / budget` writer opens. Readers verify the same window without moving the position.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ScrubPlan:
    """The units to verify now, and where the next open starts."""

    keys: frozenset
    next_position: int


def plan(units: Sequence[tuple[Hashable, int]], position: int, budget: int) -> ScrubPlan:
    """Choose from `units` ((key, bytes), in walking order) those to verify: every unit when they
    fit `budget`, else from the unit at `position` (mod the total) on, wrapping, until the budget
    is spent (at least one unit)."""
    total = sum(size for _, size in units)
    if total <= budget:
        return ScrubPlan(frozenset(key for key, _ in units), 0)
    position %= total
    ends, at = [], 0
    for _, size in units:
        at += size
        ends.append(at)
    first = next(i for i, end in enumerate(ends) if end > position)
    chosen, spent, index = [], 0, first
    while spent < budget and len(chosen) < len(units):
        key, size = units[index]
        if chosen and spent + size > budget:
            break
        chosen.append(key)
        spent += size
        index = (index + 1) % len(units)
    next_position = ends[(first + len(chosen) - 1) % len(units)] % total
    return ScrubPlan(frozenset(chosen), next_position)
