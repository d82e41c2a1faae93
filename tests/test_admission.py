"""The admission gate: arrival order, slots freed at the first external call, never leaked."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from citu.admission import AdmissionGate, AdmissionReleasingTransport, leave_admission


async def test_turns_are_admitted_in_arrival_order():
    gate = AdmissionGate(1)
    order: list[int] = []

    async def turn(n: int) -> None:
        async with gate.admitted():
            order.append(n)
            await asyncio.sleep(0)  # hold the slot across a switch

    tasks = []
    for n in range(6):
        tasks.append(asyncio.create_task(turn(n)))
        await asyncio.sleep(0)  # arrive one after the other
    await asyncio.gather(*tasks)
    assert order == list(range(6))


async def test_leaving_frees_the_slot_while_the_turn_goes_on():
    gate = AdmissionGate(1)
    second_in = asyncio.Event()
    first_may_end = asyncio.Event()

    async def first() -> None:
        async with gate.admitted():
            leave_admission()  # e.g. the model call starts
            await first_may_end.wait()

    async def second() -> None:
        async with gate.admitted():
            second_in.set()

    one = asyncio.create_task(first())
    await asyncio.sleep(0)
    two = asyncio.create_task(second())
    await asyncio.wait_for(second_in.wait(), 1)  # admitted while the first still runs
    first_may_end.set()
    await asyncio.gather(one, two)


async def test_a_graph_node_task_frees_the_slot_of_its_turn():
    gate = AdmissionGate(1)

    async def node() -> None:  # LangGraph runs nodes as child tasks of the turn
        leave_admission()

    async with gate.admitted():
        await asyncio.create_task(node())
        async with asyncio.timeout(1):
            async with gate.admitted():  # the slot is free again
                pass


async def test_slots_are_returned_once_on_errors_and_cancellation():
    gate = AdmissionGate(2)

    async def fails() -> None:
        async with gate.admitted():
            leave_admission()
            leave_admission()  # a second model call in the same turn
            raise RuntimeError("boom")

    async def hangs() -> None:
        async with gate.admitted():
            await asyncio.sleep(3600)

    with pytest.raises(RuntimeError):
        await fails()
    task = asyncio.create_task(hangs())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    # Exactly two slots: two turns get in at once, a third has to wait.
    entered = 0

    async def holds(release: asyncio.Event) -> None:
        nonlocal entered
        async with gate.admitted():
            entered += 1
            await release.wait()

    release = asyncio.Event()
    holders = [asyncio.create_task(holds(release)) for _ in range(3)]
    await asyncio.sleep(0.05)
    assert entered == 2
    release.set()
    await asyncio.gather(*holders)
    assert entered == 3


async def test_leaving_after_the_turn_frees_no_extra_slot():
    gate = AdmissionGate(1)
    async with gate.admitted():
        pass
    leave_admission()  # outside any turn, e.g. a model call of the health probe
    inside = asyncio.Event()
    release = asyncio.Event()

    async def holds() -> None:
        async with gate.admitted():
            inside.set()
            await release.wait()

    holder = asyncio.create_task(holds())
    await inside.wait()
    second = asyncio.create_task(holds())
    await asyncio.sleep(0.05)
    assert not second.done()  # still one slot: the second turn waits
    release.set()
    await asyncio.gather(holder, second)


async def test_limit_zero_admits_everyone():
    gate = AdmissionGate(0)
    inside = 0

    async def turn() -> None:
        nonlocal inside
        async with gate.admitted():
            inside += 1
            await asyncio.sleep(0.01)

    await asyncio.gather(*(turn() for _ in range(50)))
    assert inside == 50


async def test_a_request_leaving_through_the_shared_transport_frees_the_slot():
    gate = AdmissionGate(1)
    second_in = asyncio.Event()

    async def slow_model(request: httpx.Request) -> httpx.Response:
        await asyncio.wait_for(second_in.wait(), 1)  # the next turn got in meanwhile
        return httpx.Response(200, json={"ok": True})

    transport = AdmissionReleasingTransport(httpx.MockTransport(slow_model))
    async with httpx.AsyncClient(transport=transport) as client:

        async def first() -> int:
            async with gate.admitted():
                return (await client.post("http://model/v1/chat/completions")).status_code

        async def second() -> None:
            async with gate.admitted():
                second_in.set()

        one = asyncio.create_task(first())
        await asyncio.sleep(0)
        assert await asyncio.gather(one, second()) == [200, None]


async def test_a_turn_without_a_request_keeps_its_slot():
    gate = AdmissionGate(1)
    transport = AdmissionReleasingTransport(httpx.MockTransport(lambda r: httpx.Response(200)))
    second_in = asyncio.Event()

    async def second() -> None:
        async with gate.admitted():
            second_in.set()

    async with httpx.AsyncClient(transport=transport) as client:
        async with gate.admitted():
            waiting = asyncio.create_task(second())
            await asyncio.sleep(0.05)
            assert not second_in.is_set()  # no model call yet: the slot is still held
            await client.get("http://model/v1/models")
            await asyncio.wait_for(second_in.wait(), 1)
        await waiting
