"""Multi-instance inference: N worker processes x T intra-op threads, each pinned to its own cores.

Several small sessions side by side use a CPU better than one session with many threads when
single queries are short (FastFormers: 1.76x). Workers are pinned to distinct physical cores
(never two threads on SMT siblings), fed from one queue, and results come back in input order.
A worker that dies is reported as an error, never waited on forever: the other workers are stopped
and the queues abandoned, so the process can exit at once; workers exit on their own if their parent
dies.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import time
from pathlib import Path

import numpy as np

from leanformer.errors import LeanformerError
from leanformer.runtime.predictor import Inputs, Predictor, gather, labelled
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


def _worker(model_dir: str, cpus: list[int], threads: int, max_length: int, inbox, outbox, parent: int) -> None:
    os.sched_setaffinity(0, cpus)
    try:
        predictor = Predictor(model_dir, threads=threads, max_length=max_length)
    except Exception as e:  # report, then exit: the parent turns it into an error
        outbox.put(("failed", None, f"{type(e).__name__}: {e}"))
        return
    outbox.put(("ready", os.getpid(), None))
    while (item := _next_job(inbox, parent)) is not None:
        batch_id, features = item
        try:
            outbox.put(("ok", batch_id, predictor.run_batch(features)))
        except Exception as e:
            outbox.put(("failed", batch_id, f"{type(e).__name__}: {e}"))


class MultiInstancePredictor:
    """Like :class:`Predictor`, spread over pinned worker processes. Use as a context manager."""

    def __init__(self, model_dir: str | Path, instances: int, threads: int = 1, batch_size: int = 1,
                 sort_by_length: bool = True, max_length: int = 128, start_timeout: float = 300.0):
        self.groups = core_groups(instances, threads)
        self.inputs = Inputs(str(model_dir), batch_size, sort_by_length, max_length)  # workers only run the model
        context = mp.get_context("spawn")  # forking a process with live thread pools is unsafe
        self.inbox, self.outbox = context.Queue(), context.Queue()
        self.workers = [context.Process(target=_worker, args=(str(model_dir), cpus, threads, max_length, self.inbox,
                                                              self.outbox, os.getpid()), daemon=True)
                        for cpus in self.groups]
        self.closed = False
        for w in self.workers:
            w.start()
        ready = 0
        deadline = time.monotonic() + start_timeout
        while ready < len(self.workers):
            kind, _, detail = self._next(deadline)
            if kind == "failed":
                self.close(failed=True)
                raise LeanformerError(f"an inference worker could not start: {detail}")
            ready += 1

    def _next(self, deadline: float | None = None):
        """The next message from a worker; raises if a worker has died or the deadline passed."""
        while True:
            try:
                return self.outbox.get(timeout=POLL_SECONDS)
            except queue.Empty:
                for i, w in enumerate(self.workers):
                    if not w.is_alive():
                        self.close(failed=True)
                        raise LeanformerError(f"inference worker {i} (pid {w.pid}) died with exit code {w.exitcode}")
                if deadline is not None and time.monotonic() > deadline:
                    self.close(failed=True)
                    raise LeanformerError("inference workers did not answer in time")

    def logits(self, inputs: list, progress=None) -> np.ndarray:
        """Logits in input order, whichever worker ran which batch."""
        return self.run_features(self.inputs.features(inputs), progress)

    def run_features(self, features: list[list[dict]], progress=None) -> np.ndarray:
        """Logits for already tokenised inputs, in their order."""
        batches = self.inputs.batches(features)
        for batch_id, idx in enumerate(batches):
            self.inbox.put((batch_id, [features[i] for i in idx]))

        def results():
            for _ in batches:
                kind, batch_id, payload = self._next()
                if kind == "failed":
                    self.close(failed=True)
                    raise LeanformerError(f"inference failed in a worker: {payload}")
                yield batch_id, payload
                if progress is not None:
                    progress(len(batches[batch_id]))

        return gather(features, batches, results())

    def predict(self, inputs: list) -> list[dict]:
        return labelled(self.logits(inputs), self.inputs.manifest)

    def close(self, failed: bool = False) -> None:
        """Stop the workers: politely after a normal run, at once after a failure.

        After a failure the inbox may hold batches no worker will read; its feeder thread would block
        the process's exit on a full pipe, so both queues are abandoned rather than flushed.
        """
        if self.closed:
            return
        self.closed = True
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
