"""Failed authentications are throttled per client address and per public key, refused pairs are
remembered briefly, and neither costs PostgreSQL a lookup nor memory without bound.

PostgreSQL lookups are counted by the key store itself (`ApiKeys.lookups`); time is a clock the
test moves.
"""

from __future__ import annotations

import asyncio
import base64
import uuid

import asyncpg
import pytest

from spyglass.collector.auth import Authenticator, AuthLimits
from spyglass.collector.http import ApiError
from spyglass.collector.throttle import client_address, grpc_peer_host
from spyglass.store.errors import RetryableError
from spyglass.store.postgres.api_keys import ApiKeys, insert_key
from spyglass.store.postgres.rows import Project
from tests.harness import free_port
from tests.postgres.conftest import KEY_SALT

LIMITS = AuthLimits(max_failures=20, failure_window_seconds=10.0, negative_cache_seconds=3.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def basic(public_key: str, secret_key: str) -> str:
    return "Basic " + base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()


async def refused(auth: Authenticator, header: str, client: str) -> ApiError:
    with pytest.raises(ApiError) as info:
        await auth.check(header, client=client)
    return info.value


async def test_a_flood_of_wrong_secrets_is_throttled_after_the_limit(keys: ApiKeys, project: Project) -> None:
    created = await keys.create_key(project.id)
    clock = Clock()
    auth = Authenticator(keys, limits=LIMITS, clock=clock)
    before = keys.lookups
    statuses = [(await refused(auth, basic(created.public_key, f"sk-wrong-{i}"), "10.0.0.1")) for i in range(2000)]
    assert [e.status_code for e in statuses[:20]] == [401] * 20
    assert {e.status_code for e in statuses[20:]} == {429}
    assert keys.lookups - before == 20  # 2,000 attempts, 20 lookups
    throttled = statuses[-1]
    assert throttled.headers["Retry-After"] == "1"
    assert "Too many failed authentication attempts" in throttled.message
    assert throttled.error == "TooManyRequestsError"
    # The bucket leaks one failure every window / limit seconds: one more lookup, then 429 again.
    clock.now += LIMITS.failure_window_seconds / LIMITS.max_failures
    assert (await refused(auth, basic(created.public_key, "sk-wrong-again"), "10.0.0.1")).status_code == 401
    assert (await refused(auth, basic(created.public_key, "sk-wrong-more"), "10.0.0.1")).status_code == 429
    assert keys.lookups - before == 21


async def test_who_is_still_served_while_a_flood_is_throttled(keys: ApiKeys, project: Project) -> None:
    """The choice: a throttled address or key is answered only from the cache of good keys. A
    key already in use keeps working; any attempt that would need a lookup waits, a correct
    secret included, until the window lets one through."""
    target = await keys.create_key(project.id)  # the flood's public key
    other = await keys.create_key(project.id)
    fresh = await keys.create_key(project.id)
    clock = Clock()
    auth = Authenticator(keys, limits=LIMITS, clock=clock)
    good = basic(target.public_key, target.secret_key)
    assert (await auth.check(good, client="10.0.0.9")).project_id == project.id  # cached from now on
    for i in range(30):
        await refused(auth, basic(target.public_key, f"sk-wrong-{i}"), "10.0.0.1")
    # Another key from another address: untouched.
    assert (await auth.check(basic(other.public_key, other.secret_key), client="10.0.0.2")).key_id == other.id
    # The flooded key, already cached: still served, from any address, without a lookup.
    lookups = keys.lookups
    assert (await auth.check(good, client="10.0.0.1")).key_id == target.id
    assert (await auth.check(good, client="10.0.0.3")).key_id == target.id
    assert keys.lookups == lookups
    # A correct key the flooding address has not used yet: refused until the window clears.
    fresh_header = basic(fresh.public_key, fresh.secret_key)
    throttled = await refused(auth, fresh_header, "10.0.0.1")
    assert throttled.status_code == 429 and "client address" in throttled.message
    clock.now += LIMITS.failure_window_seconds
    assert (await auth.check(fresh_header, client="10.0.0.1")).key_id == fresh.id
    # The flooded public key, with its correct secret but uncached (another process, say): it
    # waits too while the key's bucket is full.
    auth2 = Authenticator(keys, limits=LIMITS, clock=clock)
    for i in range(30):
        await refused(auth2, basic(target.public_key, f"sk-wrong-{i}"), f"10.1.0.{i}")
    throttled = await refused(auth2, good, "10.0.0.5")
    assert throttled.status_code == 429 and "public key" in throttled.message
    clock.now += LIMITS.failure_window_seconds
    assert (await auth2.check(good, client="10.0.0.5")).key_id == target.id
    # Successes are never counted: a hundred good lookups in a row from one address.
    auth3 = Authenticator(keys, 0, limits=LIMITS, clock=clock)  # no cache: each one a lookup
    for _ in range(100):
        await auth3.check(basic(other.public_key, other.secret_key), client="10.0.0.7")


async def test_concurrent_guesses_are_bounded_too(keys: ApiKeys, project: Project) -> None:
    """Each lookup is charged before it starts: 500 guesses at once still make 20 lookups."""
    created = await keys.create_key(project.id)
    auth = Authenticator(keys, limits=LIMITS, clock=Clock())
    before = keys.lookups
    results = await asyncio.gather(
        *(auth.check(basic(created.public_key, f"sk-{i}"), client="10.0.0.1") for i in range(500)),
        return_exceptions=True,
    )
    statuses = sorted(r.status_code for r in results if isinstance(r, ApiError))
    assert len(statuses) == 500 and statuses.count(401) == 20 and statuses.count(429) == 480
    assert keys.lookups - before == 20


async def test_refused_pairs_are_remembered_briefly(keys: ApiKeys, project: Project, pg_pool: asyncpg.Pool) -> None:
    clock = Clock()
    auth = Authenticator(keys, limits=LIMITS, clock=clock)
    public, secret = f"pk-lf-{uuid.uuid4()}", f"sk-lf-{uuid.uuid4()}"
    header = basic(public, secret)
    before = keys.lookups
    for _ in range(5):
        assert (await refused(auth, header, "10.0.0.1")).status_code == 401
    assert keys.lookups - before == 1  # an unknown key: asked once, then answered from memory
    # The key is created (headless init with a chosen key pair, or another process): refused
    # from memory for at most negative_cache_seconds, then it works.
    await insert_key(
        pg_pool,
        salt=KEY_SALT,
        scope="PROJECT",
        organization_id=project.org_id,
        project_id=project.id,
        public_key=public,
        secret_key=secret,
    )
    clock.now += LIMITS.negative_cache_seconds - 0.5
    assert (await refused(auth, header, "10.0.0.2")).status_code == 401
    clock.now += 0.5
    assert (await auth.check(header, client="10.0.0.2")).public_key == public
    # A key created by this process is not even refused that long.
    other_public, other_secret = f"pk-lf-{uuid.uuid4()}", f"sk-lf-{uuid.uuid4()}"
    other = basic(other_public, other_secret)
    await refused(auth, other, "10.0.0.3")
    await insert_key(
        pg_pool,
        salt=KEY_SALT,
        scope="PROJECT",
        organization_id=project.org_id,
        project_id=project.id,
        public_key=other_public,
        secret_key=other_secret,
    )
    auth.invalidate()
    assert (await auth.check(other, client="10.0.0.3")).public_key == other_public


async def test_memory_stays_bounded_whatever_the_attacker_rotates(keys: ApiKeys, project: Project) -> None:
    limits = AuthLimits(max_failures=3, failure_window_seconds=60.0, negative_cache_seconds=60.0, max_entries=50)
    auth = Authenticator(keys, limits=limits, clock=Clock())
    for i in range(600):
        await refused(auth, basic(f"pk-lf-rotating-{i}", f"sk-{i}"), f"10.{i // 256}.{i % 256}.1")
    assert len(auth._by_address) <= 50 and len(auth._by_key) <= 50 and len(auth._refused) <= 50
    # Long public keys cost no more than short ones: identities are hashed.
    await refused(auth, basic("pk-" + "x" * 100_000, "sk"), "10.9.9.9")
    assert all(len(k) == 16 for k in auth._by_key._empty_at)


async def test_a_failed_lookup_is_not_a_failed_authentication() -> None:
    """PostgreSQL unreachable: the error is reported, and nothing is charged to the client."""
    pool = await asyncpg.create_pool(f"postgresql://nobody@127.0.0.1:{free_port()}/none", min_size=0, max_size=1)
    try:
        auth = Authenticator(ApiKeys(pool, KEY_SALT), limits=LIMITS, clock=Clock())
        for i in range(30):
            with pytest.raises(RetryableError):
                await auth.check(basic("pk-lf-x", f"sk-{i}"), client="10.0.0.1")
        assert len(auth._by_address) == 0 and len(auth._by_key) == 0 and len(auth._refused) == 0
    finally:
        await pool.close()


def test_the_client_address_is_the_peer_unless_proxies_are_trusted() -> None:
    assert client_address("10.0.0.1", "203.0.113.9", 0) == "10.0.0.1"  # the header is ignored
    # One trusted proxy appends the address it saw: the last entry; anything left of it is the
    # client's own claim.
    assert client_address("10.0.0.1", "198.51.100.1, 203.0.113.9", 1) == "203.0.113.9"
    assert client_address("10.0.0.1", "198.51.100.1, 203.0.113.9, 10.0.0.7", 2) == "203.0.113.9"
    assert client_address("10.0.0.1", "203.0.113.9", 3) == "203.0.113.9"
    # IPv6 counts per /64 (one host's usual allocation), IPv4-mapped as IPv4.
    assert client_address("2001:db8:1:2:3:4:5:6", None, 0) == client_address("2001:db8:1:2:ffff::1", None, 0)
    assert client_address("::ffff:192.0.2.1", None, 0) == "192.0.2.1"
    assert grpc_peer_host("ipv4:192.0.2.1:5000") == "192.0.2.1"
    assert grpc_peer_host("ipv6:%5B2001:db8::1%5D:5000") == "2001:db8::1"
