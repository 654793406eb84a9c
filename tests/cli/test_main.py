import json

from leanformer.cli.main import main


def test_help_lists_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "evaluate" in out


def test_train_then_evaluate_prints_json(tiny_model, toy_dataset, tmp_path, capsys):
    out = tmp_path / "model"
    code = main(["train", "-m", str(tiny_model("bert")), "-o", str(out), "--task", "generic", "--data-dir",
                 str(toy_dataset), "--epochs", "1", "--fp32", "--threads", "1"])
    assert code == 0
    assert "dev" in json.loads(capsys.readouterr().out)["metrics"]
    assert main(["evaluate", "-m", str(out), "--split", "test", "--limit", "10"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["examples"] == 10 and 0 <= report["metrics"]["accuracy"] <= 1


def test_bad_input_is_one_line_exit_2(tmp_path, tiny_model, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.csv").write_bytes(b"text,label\nok,a\n\xff\xfe,b\n")
    code = main(["train", "-m", str(tiny_model("bert")), "-o", str(tmp_path / "out"), "--task", "generic",
                 "--data-dir", str(data)])
    err = capsys.readouterr().err
    assert code == 2
    assert "train.csv, line 3: not valid UTF-8" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_unknown_task_and_usage_errors_exit_2(capsys):
    assert main(["train", "-m", "x", "-o", "y", "--task", "nope"]) == 2
    assert "unknown task 'nope'" in capsys.readouterr().err
    assert main(["train", "--epochs", "many"]) == 2


def test_export_quantize_predict_commands(trained_toy, tmp_path, capsys):
    onnx_dir, int8 = tmp_path / "onnx", tmp_path / "int8"
    assert main(["export", "-m", str(trained_toy["torch"]), "-o", str(onnx_dir)]) == 0
    assert json.loads(capsys.readouterr().out)["fusions"]["Attention"] == 2
    assert main(["quantize", "-m", str(onnx_dir), "-o", str(int8), "--variant", "s8"]) == 0
    capsys.readouterr()
    assert main(["evaluate", "-m", str(int8), "--split", "dev"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["runtime"] == "onnxruntime" and report["precision"] == "int8" and report["metrics"]["accuracy"] >= 0.9
    out = tmp_path / "pred.csv"
    assert main(["predict", "-m", str(int8), "-o", str(out), "--split", "dev", "--batch-size", "4"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["examples"] == 40 and report["metrics"]["accuracy"] >= 0.9
    rows = out.read_text().splitlines()
    assert rows[0] == "idx,label,p_neg,p_pos" and len(rows) == 41
    # the first data row is the first dev example, whatever order the batches ran in
    first = json.loads((trained_toy["data"] / "dev.jsonl").read_text().splitlines()[0])
    assert rows[1].split(",")[:2] == [str(first["id"]), first["label"]]


def test_predict_superglue_submission(tiny_model, tmp_path, capsys):
    from pathlib import Path
    data = Path(__file__).parents[1] / "fixtures" / "superglue" / "MultiRC"
    model = tmp_path / "multirc"
    assert main(["train", "-m", str(tiny_model("bert")), "-o", str(model), "--task", "multirc", "--data-dir",
                 str(data), "--epochs", "1", "--fp32"]) == 0
    capsys.readouterr()
    out = tmp_path / "MultiRC.jsonl"
    assert main(["predict", "-m", str(model), "-o", str(out)]) == 0
    record = json.loads(out.read_text())
    assert [a["idx"] for a in record["passage"]["questions"][0]["answers"]] == [0, 1]
    assert main(["predict", "-m", str(model), "-o", str(tmp_path / "x.csv")]) == 2
    assert "need the .jsonl submission format" in capsys.readouterr().err


def test_broken_test_split_is_found_before_training(tmp_path, tiny_model, toy_dataset, capsys):
    (toy_dataset / "test.jsonl").write_text('{"text": "fine", "label": "pos"}\n{"text": "oops"\n')
    out = tmp_path / "out"
    code = main(["train", "-m", str(tiny_model("bert")), "-o", str(out), "--task", "generic", "--data-dir",
                 str(toy_dataset), "--epochs", "1", "--fp32", "--threads", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "test.jsonl, line 2: malformed JSON" in err
    assert not out.exists() and not (tmp_path / "out.work").exists()


def test_training_without_a_test_split_scores_dev_only(tmp_path, tiny_model, toy_dataset, capsys):
    (toy_dataset / "test.jsonl").unlink()
    assert main(["train", "-m", str(tiny_model("bert")), "-o", str(tmp_path / "out"), "--task", "generic",
                 "--data-dir", str(toy_dataset), "--epochs", "1", "--fp32", "--threads", "1"]) == 0
    assert list(json.loads(capsys.readouterr().out)["metrics"]) == ["dev"]


def test_os_errors_are_one_line_exit_2(tmp_path, trained_toy, monkeypatch, capsys):
    import leanformer.runtime.batch as batch

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "p.jsonl"))
    monkeypatch.setattr(batch, "atomic_write_text", full)
    code = main(["predict", "-m", str(trained_toy["onnx"]), "-i", str(trained_toy["data"] / "test.jsonl"),
                 "-o", str(tmp_path / "p.jsonl")])
    err = capsys.readouterr().err
    assert code == 2 and "No space left on device" in err and "Traceback" not in err


def test_evaluate_on_an_unlabelled_split_fails_before_inference(tmp_path, trained_toy, capsys, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    for split in ("train", "dev"):
        (data / f"{split}.jsonl").write_text((trained_toy["data"] / f"{split}.jsonl").read_text())
    (data / "test.jsonl").write_text('{"text": "the film is good"}\n')
    import leanformer.runtime.predictor as predictor
    monkeypatch.setattr(predictor.Predictor, "logits", lambda *a, **k: (_ for _ in ()).throw(AssertionError("ran")))
    code = main(["evaluate", "-m", str(trained_toy["torch"]), "--split", "test", "--data-dir", str(data)])
    assert code == 2 and "has no labels" in capsys.readouterr().err


def test_tune_instances_on_a_bare_directory_is_one_line_exit_2(tmp_path, capsys):
    (tmp_path / "bare").mkdir()
    assert main(["tune-instances", "-m", str(tmp_path / "bare")]) == 2
    err = capsys.readouterr().err
    assert "not a leanformer model" in err and len(err.strip().splitlines()) == 1


def test_every_documented_config_field_is_a_flag_with_its_help(capsys, monkeypatch):
    import dataclasses

    from leanformer.distill import DistillConfig
    from leanformer.prune import PruneConfig
    from leanformer.training import TrainConfig
    from leanformer.training.options import TrainOptions

    monkeypatch.setenv("COLUMNS", "400")  # one line per option
    for command, config in (("train", TrainConfig), ("distill", DistillConfig), ("prune", PruneConfig)):
        assert main([command, "--help"]) == 0
        text = " ".join(capsys.readouterr().out.split())
        documented = {f.name: f.metadata for cls in (TrainOptions, config) for f in dataclasses.fields(cls)
                      if f.metadata.get("help")}
        assert set(f.name for f in dataclasses.fields(TrainOptions)) <= set(documented)
        for name, meta in documented.items():
            if not meta["cli"]:
                continue
            flag = (meta["flags"] or ("--" + name.replace("_", "-"),))[0].split("/")[0]
            assert flag in text, (command, flag)
            assert " ".join(meta["help"].split())[:30] in text, (command, name)


def test_flags_a_workflow_would_ignore_are_refused(tmp_path, capsys):
    assert main(["prune", "-m", "x", "-o", str(tmp_path / "o"), "--sweep", "--heads", "0.5"]) == 2
    assert "--heads has no effect with --sweep" in capsys.readouterr().err
    assert main(["prune", "-m", "x", "-o", str(tmp_path / "o"), "--targets", "1.0:0.5"]) == 2
    assert "--targets has no effect with prune without --sweep" in capsys.readouterr().err
    assert main(["quantize", "-m", "x", "-o", str(tmp_path / "o"), "--fp16", "--variant", "s8"]) == 2
    assert "--variant has no effect with --fp16" in capsys.readouterr().err


def test_recipe_flags_override_only_what_they_name(monkeypatch, capsys):
    import leanformer.recipe as recipe

    seen = {}
    monkeypatch.setattr(recipe, "run_recipe", lambda cfg: seen.setdefault("cfg", cfg) and {})
    monkeypatch.setattr("leanformer.bench.report.markdown", lambda result: "")
    assert main(["recipe", "--student-epochs", "4", "--data-dir", "d", "--prune-levels", "0.5:0.25"]) == 0
    cfg = seen["cfg"]
    demo = recipe.RecipeConfig.preset("demo")
    assert cfg.student_epochs == 4 and cfg.prune_levels == [(0.5, 0.25)]
    assert cfg.task.name == "polarity" and cfg.task.data_dir == "d"  # a task flag keeps the preset's task
    assert (cfg.teacher_model, cfg.student_layers, cfg.teacher_epochs) == (demo.teacher_model, [0, 2, 4], 3)
    seen.clear()
    assert main(["recipe", "--task", "vitaminc"]) == 0 and seen["cfg"].task.name == "vitaminc"
    assert main(["recipe", "--preset", "huge"]) == 2
    assert "unknown preset 'huge'" in capsys.readouterr().err


def test_brackets_in_errors_and_help_are_printed_not_taken_for_markup(trained_toy, tmp_path, capsys, without_module,
                                                                      monkeypatch):
    without_module("ray")
    code = main(["predict", "-m", str(trained_toy["onnx"]), "--split", "dev", "--engine", "ray",
                 "-o", str(tmp_path / "p.jsonl")])
    assert code == 2 and "pip install 'leanformer[ray]'" in capsys.readouterr().err
    monkeypatch.setenv("COLUMNS", "400")
    assert main(["quantize", "--help"]) == 0
    assert "pip install 'leanformer[openvino]'" in capsys.readouterr().out
