"""The encoding lane: lines leave in the order they were put, the engine runs ahead, a failure stops the pass."""
import threading

import pytest

from llmviz.server.lane import DEPTH, EncodingLane, Small
from llmviz.server.streaming import PassCancelled


def test_lines_and_deferred_lines_leave_in_order():
    out = []
    lane = EncodingLane(out.append)
    for i in range(50):
        lane.put(i if i % 2 else (lambda i=i: f"encoded {i}"))
    lane.finish()
    assert out == [i if i % 2 else f"encoded {i}" for i in range(50)]


def test_the_engine_puts_ahead_while_the_lane_is_still_sending():
    release, out = threading.Event(), []

    def slow_emit(line):
        release.wait(5)
        out.append(line)

    lane = EncodingLane(slow_emit)
    for i in range(DEPTH + 1):  # one being sent, DEPTH waiting: none of these puts waits for the client
        lane.put(lambda i=i: i)
    assert out == []
    release.set()
    lane.finish()
    assert out == list(range(DEPTH + 1))


def test_a_failure_reaches_the_engine_at_its_next_put_and_nothing_after_it_is_sent():
    out = []

    def emit(line):
        if line == 3:
            raise PassCancelled
        out.append(line)

    lane = EncodingLane(emit)
    with pytest.raises(PassCancelled):
        for i in range(1000):  # the lane fails at 3; a later put raises instead of queueing forever
            lane.put(lambda i=i: i)
    lane.stop()
    assert out == [0, 1, 2]


def test_finish_raises_the_lanes_failure_and_stop_never_does():
    def encode():
        raise ValueError("blocks.0.hook_resid_pre contains NaN")

    lane = EncodingLane(lambda line: None)
    lane.put(encode)
    with pytest.raises(ValueError, match="contains NaN"):
        lane.finish()
    lane.stop()  # idempotent, silent


def test_lines_before_the_first_tensor_go_out_at_once_on_the_callers_thread():
    sent_by = []
    lane = EncodingLane(lambda line: sent_by.append((line, threading.current_thread())))
    lane.put({"type": "header"})
    assert sent_by == [({"type": "header"}, threading.current_thread())]  # no hand-off for the first line
    lane.put(lambda: b"tensor")
    lane.put({"type": "output"})
    lane.finish()
    assert [line for line, _ in sent_by] == [{"type": "header"}, b"tensor", {"type": "output"}]
    assert sent_by[1][1] is not threading.current_thread()


def test_small_lines_are_encoded_on_the_callers_thread_once_the_lane_is_idle_and_queue_behind_it_before():
    """A generated token's pass (Small lines) after a whole pass still being encoded: first in line behind it,
    on the lane, then, once everything before has gone out, on the engine's own thread with no hand-off."""
    release, sent_by = threading.Event(), []

    def whole(i):
        release.wait(5)
        return f"whole {i}"

    lane = EncodingLane(lambda line: sent_by.append((line, threading.current_thread())))
    lane.put(lambda: whole(0))
    lane.put(Small(lambda: "small 1"))  # the lane is busy: it waits its turn
    lane.put({"type": "output"})
    assert sent_by == []
    release.set()
    for _ in range(500):
        if len(sent_by) == 3:
            break
        threading.Event().wait(0.01)
    lane.put(Small(lambda: "small 2"))  # the lane has emitted everything: encoded and sent right here
    assert sent_by[-1] == ("small 2", threading.current_thread())
    lane.put({"type": "output"})
    assert sent_by[-1] == ({"type": "output"}, threading.current_thread())
    lane.finish()
    assert [line for line, _ in sent_by] == ["whole 0", "small 1", {"type": "output"}, "small 2", {"type": "output"}]
    assert all(thread is not threading.current_thread() for _, thread in sent_by[:3])


def test_a_small_line_that_fails_on_the_callers_thread_raises_there():
    lane = EncodingLane(lambda line: None)

    def encode():
        raise ValueError("blocks.0.hook_resid_pre contains NaN")

    with pytest.raises(ValueError, match="contains NaN"):
        lane.put(Small(encode))
    lane.finish()


def test_a_compare_streams_tag_keeps_a_small_line_small():
    from llmviz.server.passes import tagged

    line = tagged(Small(lambda: b'{"type":"tensor"}\n'), "main")
    assert isinstance(line, Small)
    assert line() == b'{"type":"tensor","pass":"main"}\n'
