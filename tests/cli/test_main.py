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
