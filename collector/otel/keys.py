"""Attribute keys with a meaning for Langfuse (SDK v3–v5 and hand-written instrumentation)."""

from __future__ import annotations

from typing import Final

LF_TYPE: Final = "langfuse.observation.type"
LF_INPUT: Final = "langfuse.observation.input"
LF_OUTPUT: Final = "langfuse.observation.output"
LF_METADATA: Final = "langfuse.observation.metadata"
LF_LEVEL: Final = "langfuse.observation.level"
LF_STATUS_MESSAGE: Final = "langfuse.observation.status_message"
LF_MODEL_NAME: Final = "langfuse.observation.model.name"
LF_MODEL_PARAMETERS: Final = "langfuse.observation.model.parameters"
LF_USAGE_DETAILS: Final = "langfuse.observation.usage_details"
LF_COST_DETAILS: Final = "langfuse.observation.cost_details"
LF_COMPLETION_START_TIME: Final = "langfuse.observation.completion_start_time"
LF_PROMPT_NAME: Final = "langfuse.observation.prompt.name"
LF_PROMPT_VERSION: Final = "langfuse.observation.prompt.version"

LF_TRACE_NAME: Final = "langfuse.trace.name"
LF_TRACE_INPUT: Final = "langfuse.trace.input"
LF_TRACE_OUTPUT: Final = "langfuse.trace.output"
LF_TRACE_TAGS: Final = "langfuse.trace.tags"
LF_TRACE_PUBLIC: Final = "langfuse.trace.public"
LF_TRACE_METADATA: Final = "langfuse.trace.metadata"

# Older spellings still accepted upstream.
LF_USER_ID: Final = "langfuse.user.id"
LF_SESSION_ID: Final = "langfuse.session.id"
LF_TAGS: Final = "langfuse.tags"
LF_PUBLIC: Final = "langfuse.public"
LF_LEGACY_METADATA: Final = "langfuse.metadata"
LF_LEGACY_PROMPT_NAME: Final = "langfuse.prompt.name"
LF_LEGACY_PROMPT_VERSION: Final = "langfuse.prompt.version"

LF_ENVIRONMENT: Final = "langfuse.environment"
LF_RELEASE: Final = "langfuse.release"
LF_VERSION: Final = "langfuse.version"
LF_AS_ROOT: Final = "langfuse.internal.as_root"
LF_IS_APP_ROOT: Final = "langfuse.internal.is_app_root"

LF_EXPERIMENT_PREFIX: Final = "langfuse.experiment."

USER_ID: Final = "user.id"
SESSION_ID: Final = "session.id"
GEN_AI_OPERATION: Final = "gen_ai.operation.name"
SERVICE_VERSION: Final = "service.version"

ENVIRONMENT_KEYS: Final = (LF_ENVIRONMENT, "deployment.environment.name", "deployment.environment")

OBSERVATION_METADATA_PREFIX: Final = LF_METADATA + "."
TRACE_METADATA_PREFIX: Final = LF_TRACE_METADATA + "."
LEGACY_METADATA_PREFIX: Final = LF_LEGACY_METADATA + "."
VERCEL_METADATA_PREFIX: Final = "ai.telemetry.metadata."
# Vercel metadata keys that carry trace fields rather than metadata.
VERCEL_METADATA_RESERVED: Final = frozenset({"userId", "sessionId", "tags", "langfusePrompt"})
# Langfuse keys mapped onto columns or trace fields: kept out of the `attributes` metadata.
LANGFUSE_MAPPED: Final = frozenset(
    {
        LF_TYPE,
        LF_INPUT,
        LF_OUTPUT,
        LF_METADATA,
        LF_LEVEL,
        LF_STATUS_MESSAGE,
        LF_MODEL_NAME,
        LF_MODEL_PARAMETERS,
        LF_USAGE_DETAILS,
        LF_COST_DETAILS,
        LF_COMPLETION_START_TIME,
        LF_PROMPT_NAME,
        LF_PROMPT_VERSION,
        LF_TRACE_NAME,
        LF_TRACE_INPUT,
        LF_TRACE_OUTPUT,
        LF_TRACE_TAGS,
        LF_TRACE_PUBLIC,
        LF_TRACE_METADATA,
        LF_USER_ID,
        LF_SESSION_ID,
        LF_TAGS,
        LF_PUBLIC,
        LF_LEGACY_METADATA,
        LF_LEGACY_PROMPT_NAME,
        LF_LEGACY_PROMPT_VERSION,
        LF_ENVIRONMENT,
        LF_RELEASE,
        LF_VERSION,
        LF_AS_ROOT,
        LF_IS_APP_ROOT,
    }
)
# On Langfuse SDK spans the propagated user/session ids are SDK bookkeeping, not extra data.
LANGFUSE_SDK_MAPPED: Final = LANGFUSE_MAPPED | {USER_ID, SESSION_ID}
