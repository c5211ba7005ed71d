"""Finding the model definition that prices a generation's model name.

Order (mirrors Langfuse's `ORDER BY project_id ASC, start_date DESC NULLS LAST LIMIT 1`):
  1. a matching project model beats any built-in one;
  2. within the same scope, the newest `start_date` wins and undated models come last;
  3. ties (same scope and date, e.g. all built-ins, which are undated) go to the model listed
     first: catalog file order for built-ins, the given order for project models. Postgres
     leaves this case unordered; we pick a stable rule so results never flap.

`start_date` only orders candidates; it is never compared with the observation's time.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Final, cast

from spyglass.collector.pricing.catalog import builtin_catalog
from spyglass.collector.pricing.compiled import ModelPrice, compile_models
from spyglass.collector.pricing.definitions import ModelDefinition


def _first_match(models: Sequence[ModelPrice], model_name: str) -> ModelPrice | None:
    for model in models:
        if model.regex.search(model_name) is not None:
            return model
    return None


def match_model(
    model_name: str | None,
    project_models: Iterable[ModelDefinition | ModelPrice] = (),
    *,
    catalog: Sequence[ModelPrice] | None = None,
) -> ModelPrice | None:
    """The model that prices `model_name`, uncached: project models first, then the catalog.

    Handy for one-off lookups and tests; the ingestion hot path uses `ModelMatcher`.
    """
    if not model_name:
        return None
    found = _first_match(compile_models(project_models), model_name)
    if found is not None:
        return found
    return _first_match(builtin_catalog() if catalog is None else catalog, model_name)


# Stands for "looked up, nothing matched", so misses are cached like hits.
_NO_MATCH: Final = object()


class ModelMatcher:
    """Cached model matching for the ingestion hot path.

    Register each project's own models with `set_project_models` (an empty list is fine) before
    matching its generations; a project never registered is matched against built-ins only.
    Results, misses included, sit in an LRU keyed by (project, model name). Projects without
    models of their own share one key space, so a popular built-in name is looked up once for
    all of them. Call `invalidate(project_id)` whenever a project's models change.

    Not locked: meant for one event loop (or one thread) per instance.
    """

    def __init__(self, catalog: Sequence[ModelPrice] | None = None, *, max_entries: int = 100_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be positive")
        self._catalog: tuple[ModelPrice, ...] = tuple(builtin_catalog() if catalog is None else catalog)
        self._project_models: dict[str, tuple[ModelPrice, ...]] = {}
        self._cache: OrderedDict[tuple[str | None, str], object] = OrderedDict()
        self._max_entries = max_entries

    def set_project_models(self, project_id: str, models: Iterable[ModelDefinition | ModelPrice]) -> None:
        """Replace a project's own models (compiled here, bad patterns skipped) and drop its
        cached matches."""
        self.invalidate(project_id)
        # Kept even when empty: it records that the project was loaded and has no models.
        self._project_models[project_id] = compile_models(models)

    def has_project(self, project_id: str) -> bool:
        """Whether the project's models were registered since its last invalidation; when not,
        load them (e.g. from Postgres) and call `set_project_models` before matching."""
        return project_id in self._project_models

    def invalidate(self, project_id: str) -> None:
        """Forget a project's models and its cached matches (call when its models change)."""
        self._project_models.pop(project_id, None)
        # Rare (model edits), so a scan beats keeping a per-project index on the hot path.
        stale = [key for key in self._cache if key[0] == project_id]
        for key in stale:
            del self._cache[key]

    def clear(self) -> None:
        """Forget every registered project model and cached match."""
        self._project_models.clear()
        self._cache.clear()

    def match(self, project_id: str | None, model_name: str | None) -> ModelPrice | None:
        if not model_name:
            return None
        own = self._project_models.get(project_id) if project_id is not None else None
        key = (project_id if own else None, model_name)
        cache = self._cache
        found = cache.get(key)
        if found is not None:
            cache.move_to_end(key)
            return None if found is _NO_MATCH else cast(ModelPrice, found)
        result = (_first_match(own, model_name) if own else None) or _first_match(self._catalog, model_name)
        cache[key] = _NO_MATCH if result is None else result
        if len(cache) > self._max_entries:
            cache.popitem(last=False)
        return result

    def __len__(self) -> int:
        return len(self._cache)
