"""``leanformer`` command line: each command builds a config dataclass and calls the library."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from typing import Annotated, Optional

import typer

from leanformer.bench import BenchConfig
from leanformer.cli.options import with_config_options
from leanformer.distill import DistillConfig
from leanformer.evaluation import EvalConfig
from leanformer.export import ExportConfig
from leanformer.errors import LeanformerError
from leanformer.prune import PruneConfig
from leanformer.prune.sweep import SweepConfig
from leanformer.prune.targets import parse_target, parse_target_pairs
from leanformer.quantize import QuantizeConfig
from leanformer.runtime.batch import PredictConfig
from leanformer.runtime.tune import TuneConfig
from leanformer.tasks import TASKS
from leanformer.training import TrainConfig
from leanformer.utils.progress import console

app = typer.Typer(name="leanformer", no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
                  help="Make fine-tuned Transformer classifiers much cheaper to serve, and prove it.")

TaskOpt = Annotated[str, typer.Option("--task", "-t", help=f"Task name: {', '.join(TASKS)}.")]
DataDirOpt = Annotated[Optional[str], typer.Option(help="Folder with the task's files (train/dev/test). VitaminC defaults to the built-in copy.")]
TextCol = Annotated[str, typer.Option(help="generic task: column with the (first) text.")]
PairCol = Annotated[Optional[str], typer.Option(help="generic task: column with the second text of a pair.")]
LabelCol = Annotated[str, typer.Option(help="generic task: column with the label.")]
LabelsOpt = Annotated[Optional[str], typer.Option(help="generic task: comma-separated label names (default: found in the training file).")]


def _task_config(task: str, data_dir, text_column, text_pair_column, label_column, labels):
    from leanformer.tasks import TaskConfig

    return TaskConfig(name=task, data_dir=data_dir, text_column=text_column, text_pair_column=text_pair_column,
                      label_column=label_column, labels=[s.strip() for s in labels.split(",")] if labels else None)


def _reject_unused(mode: str, given: dict) -> None:
    """A flag the chosen workflow would ignore is an error, not a silent no-op."""
    unused = [flag for flag, value in given.items() if value not in (None, False, "")]
    if unused:
        raise LeanformerError(f"{', '.join(unused)} {'has' if len(unused) == 1 else 'have'} no effect with {mode}")


def _help(config_cls, name: str) -> str:
    """The help of a config field a command declares itself (its text form needs parsing)."""
    return next(f.metadata["help"] for f in dataclasses.fields(config_cls) if f.name == name)


def _print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


@app.command()
@with_config_options(TrainConfig)
def train(
    model: Annotated[str, typer.Option("--model", "-m", help="Built-in name (all-MiniLM-L6-v2, all-mpnet-base-v2), local directory or hub id.")],
    output: Annotated[str, typer.Option("--output", "-o", help="Directory to write the fine-tuned model to.")],
    task: TaskOpt = "vitaminc",
    data_dir: DataDirOpt = None,
    text_column: TextCol = "text",
    text_pair_column: PairCol = None,
    label_column: LabelCol = "label",
    labels: LabelsOpt = None,
    options: dict = None,
):
    """Fine-tune a model on a task with its labels, keeping the best epoch by dev metric.

    Fine-tuning a general distilled model (e.g. all-MiniLM-L6-v2) this way is the task-agnostic path.
    """
    from leanformer.training import train as run

    _print_json(run(TrainConfig(model=model, output_dir=output, **options,
                                task=_task_config(task, data_dir, text_column, text_pair_column, label_column, labels))))


def _int_list(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise LeanformerError(f"expected comma-separated integers, got '{text}'") from None


@app.command()
@with_config_options(DistillConfig)
def distill(
    student_layers: Annotated[Optional[str], typer.Option(help=_help(DistillConfig, "student_layers"))] = None,
    layer_map: Annotated[Optional[str], typer.Option(help=_help(DistillConfig, "layer_map"))] = None,
    options: dict = None,
):
    """Distil a fine-tuned teacher into a smaller or different student (soft targets, optional TinyBERT losses)."""
    from leanformer.distill import distill as run

    _print_json(run(DistillConfig(**options, student_layers=_int_list(student_layers), layer_map=_int_list(layer_map))))


@app.command()
@with_config_options(PruneConfig)
def prune(
    heads: Annotated[Optional[str], typer.Option(help=_help(PruneConfig, "heads"))] = None,
    ffn: Annotated[Optional[str], typer.Option(help=_help(PruneConfig, "ffn"))] = None,
    sweep: Annotated[bool, typer.Option("--sweep", help="Prune to several targets and write a latency/accuracy table and plot.")] = False,
    targets: Annotated[Optional[str], typer.Option(help="Sweep targets as HEADS:FFN pairs, e.g. 1.0:0.5,0.5:0.5,6:768.")] = None,
    latency_examples: Annotated[int, typer.Option(help=_help(SweepConfig, "latency_examples"))] = 200,
    options: dict = None,
):
    """Remove attention heads and FFN neurons by importance, then re-distil (or sweep several targets)."""
    from leanformer.prune.sweep import sweep as run_sweep
    from leanformer.prune import prune as run

    _reject_unused("--sweep" if sweep else "prune without --sweep",
                   {"--heads": heads, "--ffn": ffn} if sweep else {"--targets": targets,
                                                                   "--latency-examples": latency_examples != 200})
    if sweep:
        pairs = {"targets": parse_target_pairs(targets)} if targets else {}
        _print_json(run_sweep(SweepConfig(**options, latency_examples=latency_examples, **pairs)))
    else:
        _print_json(run(PruneConfig(**options, heads=parse_target(heads), ffn=parse_target(ffn))))


@app.command()
@with_config_options(EvalConfig)
def evaluate(options: dict = None):
    """Task metrics of a model on a split, plus examples per second."""
    from leanformer.evaluation import evaluate as run

    _print_json(run(EvalConfig(**options)))


@app.command()
@with_config_options(ExportConfig)
def export(options: dict = None):
    """Export to ONNX (dynamic batch and length), fuse the graph, and check parity with PyTorch."""
    from leanformer.export import export_model

    _print_json(export_model(ExportConfig(**options)))


@app.command()
@with_config_options(QuantizeConfig)
def quantize(
    exclude_nodes: Annotated[Optional[str], typer.Option(help="Comma-separated node names to keep in floating point.")] = None,
    exclude_layers: Annotated[Optional[str], typer.Option(help="Comma-separated layer indices (0-based) to keep in floating point.")] = None,
    fp16: Annotated[bool, typer.Option("--fp16", help="Convert to fp16 for GPU instead of int8.")] = False,
    options: dict = None,
):
    """int8 dynamic quantization with per-channel weight scales (or --fp16 for GPUs)."""
    from leanformer.quantize import Fp16Config, convert_fp16, quantize_model

    if fp16:
        defaults = QuantizeConfig(model="", output_dir="")
        ignored = {f"--{k.replace('_', '-')}": v != getattr(defaults, k) for k, v in options.items()
                   if k not in ("model", "output_dir", "overwrite")}
        _reject_unused("--fp16", {**ignored, "--exclude-nodes": exclude_nodes, "--exclude-layers": exclude_layers})
        _print_json(convert_fp16(Fp16Config(model=options["model"], output_dir=options["output_dir"],
                                            overwrite=options["overwrite"])))
        return
    nodes = [n.strip() for n in exclude_nodes.split(",") if n.strip()] if exclude_nodes else []
    _print_json(quantize_model(QuantizeConfig(**options, exclude_nodes=nodes,
                                              exclude_layers=_int_list(exclude_layers) or [])))


@app.command()
@with_config_options(PredictConfig)
def predict(options: dict = None):
    """Run a model over a data file and write its predictions."""
    from leanformer.runtime.batch import predict_file

    _print_json(predict_file(PredictConfig(**options)))


@app.command("tune-instances")
@with_config_options(TuneConfig)
def tune_instances(
    batch_sizes: Annotated[str, typer.Option(help="Comma-separated batch sizes to try.")] = "1,8,32",
    options: dict = None,
):
    """Measure throughput for every instances x threads x batch size that fits the physical cores."""
    from leanformer.runtime.tune import tune_instances as run

    _print_json(run(TuneConfig(**options, batch_sizes=_int_list(batch_sizes))))


@app.command()
@with_config_options(BenchConfig)
def bench(
    pruned: Annotated[Optional[str], typer.Option(help="Comma-separated pruned students, mildest first.")] = None,
    options: dict = None,
):
    """The paper's ablation, measured side by side: time, speed-up, accuracy, USD per 100M queries, energy."""
    from leanformer.bench import run_bench
    from leanformer.bench.report import markdown

    result = run_bench(BenchConfig(**options, pruned=[p.strip() for p in pruned.split(",") if p.strip()] if pruned else []))
    sys.stdout.write(markdown(result))


