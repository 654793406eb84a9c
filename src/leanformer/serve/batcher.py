"""Dynamic micro-batching: requests that arrive together share one model call.

A request's inputs join a queue. When a worker slot is free, the collector takes whole requests
up to ``max_batch_size`` inputs, waiting at most ``max_wait`` after the first for more to join,
hands the batch to the slot (one batch per slot at a time), and gives every request its own rows
back. Under load, batches form from what queued while every slot was busy, with no waiting; at
low load a request goes straight to a free worker. The queue is bounded in inputs: a request
that does not fit is refused at once (the server answers 503).
"""

from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass, field

import numpy as np


class Overloaded(Exception):
    """The queue is full; the client should retry later."""


@dataclass
class _Request:
    inputs: list
    future: asyncio.Future
    arrived: float = field(default_factory=time.monotonic)


class MicroBatcher:
    def __init__(self, slots: list, max_batch_size: int, max_wait: float, queue_size: int, model_batch_size: int,
                 metrics=None):
        self.slots, self.max_batch_size, self.max_wait, self.queue_size = slots, max_batch_size, max_wait, queue_size
        self.model_batch_size = model_batch_size
        self.metrics = metrics
        self._queue: collections.deque[_Request] = collections.deque()
        self._waiting_inputs = 0
        self._arrival = asyncio.Event()
        self._free: asyncio.Queue = asyncio.Queue()
        self._tasks: set[asyncio.Task] = set()
        self._collector: asyncio.Task | None = None

    def start(self) -> None:
        for slot in self.slots:
            self._free.put_nowait(slot)
        self._collector = asyncio.get_running_loop().create_task(self._collect())

    @property
    def depth(self) -> int:
        """Inputs waiting for a batch."""
        return self._waiting_inputs

    async def submit(self, inputs: list) -> np.ndarray:
        """Logits for ``inputs`` (one request), computed in a shared micro-batch."""
        if self._waiting_inputs + len(inputs) > self.queue_size:
            raise Overloaded(f"{self._waiting_inputs} inputs are waiting (limit {self.queue_size})")
        request = _Request(inputs, asyncio.get_running_loop().create_future())
        self._queue.append(request)
        self._waiting_inputs += len(inputs)
        self._update_depth()
        self._arrival.set()
        return await request.future

    def _update_depth(self) -> None:
        if self.metrics is not None:
            self.metrics.queue_depth.set(self._waiting_inputs)

    async def _collect(self) -> None:
        while True:
            if not self._queue:
                self._arrival.clear()
                await self._arrival.wait()
            slot = await self._free.get()  # wait for a worker before deciding the batch: later arrivals can join
            first = self._queue[0]
            deadline = first.arrived + self.max_wait
            while self._pending_inputs() < self.max_batch_size and time.monotonic() < deadline:
                self._arrival.clear()
                try:
                    await asyncio.wait_for(self._arrival.wait(), deadline - time.monotonic())
                except TimeoutError:
                    break
            batch = [self._queue.popleft()]
            size = len(batch[0].inputs)
            while self._queue and size + len(self._queue[0].inputs) <= self.max_batch_size:
                size += len(self._queue[0].inputs)
                batch.append(self._queue.popleft())
            self._waiting_inputs -= size
            self._update_depth()
            task = asyncio.get_running_loop().create_task(self._run(slot, batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _pending_inputs(self) -> int:
        return sum(len(r.inputs) for r in self._queue)

    async def _run(self, slot, batch: list[_Request]) -> None:
        inputs = [f for r in batch for f in r.inputs]
        if self.metrics is not None:
            self.metrics.batch_size.observe(len(inputs))
        try:
            logits = await asyncio.to_thread(slot.run, inputs, self.model_batch_size)
        except Exception as e:  # every request of the batch gets the error; the slot has recovered
            for r in batch:
                if not r.future.done():
                    r.future.set_exception(e)
        else:
            start = 0
            for r in batch:
                if not r.future.done():
                    r.future.set_result(logits[start:start + len(r.inputs)])
                start += len(r.inputs)
        finally:
            self._free.put_nowait(slot)

    async def drain(self) -> None:
        """Finish every request already accepted, then stop collecting."""
        while self._queue or self._tasks:
            await asyncio.sleep(0.01)
        if self._collector is not None:
            self._collector.cancel()
