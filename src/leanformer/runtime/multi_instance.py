"""Multi-instance inference: N worker processes x T intra-op threads, each pinned to its own cores.

Several small sessions side by side use a CPU better than one session with many threads when
single queries are short (FastFormers: 1.76x). Workers are pinned to distinct physical cores
(never two threads on SMT siblings), fed from one queue, and results come back in input order.
Workers tokenise what they are given raw (texts are batched by character length), so tokenising
runs in parallel and off the caller's process (a server's event loop). A worker that dies is reported
as an error, never waited on forever: the other workers are stopped and the queues abandoned, so the
process can exit at once; workers exit on their own if their parent dies.
"""

from __future__ import annotations

import dataclasses
import itertools
import multiprocessing as mp
import os
import queue
import threading
import time
from pathlib import Path

import numpy as np

from leanformer.errors import LeanformerError
from leanformer.data.features import in_input_order, lengths
from leanformer.runtime.predictor import Inputs, Predictor, PredictorConfig, as_examples, labelled, predictor_config
from leanformer.utils.cpu import core_cpus

POLL_SECONDS = 0.5


def core_groups(instances: int, threads: int) -> list[list[int]]:
    """Disjoint sets of ``threads`` physical cores (one logical CPU each), one set per instance."""
    cpus = core_cpus()
    if instances < 1 or threads < 1:
        raise LeanformerError("instances and threads per instance must be at least 1")
    if instances * threads > len(cpus):
        raise LeanformerError(f"{instances} instances x {threads} threads need {instances * threads} physical cores; "
                              f"this machine offers {len(cpus)}")
    return [cpus[i * threads:(i + 1) * threads] for i in range(instances)]


def _next_job(inbox, parent: int):
    """The next batch, or None to stop; waits in short slices so a dead parent is noticed within a second."""
    while True:
        try:
            return inbox.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:
                os._exit(0)  # orphaned: nobody will read our answers


def _worker(config: PredictorConfig, cpus: list[int], inbox, outbox, parent: int) -> None:
    os.sched_setaffinity(0, cpus)
    try:
        predictor = Predictor(config)
    except Exception as e:  # report, then exit: the parent turns it into an error
        outbox.put(("failed", None, f"{type(e).__name__}: {e}"))
        return
    outbox.put(("ready", os.getpid(), None))
    while (item := _next_job(inbox, parent)) is not None:
        batch_id, items, tokenize = item
        try:
            outbox.put(("ok", batch_id, predictor.run_examples(items) if tokenize else predictor.run_batch(items)))
        except Exception as e:
            outbox.put(("failed", batch_id, f"inference failed in a worker: {type(e).__name__}: {e}"))


