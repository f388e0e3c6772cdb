"""Pausing the collector while decoding: nested and concurrent pauses, and what is restored."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from globalnet_doctor import gcpause


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    yield
    gc.unfreeze()
    gc.enable()
    gcpause._freeze = False


def test_the_collector_is_off_until_the_last_pause_ends_then_on_again() -> None:
    with gcpause.gc_paused():
        assert not gc.isenabled()
        with gcpause.gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with gcpause.gc_paused():
        pass
    assert not gc.isenabled()


def test_it_is_restored_when_decoding_fails() -> None:
    with pytest.raises(ValueError, match="corrupt"), gcpause.gc_paused():
        raise ValueError("corrupt")
    assert gc.isenabled()


def test_only_a_command_freezes_what_was_decoded() -> None:
    with gcpause.gc_paused():
        decoded = [{"n": i} for i in range(1000)]
    assert gc.get_freeze_count() == 0
    gcpause.freeze_after_decoding()
    with gcpause.gc_paused():
        decoded = [{"n": i} for i in range(1000)]
    assert gc.get_freeze_count() >= len(decoded)
