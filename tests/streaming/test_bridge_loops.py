"""Bridged executions run on one persistent event loop per lane thread (``_bridge_loops``)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import SyncToAsync, sync_to_async

from loom_django.streaming._bridge_loops import BridgeLoops


async def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def _in_thread(fn):
    box = []
    thread = threading.Thread(target=lambda: box.append(fn()))
    thread.start()
    thread.join()
    return box[0]


def test_calls_from_one_thread_share_one_loop():
    loops = BridgeLoops()
    try:
        assert loops.call(_running_loop) is loops.call(_running_loop)
    finally:
        loops.close()


def test_each_lane_thread_gets_its_own_loop():
    loops = BridgeLoops()
    try:
        here = loops.call(_running_loop)
        there = _in_thread(lambda: loops.call(_running_loop))
        assert here is not there
    finally:
        loops.close()


def test_thread_sensitive_calls_come_back_to_the_calling_thread():
    loops = BridgeLoops()

    async def hop() -> int:
        return await sync_to_async(threading.get_ident, thread_sensitive=True)()

    try:
        served, caller = _in_thread(lambda: (loops.call(hop), threading.get_ident()))
        assert served == caller
    finally:
        loops.close()


def test_the_thread_is_pointed_at_its_loop_only_during_the_call():
    """asgiref leaves its own ``main_event_loop`` on threads it ran sync code on: whatever
    the thread held before the call, it holds again after it."""
    loops = BridgeLoops()

    def attributes() -> tuple[object, object]:
        local = SyncToAsync.threadlocal
        return getattr(local, "main_event_loop", None), getattr(local, "main_event_loop_pid", None)

    def check() -> tuple[bool, bool]:
        before = attributes()
        during = loops.call(_running_loop)
        return before == attributes(), during is not before[0]

    def preset_then_check() -> tuple[bool, bool, bool]:
        SyncToAsync.threadlocal.main_event_loop = "left by asgiref"
        SyncToAsync.threadlocal.main_event_loop_pid = 1
        return (*check(), attributes() == ("left by asgiref", 1))

    try:
        assert _in_thread(check) == (True, True)
        assert _in_thread(preset_then_check) == (True, True, True)
    finally:
        loops.close()


def test_an_exception_in_the_coroutine_reaches_the_caller():
    loops = BridgeLoops()

    async def fail() -> None:
        raise LookupError("boom")

    try:
        with pytest.raises(LookupError, match="boom"):
            loops.call(fail)
    finally:
        loops.close()


def test_close_stops_the_loops_and_later_calls_still_run():
    loops = BridgeLoops()
    loop = loops.call(_running_loop)
    loops.close()
    assert loop.is_closed()
    assert loops.call(_running_loop) is not loop
