"""``leanformer`` command line: each command builds a config dataclass and calls the library."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Optional

import typer

from leanformer.errors import LeanformerError
from leanformer.utils.progress import console

app = typer.Typer(name="leanformer", no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
                  help="Make fine-tuned Transformer classifiers much cheaper to serve, and prove it.")

TaskOpt = Annotated[str, typer.Option("--task", "-t", help="Task name: vitaminc, generic, boolq, cb, copa, multirc, record, rte, wic.")]
DataDirOpt = Annotated[Optional[str], typer.Option(help="Folder with the task's files (train/dev/test). VitaminC defaults to the built-in copy.")]
TextCol = Annotated[str, typer.Option(help="generic task: column with the (first) text.")]
PairCol = Annotated[Optional[str], typer.Option(help="generic task: column with the second text of a pair.")]
LabelCol = Annotated[str, typer.Option(help="generic task: column with the label.")]
LabelsOpt = Annotated[Optional[str], typer.Option(help="generic task: comma-separated label names (default: found in the training file).")]


def _task_config(task: str, data_dir, text_column, text_pair_column, label_column, labels):
    from leanformer.tasks import TaskConfig

    return TaskConfig(name=task, data_dir=data_dir, text_column=text_column, text_pair_column=text_pair_column,
                      label_column=label_column, labels=[s.strip() for s in labels.split(",")] if labels else None)


def _print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


@app.command()
def train(
    model: Annotated[str, typer.Option("--model", "-m", help="Built-in name (all-MiniLM-L6-v2, all-mpnet-base-v2), local directory or hub id.")],
    output: Annotated[str, typer.Option("--output", "-o", help="Directory to write the fine-tuned model to.")],
    task: TaskOpt = "vitaminc",
    data_dir: DataDirOpt = None,
    epochs: Annotated[int, typer.Option(help="Passes over the training data.")] = 3,
    batch_size: Annotated[int, typer.Option(help="Examples per optimizer step.")] = 32,
    lr: Annotated[float, typer.Option(help="Peak learning rate (linear warm-up, then linear decay).")] = 3e-5,
    weight_decay: float = 0.01,
    warmup_ratio: float = 0.06,
    max_length: Annotated[int, typer.Option(help="Truncate inputs to this many tokens.")] = 128,
    seed: int = 42,
    bf16: Annotated[Optional[bool], typer.Option("--bf16/--fp32", help="Numerics for training (default: bf16 autocast where the CPU supports it).")] = None,
    train_limit: Annotated[Optional[int], typer.Option(help="Train on a random subset of this many examples.")] = None,
    eval_limit: Annotated[Optional[int], typer.Option(help="Evaluate on the first N dev/test examples only.")] = None,
    checkpoint_every: Annotated[int, typer.Option(help="Save a resumable checkpoint every N steps.")] = 200,
    resume: Annotated[bool, typer.Option(help="Continue the unfinished run in OUTPUT.work, if there is one.")] = False,
    threads: Annotated[Optional[int], typer.Option(help="Intra-op threads (default: physical cores).")] = None,
    text_column: TextCol = "text",
    text_pair_column: PairCol = None,
    label_column: LabelCol = "label",
    labels: LabelsOpt = None,
):
    """Fine-tune a model on a task; keeps the best epoch by dev metric and reports dev/test metrics."""
    from leanformer.training import TrainConfig, train as run

    cfg = TrainConfig(model=model, output_dir=output,
                      task=_task_config(task, data_dir, text_column, text_pair_column, label_column, labels),
                      epochs=epochs, batch_size=batch_size, learning_rate=lr, weight_decay=weight_decay,
                      warmup_ratio=warmup_ratio, max_length=max_length, seed=seed, bf16=bf16, train_limit=train_limit,
                      eval_limit=eval_limit, checkpoint_every=checkpoint_every, resume=resume, threads=threads)
    _print_json(run(cfg))


@app.command()
def evaluate(
    model: Annotated[str, typer.Option("--model", "-m", help="A leanformer model directory.")],
    split: Annotated[str, typer.Option(help="train, dev or test.")] = "dev",
    limit: Annotated[Optional[int], typer.Option(help="Only the first N examples.")] = None,
    batch_size: int = 64,
    max_length: int = 128,
    bf16: Annotated[bool, typer.Option("--bf16/--fp32", help="Numerics for inference.")] = False,
    data_dir: DataDirOpt = None,
    threads: Annotated[Optional[int], typer.Option(help="Intra-op threads (default: physical cores).")] = None,
    predictions: Annotated[Optional[str], typer.Option(help="Write predictions to this jsonl file (SuperGLUE submission format for SuperGLUE tasks); works on unlabelled splits.")] = None,
):
    """Task metrics of a model on a split, plus examples per second."""
    from leanformer.evaluation import EvalConfig, evaluate as run

    _print_json(run(EvalConfig(model=model, split=split, limit=limit, batch_size=batch_size, max_length=max_length,
                               bf16=bf16, data_dir=data_dir, threads=threads,
                               predictions=predictions)))


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors become one line on stderr and exit code 2 (usage errors too, via click)."""
    try:
        app(argv, prog_name="leanformer")
    except LeanformerError as e:
        console.print(f"[bold red]error:[/] {e}", highlight=False)
        return e.exit_code
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
