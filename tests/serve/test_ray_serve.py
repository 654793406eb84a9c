"""The Ray Serve deployment answers like the plain server (local Ray)."""

import pytest

from leanformer.runtime.predictor import Predictor
from leanformer.serve import ServeConfig
from tests.serve.test_server import _free_port, call


@pytest.fixture
def ray_serve(local_ray):
    from ray import serve

    yield serve
    serve.shutdown()


def test_ray_serve_answers_the_same_requests_as_the_plain_server(trained_toy, ray_serve):
    from leanformer.serve.ray_serve import run_ray

    model, port = trained_toy["onnx"], _free_port()
    run_ray(ServeConfig(model=str(model), port=port, max_inputs=4), block=False)
    texts = ["the film is great", "a dog is very bad", "this book is fine"]
    status, _, body = call(port, "/v1/predict", {"inputs": texts})
    assert status == 200 and body["model"] == model.name
    expected = Predictor(str(model)).predict(texts)
    assert [p["label"] for p in body["predictions"]] == [e["label"] for e in expected]
    for got, want in zip(body["predictions"], expected):
        assert list(got["probabilities"].values()) == pytest.approx(want["probabilities"], abs=1e-4)
    status, _, body = call(port, "/v1/predict", {"inputs": ["a"] * 5})
    assert (status, body["error"]["kind"]) == (413, "too_many_inputs")
    status, _, body = call(port, "/v1/predict", {"inputs": []})
    assert (status, body["error"]["kind"]) == (422, "invalid_request")
