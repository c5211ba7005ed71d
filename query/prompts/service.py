"""Prompt management use cases: create, get (resolved, cached), list, move labels, delete.

Every write invalidates the project's cache after its commit and before the response is sent,
so a client that reads after its write returned sees the write.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec

from spyglass.collector.http import ApiError, bad_request, not_found
from spyglass.query.prompts.cache import PromptCache
from spyglass.query.prompts.dependencies import Loader, find_tags, resolve
from spyglass.query.prompts.render import prompt_json, summary_json
from spyglass.query.prompts.validation import parse_create, parse_new_labels, validate_labels
from spyglass.store.postgres.prompts_repo import (
    PromptConflict,
    PromptListFilter,
    PromptNotFound,
    PromptRow,
    PromptsRepo,
    forget_prompt_ids,
)

DEFAULT_LABEL = "production"
_encode = msgspec.json.encode
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _not_found(name: str, version: int | None, label: str | None) -> ApiError:
    if version is not None:
        return not_found(f"Prompt not found: '{name}' with version {version}")
    return not_found(f"Prompt not found: '{name}' with label '{label}'")


class PromptService:
    def __init__(self, pool: asyncpg.Pool, cache: PromptCache) -> None:
        self.repo = PromptsRepo(pool)
        self.cache = cache

    # ---- reads --------------------------------------------------------------------------

    async def get(
        self, project_id: str, name: str, *, version: int | None, label: str | None, resolve_refs: bool = True
    ) -> bytes:
        """The prompt as JSON bytes; `version` wins over `label`, neither means `production`."""
        if version is None and label is None:
            label = DEFAULT_LABEL
        if not resolve_refs:
            row = await self._fetch(project_id, name, version, label)
            return _encode(prompt_json(row, row.prompt, None))
        # JSON keeps the parts apart whatever characters names and labels contain.
        key = _encode(["v", version, name] if version is not None else ["l", label, name]).decode()
        epoch = await self.cache.epoch(project_id)
        cached = await self.cache.get(project_id, epoch, key)
        if cached is not None:
            return cached
        row = await self._fetch(project_id, name, version, label)
        resolution = await resolve(row, self._loader(project_id))
        body = _encode(prompt_json(row, resolution.prompt, resolution.graph))
        await self.cache.put(project_id, epoch, key, body)
        return body

    async def _fetch(self, project_id: str, name: str, version: int | None, label: str | None) -> PromptRow:
        if version is not None:
            row = await self.repo.by_version(project_id, name, version)
        else:
            row = await self.repo.by_label(project_id, name, label or DEFAULT_LABEL)
        if row is None:
            raise _not_found(name, version, label)
        return row

    def _loader(self, project_id: str) -> Loader:
        async def load(name: str, version: int | None, label: str | None) -> PromptRow | None:
            if version is not None:
                return await self.repo.by_version(project_id, name, version)
            return await self.repo.by_label(project_id, name, label or DEFAULT_LABEL)

        return load

    async def list(self, project_id: str, flt: PromptListFilter, *, page: int, limit: int) -> dict[str, Any]:
        if flt.label is not None:
            validate_labels([flt.label], field="label", allow_latest=True)
        summaries, total = await self.repo.list_summaries(project_id, flt, offset=(page - 1) * limit, limit=limit)
        return {
            "data": [summary_json(s) for s in summaries],
            "meta": {
                "page": page,
                "limit": limit,
                "totalItems": total,
                "totalPages": -(-total // limit),
            },
        }

    # ---- writes -------------------------------------------------------------------------

    async def create(self, project_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        new = parse_create(body)
        tags = find_tags(new.prompt)
        if tags:
            # Resolve before storing: a reference to a missing prompt, a chat prompt or a cycle
            # is refused and nothing is written.
            draft = PromptRow(
                id="(new version)",
                project_id=project_id,
                created_by=new.created_by,
                prompt=new.prompt,
                name=new.name,
                version=0,
                type=new.type,
                config=new.config,
                tags=[],
                labels=[],
                created_at=_EPOCH,
                updated_at=_EPOCH,
            )
            await resolve(draft, self._loader(project_id))
        try:
            row = await self.repo.create_version(project_id, new, [t.ref for t in tags])
        except PromptConflict as exc:
            raise bad_request(f"Invalid prompt: {exc.message}") from None
        await self.cache.invalidate(project_id)
        forget_prompt_ids(project_id)
        return prompt_json(row, row.prompt, None)

    async def add_labels(self, project_id: str, name: str, version: int, body: Mapping[str, Any]) -> dict[str, Any]:
        labels = parse_new_labels(body)
        try:
            row = await self.repo.add_labels(project_id, name, version, labels)
        except PromptNotFound:
            raise not_found(
                f"Prompt not found: '{name}' has no version {version}, so labels cannot be set on it"
            ) from None
        await self.cache.invalidate(project_id)
        return prompt_json(row, row.prompt, None)

    async def delete(self, project_id: str, name: str, *, version: int | None, label: str | None) -> int:
        try:
            deleted = await self.repo.delete(project_id, name, version=version, label=label)
        except PromptNotFound as exc:
            raise not_found(exc.message) from None
        except PromptConflict as exc:
            raise ApiError(409, exc.message) from None
        await self.cache.invalidate(project_id)
        forget_prompt_ids(project_id)
        return len(deleted)
