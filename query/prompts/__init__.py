"""Prompt management: validation, label rules, composition, caching, usage metrics.

For the ingestion worker:
    await resolve_prompt_id(pool, project_id, name, version)          # → prompt id or None
    await resolve_prompt_ids(pool, project_id, [(name, version), ...]) # batched
For the UI/API:
    await prompt_version_metrics(ch, project_id, name)                # version → PromptVersionMetrics
"""

from spyglass.query.prompts.linking import resolve_prompt_id, resolve_prompt_ids
from spyglass.query.prompts.metrics import PromptVersionMetrics, prompt_version_metrics

__all__ = ["PromptVersionMetrics", "prompt_version_metrics", "resolve_prompt_id", "resolve_prompt_ids"]