class MultiInstancePredictor:
    """Like :class:`Predictor`, spread over pinned worker processes. Use as a context manager.

    Safe to share between threads: every batch gets an id unique to this predictor, and one router
    thread hands each answer to the call that sent the batch.
    """

    def __init__(self, config: PredictorConfig | str | Path, instances: int, start_timeout: float = 300.0,
                 cpus: list[list[int]] | None = None, **settings):
        """``cpus``: the logical CPUs of each instance, when the caller shares the cores out itself."""
        self.config = predictor_config(config, settings)
        self.groups = cpus or core_groups(instances, self.config.threads or 1)
        self.inputs = Inputs(self.config)  # batching here; tokenising and the model in the workers
        context = mp.get_context("spawn")  # forking a process with live thread pools is unsafe
        self.inbox, self.outbox = context.Queue(), context.Queue()
        worker_config = dataclasses.replace(self.config, threads=self.config.threads or 1)
        self.workers = [context.Process(target=_worker, args=(worker_config, cpus, self.inbox, self.outbox, os.getpid()),
                                        daemon=True) for cpus in self.groups]
        self.closed, self._error = False, None
        self._ids = itertools.count()
        self._waiting: dict[int, queue.SimpleQueue] = {}
        self._lock = threading.Lock()
        for w in self.workers:
            w.start()
        self._await_ready(time.monotonic() + start_timeout)
        self._router = threading.Thread(target=self._route, name="leanformer-router", daemon=True)
        self._router.start()

    @property
    def failure(self) -> str | None:
        """Why this predictor stopped working (a dead worker), or None while it works."""
        return self._error

    def _dead_worker(self) -> str | None:
        for i, w in enumerate(self.workers):
            if not w.is_alive():
                return f"inference worker {i} (pid {w.pid}) died with exit code {w.exitcode}"
        return None

    def _await_ready(self, deadline: float) -> None:
        ready = 0
        while ready < len(self.workers):
            try:
                kind, _, detail = self.outbox.get(timeout=POLL_SECONDS)
            except queue.Empty:
                problem = self._dead_worker() or (
                    "inference workers did not start in time" if time.monotonic() > deadline else None)
                if problem:
                    self.close(failed=True)
                    raise LeanformerError(problem) from None
                continue
            if kind == "failed":
                self.close(failed=True)
                raise LeanformerError(f"an inference worker could not start: {detail}")
            ready += 1

    def _route(self) -> None:
        """The one reader of the workers' answers; a dead worker fails every call still waiting."""
        while not self.closed:
            try:
                kind, batch_id, payload = self.outbox.get(timeout=POLL_SECONDS)
            except queue.Empty:
                problem = None if self.closed else self._dead_worker()
                if problem:
                    self._fail(problem)
                    return
                continue
            except (OSError, EOFError, ValueError):  # the queue was closed under us
                return
            with self._lock:
                box = self._waiting.pop(batch_id, None)
            if box is not None:
                box.put((kind, batch_id, payload))

    def _fail(self, message: str) -> None:
        """Wake every waiting call with ``message``; later calls get the first failure, the root cause."""
        with self._lock:
            self._error = self._error or message
            boxes, self._waiting = list(self._waiting.values()), {}
        for box in boxes:
            box.put(("failed", None, message))

    def logits(self, inputs: list, progress=None, batch_size: int | None = None) -> np.ndarray:
        """Logits in input order, whichever worker ran which batch; the workers tokenise."""
        examples = as_examples(inputs)
        return self._run(examples, self.inputs.example_batches(examples, batch_size), True, progress)

    def run_features(self, features: list[list[dict]], progress=None, batch_size: int | None = None,
                     sort_by_length: bool | None = None) -> np.ndarray:
        """Logits for already tokenised inputs, in their order."""
        return self._run(features, self.inputs.batches(lengths(features), batch_size, sort_by_length), False, progress)

    def _run(self, items: list, batches: list[np.ndarray], tokenize: bool, progress) -> np.ndarray:
        box: queue.SimpleQueue = queue.SimpleQueue()
        with self._lock:
            if self._error is not None:
                raise LeanformerError(self._error)
            ids = [next(self._ids) for _ in batches]
            self._waiting.update((batch_id, box) for batch_id in ids)
        position = {batch_id: b for b, batch_id in enumerate(ids)}
        for batch_id, idx in zip(ids, batches):
            self.inbox.put((batch_id, [items[i] for i in idx], tokenize))

        def results():
            for _ in batches:
                kind, batch_id, payload = box.get()
                if kind == "failed":
                    self.close(failed=True)
                    raise LeanformerError(payload)
                yield position[batch_id], payload
                if progress is not None:
                    progress(len(batches[position[batch_id]]))

        return in_input_order(len(items), batches, results())

    def predict(self, inputs: list) -> list[dict]:
        return labelled(self.logits(inputs), self.inputs.manifest)

    def close(self, failed: bool = False) -> None:
        """Stop the workers: politely after a normal run, at once after a failure.

        After a failure the inbox may hold batches no worker will read; its feeder thread would block
        the process's exit on a full pipe, so both queues are abandoned rather than flushed.
        """
        with self._lock:
            if self.closed:
                return
            self.closed = True
        self._fail("the multi-instance predictor was closed")  # wakes any call still waiting
        if not failed:
            for w in self.workers:
                if w.is_alive():
                    self.inbox.put(None)
        for w in self.workers:
            if failed:
                w.terminate()
            w.join(timeout=5)
            if w.is_alive():
                w.kill()
                w.join()
        for q in (self.inbox, self.outbox):
            q.cancel_join_thread()
            q.close()

    def __enter__(self) -> "MultiInstancePredictor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
