import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from leanformer.errors import LeanformerError
from leanformer.runtime import Predictor
from leanformer.runtime.multi_instance import MultiInstancePredictor, core_groups
from leanformer.runtime.tune import TuneConfig, settings, tune_instances
from leanformer.tasks import TaskConfig, get_task
from leanformer.utils.cpu import core_cpus, physical_cores


def dev(data):
    return get_task(TaskConfig(name="generic", data_dir=str(data))).examples("dev")


def test_core_groups_are_disjoint_physical_cores():
    n = physical_cores()
    groups = core_groups(n, 1)
    assert sorted(c for g in groups for c in g) == core_cpus()
    with pytest.raises(LeanformerError, match="need .* physical cores; this machine offers"):
        core_groups(n + 1, 1)
    assert settings(2) == [(1, 1), (1, 2), (2, 1)]


def test_results_in_input_order_match_single_instance(trained_toy):
    examples = dev(trained_toy["data"])
    reference = Predictor(trained_toy["onnx"], batch_size=1, threads=1).logits(examples)
    with MultiInstancePredictor(trained_toy["onnx"], instances=physical_cores(), threads=1, batch_size=3) as p:
        got = p.logits(examples)
        labels = [x["label"] for x in p.predict(["the film is great", "a dog is awful"])]
    assert np.abs(got - reference).max() < 1e-5
    assert labels == ["pos", "neg"]


def test_crashed_worker_is_an_error_not_a_hang(trained_toy):
    with MultiInstancePredictor(trained_toy["onnx"], instances=1, threads=1) as p:
        os.kill(p.workers[0].pid, signal.SIGKILL)
        with pytest.raises(LeanformerError, match=r"inference worker 0 \(pid \d+\) died with exit code -9"):
            p.logits(dev(trained_toy["data"]))
        with pytest.raises(LeanformerError, match="died with exit code -9"):  # later calls keep the root cause
            p.logits(dev(trained_toy["data"]))


def test_worker_that_cannot_start(trained_toy, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(trained_toy["onnx"], broken)
    (broken / "model.onnx").write_bytes(b"not an onnx graph")
    with pytest.raises(LeanformerError, match="could not start.*ONNX Runtime cannot load"):
        MultiInstancePredictor(broken, instances=1, threads=1)


def test_tune_instances_saves_best(trained_toy, tmp_path):
    model = tmp_path / "m"
    shutil.copytree(trained_toy["onnx"], model)
    result = tune_instances(TuneConfig(model=str(model), examples=16, batch_sizes=[1, 4]))
    assert len(result["rows"]) == 2 * len(settings(physical_cores()))
    saved = json.loads((model / "leanformer.json").read_text())["tuned"]
    assert saved == result["best"] and saved["examples_per_second"] == max(r["examples_per_second"] for r in result["rows"])
    assert Predictor(model).predict(["the film is great"])[0]["label"] == "pos"


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found |= {int(c) for c in text}
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _workers_of(proc, count: int, timeout: float = 120) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = [c for c in _children(proc.pid)
                   if b"multiprocessing.spawn" in Path(f"/proc/{c}/cmdline").read_bytes()
                   and b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
        if len(workers) >= count:
            return workers
        time.sleep(0.1)
    raise AssertionError(f"no {count} workers appeared: {proc.communicate(timeout=5)}")


@pytest.mark.skipif(physical_cores() < 2 or not Path("/proc/self/task").is_dir(), reason="needs 2 cores and /proc")
def test_predict_with_a_worker_killed_mid_run_exits_2_and_leaves_no_worker(trained_toy, tmp_path):
    rows = [json.loads(line) for line in (trained_toy["data"] / "test.jsonl").read_text().splitlines()] * 500
    big = tmp_path / "big.jsonl"
    big.write_text("".join(json.dumps(r) + "\n" for r in rows))
    proc = subprocess.Popen([sys.executable, "-m", "leanformer.cli.main", "predict", "-m", str(trained_toy["onnx"]),
                             "-i", str(big), "-o", str(tmp_path / "p.jsonl"), "--instances", "2", "--threads", "1",
                             "--batch-size", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    workers = _workers_of(proc, 2)
    time.sleep(3)  # the inputs are tokenised and queued, and the workers are busy with them
    os.kill(workers[0], signal.SIGKILL)
    start = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - start < 30
    assert proc.returncode == 2, err.decode()
    assert b"died with exit code -9" in err and b"Traceback" not in err
    assert not any(_alive(w) for w in workers)
    assert not (tmp_path / "p.jsonl").exists()


SCRIPT = """
import sys, time
from leanformer.runtime.multi_instance import MultiInstancePredictor
p = MultiInstancePredictor(sys.argv[1], instances=1, threads=1)
print("ready", flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc")
def test_workers_exit_on_their_own_when_the_parent_dies(trained_toy):
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(trained_toy["onnx"])], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"ready"
    workers = _workers_of(proc, 1)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 15
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(w) for w in workers)


DEAD_WORKER_SCRIPT = """
import os, signal, sys, time
from leanformer.errors import LeanformerError
from leanformer.runtime.multi_instance import MultiInstancePredictor
p = MultiInstancePredictor(sys.argv[1], instances=1, threads=1)
os.kill(p.workers[0].pid, signal.SIGKILL)
time.sleep(0.5)
try:
    p.logits(["the film is very good"] * 20000)  # far more than a pipe holds, queued for nobody
except LeanformerError as e:
    print(e, flush=True)
"""


def test_a_process_whose_worker_died_with_work_queued_still_exits(trained_toy):
    proc = subprocess.Popen([sys.executable, "-c", DEAD_WORKER_SCRIPT, str(trained_toy["onnx"])],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the process hung at exit on its queue")
    assert b"died with exit code -9" in out and proc.returncode == 0


def test_concurrent_calls_on_one_predictor_each_get_their_own_results(trained_toy):
    from concurrent.futures import ThreadPoolExecutor

    examples = dev(trained_toy["data"])
    reference = Predictor(trained_toy["onnx"], threads=1).logits(examples)
    with MultiInstancePredictor(trained_toy["onnx"], instances=physical_cores(), threads=1, batch_size=2) as p:
        def call(k: int):
            order = np.random.default_rng(k).permutation(len(examples))[: 5 + k % 20]
            return order, p.logits([examples[i] for i in order])

        with ThreadPoolExecutor(8) as pool:
            for order, got in pool.map(call, range(40)):
                assert np.abs(got - reference[order]).max() < 1e-5
