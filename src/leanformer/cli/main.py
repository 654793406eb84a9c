"""``leanformer`` command line: each command builds a config dataclass and calls the library."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Annotated

import typer
from rich.markup import escape

from leanformer.approx import AnalyzeConfig, ApproximateConfig, MixedPrecisionConfig
from leanformer.bench import BenchConfig
from leanformer.cli.options import with_config_options
from leanformer.distill import DistillConfig
from leanformer.evaluation import EvalConfig
from leanformer.export import ExportConfig
from leanformer.errors import LeanformerError
from leanformer.prune import PruneConfig
from leanformer.prune.sweep import SweepConfig
from leanformer.quantize import QuantizeConfig
from leanformer.runtime.batch import PredictConfig
from leanformer.runtime.tune import TuneConfig
from leanformer.serve.config import ServeConfig
from leanformer.recipe import PRESET_HELP, PRESETS, RecipeConfig
from leanformer.training import TrainConfig
from leanformer.utils.progress import console

app = typer.Typer(name="leanformer", no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
                  help="Make fine-tuned Transformer classifiers much cheaper to serve, and prove it.")

def _reject_unused(mode: str, options: dict, config_cls, names) -> None:
    """A flag the chosen workflow would ignore is an error, not a silent no-op (a default value is no flag)."""
    defaults = {f.name: f.default for f in dataclasses.fields(config_cls)}
    unused = [f"--{n.replace('_', '-')}" for n in names if n in options and options[n] != defaults[n]]
    if unused:
        raise LeanformerError(f"{', '.join(unused)} {'has' if len(unused) == 1 else 'have'} no effect with {mode}")


def _print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


@app.command()
@with_config_options(TrainConfig)
def train(options: dict = None):
    """Fine-tune a model on a task with its labels, keeping the best epoch by dev metric.

    Fine-tuning a general distilled model (e.g. all-MiniLM-L6-v2) this way is the task-agnostic path.
    """
    from leanformer.training import train as run

    _print_json(run(TrainConfig(**options)))


@app.command()
@with_config_options(DistillConfig)
def distill(options: dict = None):
    """Distil a fine-tuned teacher into a smaller or different student (soft targets, optional TinyBERT losses)."""
    from leanformer.distill import distill as run

    _print_json(run(DistillConfig(**options)))


@app.command()
@with_config_options(SweepConfig)
def prune(
    sweep: Annotated[bool, typer.Option("--sweep", help="Prune to several targets and write a latency/accuracy table and plot.")] = False,
    options: dict = None,
):
    """Remove attention heads and FFN neurons by importance, then re-distil (or sweep several targets)."""
    from leanformer.prune import prune as run
    from leanformer.prune.sweep import sweep as run_sweep

    if sweep:
        _reject_unused("--sweep", options, SweepConfig, ("heads", "ffn", "hidden", "layers", "steps", "hidden_method"))
        _print_json(run_sweep(SweepConfig(**options)))
        return
    own = {f.name for f in dataclasses.fields(PruneConfig)}
    _reject_unused("prune without --sweep", options, SweepConfig, set(options) - own)
    _print_json(run(PruneConfig(**{k: v for k, v in options.items() if k in own})))


@app.command()
@with_config_options(AnalyzeConfig)
def analyze(options: dict = None):
    """Significance analysis: the loss and metric change when each attention, FFN, head or neuron group is removed."""
    from leanformer.approx import analyze as run

    _print_json(run(AnalyzeConfig(**options)))


@app.command()
@with_config_options(ApproximateConfig)
def approximate(options: dict = None):
    """Remove the least significant components while the metric stays within a budget (goal: faster, smaller,
    accurate)."""
    from leanformer.approx import approximate as run

    _print_json(run(ApproximateConfig(**options)))


@app.command("mixed-precision")
@with_config_options(MixedPrecisionConfig)
def mixed_precision(options: dict = None):
    """int8 for the layers that tolerate it, float for the rest, chosen by measured accuracy."""
    from leanformer.approx import mixed_precision as run

    _print_json(run(MixedPrecisionConfig(**options)))


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
    fp16: Annotated[bool, typer.Option("--fp16", help="Convert to fp16 for GPU instead of int8.")] = False,
    options: dict = None,
):
    """int8 dynamic quantization with per-channel weight scales (or --fp16 for GPUs)."""
    from leanformer.quantize import Fp16Config, convert_fp16, quantize_model

    if fp16:
        kept = {f.name for f in dataclasses.fields(Fp16Config)}
        _reject_unused("--fp16", options, QuantizeConfig, set(options) - kept)
        _print_json(convert_fp16(Fp16Config(**{k: v for k, v in options.items() if k in kept})))
        return
    _print_json(quantize_model(QuantizeConfig(**options)))


@app.command()
@with_config_options(PredictConfig)
def predict(options: dict = None):
    """Run a model over a data file and write its predictions."""
    from leanformer.runtime.batch import predict_file

    _print_json(predict_file(PredictConfig(**options)))


@app.command("tune-instances")
@with_config_options(TuneConfig)
def tune_instances(options: dict = None):
    """Measure throughput for every instances x threads x batch size that fits the physical cores."""
    from leanformer.runtime.tune import tune_instances as run

    _print_json(run(TuneConfig(**options)))


@app.command()
@with_config_options(BenchConfig)
def bench(options: dict = None):
    """The paper's ablation, measured side by side: time, speed-up, accuracy, USD per 100M queries, energy."""
    from leanformer.bench import run_bench
    from leanformer.bench.report import markdown

    sys.stdout.write(markdown(run_bench(BenchConfig(**options))))


@app.command()
@with_config_options(ServeConfig)
def serve(
    model: Annotated[str, typer.Argument(help="Leanformer model directory to serve (int8 ONNX for speed).")],
    options: dict = None,
):
    """Serve a model over HTTP: POST /v1/predict with micro-batching over pinned workers; /health, /ready, /metrics."""
    from leanformer.serve import serve as run

    run(ServeConfig(model=model, **options))


@app.command()
@with_config_options(RecipeConfig, overrides=True)
def recipe(
    preset: Annotated[str, typer.Option(help=f"{' or '.join(PRESETS)}: {PRESET_HELP}")] = "demo",
    options: dict = None,
):
    """Run the whole recipe (teacher, distilled student, pruned students) and write the side-by-side report."""
    from leanformer.bench.report import markdown
    from leanformer.recipe import run_recipe

    sys.stdout.write(markdown(run_recipe(RecipeConfig.preset(preset, **options))))


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors become one line on stderr and exit code 2 (usage errors too, via click)."""
    try:
        app(argv, prog_name="leanformer")
    except LeanformerError as e:
        console.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False)
        return e.exit_code
    except OSError as e:  # read-only or full file system, permissions: the user's to fix, not a bug
        where = f": {e.filename}" if e.filename else ""
        console.print(f"[bold red]error:[/] {escape(f'{e.strerror or e}{where}')}", highlight=False)
        return LeanformerError.exit_code
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
