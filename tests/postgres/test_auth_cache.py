"""The API-key cache in front of PostgreSQL: refreshed ahead of expiry, revocation within the TTL,
one lookup for requests that miss together."""

from __future__ import annotations

import asyncio
import base64

import pytest

from spyglass.collector.auth import Authenticator
from spyglass.collector.http import ApiError
from spyglass.store.postgres.api_keys import ApiKeys
from spyglass.store.postgres.rows import AuthScope, Project
from tests.harness import wait_until_async

TTL = 30.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counted:
    """The real key store, counting its verifications; `hold` keeps them waiting."""

    def __init__(self, keys: ApiKeys) -> None:
        self.keys = keys
        self.verified = 0
        self.hold = asyncio.Event()
        self.hold.set()

    async def verify(self, public_key: str, secret_key: str) -> AuthScope | None:
        self.verified += 1
        await self.hold.wait()
        return await self.keys.verify(public_key, secret_key)

    async def find_public(self, public_key: str) -> AuthScope | None:
        return await self.keys.find_public(public_key)


def basic(public_key: str, secret_key: str) -> str:
    return "Basic " + base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()


async def test_a_key_in_use_is_refreshed_before_it_expires(keys: ApiKeys, project: Project) -> None:
    created = await keys.create_key(project.id)
    counted, clock = Counted(keys), Clock()
    auth = Authenticator(counted, TTL, clock=clock)
    header = basic(created.public_key, created.secret_key)
    assert (await auth.check(header)).project_id == project.id
    assert counted.verified == 1
    clock.now += TTL * 0.5
    await auth.check(header)
    assert counted.verified == 1  # fresh: a dict lookup
    # Past the refresh point the request is answered from the cache while the key is looked up
    # again behind it: held here, the lookup cannot be what answers.
    counted.hold.clear()
    clock.now += TTL * 0.3
    assert (await asyncio.wait_for(auth.check(header), 5)).project_id == project.id
    await asyncio.sleep(0)
    assert counted.verified == 2
    # A second request meanwhile does not start another lookup.
    await auth.check(header)
    assert counted.verified == 2
    counted.hold.set()
    await auth.drain()
    # Past the first entry's expiry the refreshed entry answers, without waiting on PostgreSQL.
    clock.now += TTL * 0.3
    counted.hold.clear()
    assert (await asyncio.wait_for(auth.check(header), 5)).project_id == project.id
    assert counted.verified == 2
    counted.hold.set()


async def test_an_idle_key_is_looked_up_again_after_the_ttl(keys: ApiKeys, project: Project) -> None:
    created = await keys.create_key(project.id)
    counted, clock = Counted(keys), Clock()
    auth = Authenticator(counted, TTL, clock=clock)
    header = basic(created.public_key, created.secret_key)
    await auth.check(header)
    clock.now += TTL + 1
    counted.hold.clear()
    waiting = asyncio.ensure_future(auth.check(header))
    await wait_until_async(lambda: counted.verified == 2, timeout=5, what="the expired key's lookup")
    assert not waiting.done()  # expired: the request waits for the lookup
    counted.hold.set()
    assert (await waiting).project_id == project.id
    assert counted.verified == 2


async def test_a_revoked_key_stops_working_within_the_ttl_even_in_steady_use(keys: ApiKeys, project: Project) -> None:
    created = await keys.create_key(project.id)
    clock = Clock()
    auth = Authenticator(keys, TTL, clock=clock)
    header = basic(created.public_key, created.secret_key)
    await auth.check(header)
    assert await keys.revoke_key(created.public_key)
    clock.now += TTL * 0.8
    await auth.check(header)  # still cached: revocation may take up to the TTL
    await auth.drain()
    # The background lookup found the key revoked and dropped it: refused before the TTL is up.
    with pytest.raises(ApiError) as refused:
        await auth.check(header)
    assert refused.value.status_code == 401
    # A second key, revoked while cached and in steady use: no request succeeds once a TTL has
    # passed since the revocation, whether a background lookup or the expiry notices it first.
    other = await keys.create_key(project.id)
    header = basic(other.public_key, other.secret_key)
    await auth.check(header)
    revoked_at = clock.now
    assert await keys.revoke_key(other.public_key)
    accepted, refused_at = [], None
    for _ in range(10):
        clock.now += TTL * 0.2
        try:
            await auth.check(header)
            accepted.append(clock.now)
        except ApiError:
            refused_at = clock.now
            break
        await auth.drain()
    assert refused_at is not None and refused_at <= revoked_at + TTL
    assert max(accepted) < revoked_at + TTL


async def test_requests_that_miss_together_share_one_lookup(keys: ApiKeys, project: Project) -> None:
    created = await keys.create_key(project.id)
    counted = Counted(keys)
    auth = Authenticator(counted, TTL)
    header = basic(created.public_key, created.secret_key)
    counted.hold.clear()
    waiting = [asyncio.ensure_future(auth.check(header)) for _ in range(4)]
    await asyncio.sleep(0.05)
    counted.hold.set()
    scopes = await asyncio.gather(*waiting)
    assert {s.project_id for s in scopes} == {project.id}
    assert counted.verified == 1


async def test_a_wrong_secret_is_refused_every_time_and_only_briefly_remembered(
    keys: ApiKeys, project: Project
) -> None:
    created = await keys.create_key(project.id)
    counted, clock = Counted(keys), Clock()
    auth = Authenticator(counted, TTL, clock=clock)
    wrong = basic(created.public_key, created.secret_key + "x")
    for _ in range(2):
        with pytest.raises(ApiError) as refused:
            await auth.check(wrong)
        assert refused.value.status_code == 401
    assert counted.verified == 1  # the second refusal came from the negative cache
    clock.now += auth.limits.negative_cache_seconds
    with pytest.raises(ApiError):
        await auth.check(wrong)
    assert counted.verified == 2
    # Never cached as good, and the right secret is not refused by the wrong one's entry.
    assert (await auth.check(basic(created.public_key, created.secret_key))).project_id == project.id


async def test_no_cache_when_the_ttl_is_zero(keys: ApiKeys, project: Project) -> None:
    created = await keys.create_key(project.id)
    counted = Counted(keys)
    auth = Authenticator(counted, 0)
    header = basic(created.public_key, created.secret_key)
    await auth.check(header)
    await auth.check(header)
    assert counted.verified == 2
    assert await keys.revoke_key(created.public_key)
    with pytest.raises(ApiError):
        await auth.check(header)
