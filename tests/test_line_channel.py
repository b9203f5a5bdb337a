"""LineChannel (server/streaming.py): lines that follow one another closely go out together; a full buffer or the
end of the stream does not wait for the gathering."""
import asyncio
import threading
import time

import pytest

from llmviz.server import streaming
from llmviz.server.streaming import LineChannel


async def received(channel: LineChannel) -> list[tuple[float, bytes]]:
    return [(time.perf_counter(), chunk) async for chunk in channel.chunks()]


def run(worker, capacity: int = 32):
    """The chunks (arrival time, bytes) the response gets while `worker(channel)` puts lines from a thread."""
    async def main():
        channel = LineChannel(asyncio.get_running_loop(), capacity)
        thread = threading.Thread(target=worker, args=(channel,))
        started = time.perf_counter()
        thread.start()
        chunks = await received(channel)
        thread.join()
        return started, chunks
    return asyncio.run(main())


@pytest.fixture
def slow_gathering(monkeypatch):
    monkeypatch.setattr(streaming, "GATHER_SECONDS", 0.3)  # long enough that timing on a busy machine cannot matter


def test_lines_put_just_after_a_pause_go_out_in_one_chunk(slow_gathering):
    def worker(channel):
        time.sleep(0.05)  # the response is idle, waiting
        for n in range(3):
            channel.put(b"line %d\n" % n)
            time.sleep(0.01)
        time.sleep(0.5)
        channel.put(b"later\n")
        channel.finish()
    _, chunks = run(worker)
    assert [chunk for _, chunk in chunks] == [b"line 0\nline 1\nline 2\n", b"later\n"]


def test_the_end_of_the_stream_and_a_full_buffer_do_not_wait_for_the_gathering(slow_gathering):
    def ending(channel):
        time.sleep(0.05)
        channel.put(b"last\n")
        time.sleep(0.05)  # the response is gathering now
        channel.finish()
    started, chunks = run(ending)
    assert [chunk for _, chunk in chunks] == [b"last\n"] and chunks[0][0] - started < 0.25

    def filling(channel):
        time.sleep(0.05)
        channel.put(b"0\n")
        time.sleep(0.05)  # the response is gathering now
        for n in range(1, 5):  # the third waits until the response takes the first two
            channel.put(b"%d\n" % n)
        channel.finish()
    started, chunks = run(filling, capacity=2)
    assert b"".join(chunk for _, chunk in chunks) == b"0\n1\n2\n3\n4\n"
    assert chunks[-1][0] - started < 0.25

    big = b"x" * streaming.GATHER_BYTES + b"\n"  # a chunk's worth: nothing is gained by waiting for company

    def sending_a_big_line(channel):
        time.sleep(0.05)
        channel.put(b"small\n")
        time.sleep(0.05)
        channel.put(big)
        time.sleep(0.5)
        channel.finish()
    started, chunks = run(sending_a_big_line)
    assert chunks[0][1] == b"small\n" + big and chunks[0][0] - started < 0.25