@app.command()
def recipe(
    output: Annotated[str, typer.Option("--output", "-o", help="Folder for every step's model and the report.")] = "runs/recipe",
    preset: Annotated[str, typer.Option(help="demo (a short budget, about 20 minutes on 2 cores: a MiniLM teacher and a 3-layer student cut from it) or full (MPNet-base teacher, MiniLM student, hours).")] = "demo",
    task: TaskOpt = "vitaminc",
    data_dir: DataDirOpt = None,
    teacher: Annotated[Optional[str], typer.Option(help="Reuse this fine-tuned teacher instead of training one.")] = None,
    teacher_model: Annotated[Optional[str], typer.Option(help="Teacher checkpoint to fine-tune (default: the preset's).")] = None,
    student_model: Annotated[Optional[str], typer.Option(help="Student checkpoint to distil into (default: the preset's).")] = None,
):
    """Run the whole recipe (teacher, distilled student, pruned students) and write the side-by-side report."""
    from leanformer.bench.report import markdown
    from leanformer.recipe import RecipeConfig, run_recipe
    from leanformer.tasks import TaskConfig

    models = {k: v for k, v in (("teacher_model", teacher_model), ("student_model", student_model)) if v is not None}
    result = run_recipe(RecipeConfig.preset(preset, output_dir=output, task=TaskConfig(name=task, data_dir=data_dir),
                                            teacher=teacher, **models))
    sys.stdout.write(markdown(result))


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors become one line on stderr and exit code 2 (usage errors too, via click)."""
    # transformers imports torchao when installed: torch then warns about every Enum torchao registers, and torchao
    # about its GPU kernels not loading on a CPU machine; nothing for users to act on
    for noisy in ("torch.utils._pytree", "torchao"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        app(argv, prog_name="leanformer")
    except LeanformerError as e:
        console.print(f"[bold red]error:[/] {e}", highlight=False)
        return e.exit_code
    except OSError as e:  # read-only or full file system, permissions: the user's to fix, not a bug
        where = f": {e.filename}" if e.filename else ""
        console.print(f"[bold red]error:[/] {e.strerror or e}{where}", highlight=False)
        return LeanformerError.exit_code
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
