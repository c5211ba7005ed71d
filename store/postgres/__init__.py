"""PostgreSQL store: tenancy, API keys and the other transactional Langfuse entities.

Start here: `PostgresStore.open(config)` gives a migrated pool (starting the bundled server when
no URL is configured); build repositories on `store.pool`.
"""

from spyglass.store.postgres.api_keys import ApiKeys
from spyglass.store.postgres.bootstrap import InitResult, InitSpec, ensure_init
from spyglass.store.postgres.database import PostgresStore
from spyglass.store.postgres.dead_letters import DeadLetter, DeadLetters
from spyglass.store.postgres.embedded import EmbeddedPostgres, StartTimings
from spyglass.store.postgres.faults import Conflict, NotFound
from spyglass.store.postgres.migrate import MigrationReport, load_migrations, migrate
from spyglass.store.postgres.pool import create_pool, ping
from spyglass.store.postgres.rows import (
    ApiKeyInfo,
    AuthScope,
    CreatedKey,
    Organization,
    Project,
    User,
)
from spyglass.store.postgres.tenancy import Tenancy
from spyglass.store.postgres.users import Users

__all__ = [
    "ApiKeyInfo",
    "ApiKeys",
    "AuthScope",
    "Conflict",
    "CreatedKey",
    "DeadLetter",
    "DeadLetters",
    "EmbeddedPostgres",
    "InitResult",
    "InitSpec",
    "MigrationReport",
    "NotFound",
    "Organization",
    "PostgresStore",
    "Project",
    "StartTimings",
    "Tenancy",
    "User",
    "Users",
    "create_pool",
    "ensure_init",
    "load_migrations",
    "migrate",
    "ping",
]
