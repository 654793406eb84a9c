"""In a log (no terminal), progress lines say how far a job is and when it should end."""

from leanformer.utils import progress
from leanformer.utils.progress import ProgressBar


def test_log_lines_project_the_time_left(capsys, monkeypatch):
    now = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    with ProgressBar(4, "train", log_every=30) as bar:
        now[0] = 100.0
        bar.advance(1, "loss 0.5")
        now[0] = 110.0
        bar.advance(1)  # under log_every since the last line: no line
        now[0] = 400.0
        bar.advance(2)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "[train] 1/4 100s eta 0:05:00 loss 0.5"  # 100 s per item, 3 items left
    assert lines[1:] == ["[train] 4/4 400s loss 0.5"] * 2  # the last advance, then the closing line


def test_a_resumed_job_projects_from_its_own_rate(capsys, monkeypatch):
    now = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    with ProgressBar(10, "train", log_every=30, done=6) as bar:  # 6 items finished by an earlier run
        now[0] = 100.0
        bar.advance(1)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].rstrip() == "[train] 7/10 100s eta 0:05:00"  # 100 s for the one item run here, 3 left
