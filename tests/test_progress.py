"""The progress token: cancel, pause and resume from another thread."""

import threading
import time

import pytest

from models.errors import Cancelled
from models.progress import CallbackProgress, OffsetProgress


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


def test_offset_progress_places_a_sub_job_in_the_whole():
    seen = []
    whole = CallbackProgress(lambda done, total, message: seen.append((done, total, message)))
    OffsetProgress(whole, 10, 30).update(5, 20, "tiles")
    # with a span: a file's 3 of 4 tiles are 3/4 of that file's 1000 units of a 5-file batch
    OffsetProgress(whole, 2000, 5000, span=1000).update(3, 4, "file")
    OffsetProgress(whole, 2000, 5000, span=1000).update(0, 0)  # nothing to do yet
    assert seen == [(15, 30, "tiles"), (2750, 5000, "file"), (2000, 5000, "")]
    whole.cancel()
    with pytest.raises(Cancelled):
        OffsetProgress(whole, 0, 1).check_cancelled()
