"""The progress token: cancel, pause and resume from another thread."""

import threading
import time

import pytest

from colorizer_app.engine.errors import Cancelled
from colorizer_app.engine.progress import CallbackProgress


def checker(token, log):
    def run():
        try:
            token.check_cancelled()
            log.append("passed")
        except Cancelled:
            log.append("cancelled")

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_pause_holds_until_resume():
    held = []
    token = CallbackProgress(on_hold=lambda: held.append(time.monotonic()))
    token.pause()
    assert token.paused
    log = []
    thread = checker(token, log)
    time.sleep(0.5)
    assert log == [] and len(held) == 1  # held, and said so once
    token.resume()
    thread.join(5)
    assert log == ["passed"] and not token.paused


def test_cancel_wakes_a_paused_job():
    token = CallbackProgress()
    token.pause()
    log = []
    thread = checker(token, log)
    time.sleep(0.3)
    token.cancel()
    thread.join(5)
    assert log == ["cancelled"]
    token.pause()  # a cancelled token cannot be paused again
    assert not token.paused
    with pytest.raises(Cancelled):
        token.check_cancelled()


def test_unpaused_check_is_immediate():
    token = CallbackProgress(on_hold=lambda: pytest.fail("not paused"))
    start = time.monotonic()
    for _ in range(1000):
        token.check_cancelled()
    assert time.monotonic() - start < 0.5
