"""Prompt rows → the JSON the Langfuse SDKs parse (`type` is the discriminator v5 needs)."""

from __future__ import annotations

from typing import Any

from spyglass.query.reads.values import iso_dt
from spyglass.store.postgres.prompts_repo import PromptRow, PromptSummary

PRODUCTION = "production"


def prompt_json(row: PromptRow, prompt: Any, graph: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "createdAt": iso_dt(row.created_at),
        "updatedAt": iso_dt(row.updated_at),
        "projectId": row.project_id,
        "createdBy": row.created_by,
        "prompt": prompt,
        "name": row.name,
        "version": row.version,
        "type": row.type,
        "config": row.config,
        "tags": row.tags,
        "labels": row.labels,
        "commitMessage": row.commit_message,
        "resolutionGraph": graph,
        # Deprecated upstream field, still sent by the server: "has the production label".
        "isActive": PRODUCTION in row.labels,
    }


def summary_json(s: PromptSummary) -> dict[str, Any]:
    return {
        "name": s.name,
        "type": s.type,
        "versions": s.versions,
        "labels": s.labels,
        "tags": s.tags,
        "lastUpdatedAt": iso_dt(s.last_updated_at),
        "lastConfig": s.last_config,
    }
