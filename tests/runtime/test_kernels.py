"""The skip-LayerNorm choice is measured, and both forms compute the same thing."""

import numpy as np
import onnxruntime as ort

from leanformer.runtime.kernels import _layer_norm_graph, skip_layer_norm_timings


def test_fused_and_unfused_skip_layer_norm_agree():
    rng = np.random.default_rng(1)
    feed = {n: rng.standard_normal((1, 7, 48), dtype=np.float32) for n in ("x", "skip")}
    fused, apart = (ort.InferenceSession(_layer_norm_graph(48, f), providers=["CPUExecutionProvider"])
                    .run(None, feed)[0] for f in (True, False))
    u = feed["x"] + feed["skip"]
    expected = (u - u.mean(-1, keepdims=True)) / np.sqrt(u.var(-1, keepdims=True) + 1e-5)
    assert np.abs(fused - expected).max() < 1e-4 and np.abs(apart - expected).max() < 1e-4


def test_the_faster_form_is_chosen():
    timings = skip_layer_norm_timings(48, tokens=8, repeats=20)
    assert timings["fused_us"] > 0 and timings["unfused_us"] > 0
    assert timings["fuse"] == (timings["fused_us"] <= timings["unfused_us"])
