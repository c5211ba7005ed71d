"""Group a validated batch by the entity each event writes to, in the order the merge applies them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

from spyglass.collector.events.envelopes import IngestionEvent, entity_key

EntityKey = tuple[str, str]  # (entity type, body id), e.g. ("observation", "span-1")
E = TypeVar("E", bound=IngestionEvent)


def merge_order(events: Iterable[E]) -> list[E]:
    """Sorted by envelope timestamp; on a tie creates come before updates, else batch order.

    Keeping batch order on ties matters: py v2 sends the same trace-create several times within
    one millisecond, each with a few more fields, and the last one sent must win.
    """
    return sorted(events, key=lambda event: (event.timestamp, event.is_update))


def group_events(events: Sequence[IngestionEvent]) -> dict[EntityKey, list[IngestionEvent]]:
    """``(entity type, body id) -> events`` in merge order; ``sdk-log`` events belong to no entity.

    Entity types: ``trace``, ``observation``, ``score``, ``dataset_run_item``. Groups appear in the
    order their first event appears in the batch.
    """
    groups: dict[EntityKey, list[IngestionEvent]] = {}
    for event in events:
        key = entity_key(event)
        if key is not None:
            groups.setdefault(key, []).append(event)
    return {key: merge_order(group) for key, group in groups.items()}
