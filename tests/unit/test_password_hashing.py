"""Password hashing runs off the event loop, a bounded number at once."""

from __future__ import annotations

import asyncio

from domain import accounts


async def test_a_verify_leaves_the_loop_free():
    password_hash = accounts._hasher.hash("secret-pass-1")
    verify = asyncio.create_task(accounts.verify_password(password_hash, "secret-pass-1"))
    await asyncio.sleep(0)  # the verify task starts
    ticks = 0
    while not verify.done():  # a blocking verify would be done before the first tick
        ticks += 1
        await asyncio.sleep(0)
    assert await verify is True
    assert ticks > 0


async def test_hash_then_verify():
    hashed = await accounts.hash_password("secret-pass-1")
    assert await accounts.verify_password(hashed, "secret-pass-1")
    assert not await accounts.verify_password(hashed, "wrong-pass-1")
    assert not await accounts.verify_password("not-a-hash", "secret-pass-1")


async def test_only_a_few_run_at_once():
    accounts.set_hash_concurrency(2)
    password_hash = accounts._hasher.hash("secret-pass-1")
    tasks = [
        asyncio.create_task(accounts.verify_password(password_hash, "secret-pass-1"))
        for _ in range(6)
    ]
    await asyncio.sleep(0)
    slots = accounts.hash_slots()
    assert slots.locked()  # two are running, four wait for a slot
    assert all(await asyncio.gather(*tasks))
    assert not slots.locked()
