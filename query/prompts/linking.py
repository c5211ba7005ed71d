"""Prompt id lookup for generations that carry a prompt name and version (ingestion worker).

The implementation (a short-lived in-process cache in front of one batched query) lives in the
store layer so the worker needs no query-side imports; it is re-exported here for the API side.
"""

from spyglass.store.postgres.prompts_repo import resolve_prompt_id, resolve_prompt_ids

__all__ = ["resolve_prompt_id", "resolve_prompt_ids"]
