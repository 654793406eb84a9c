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
