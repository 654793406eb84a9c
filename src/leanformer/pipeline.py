"""The pipeline, declared once: each stage produces models and contributes rows to the report.

``leanformer recipe`` runs the stages' producers in this order, ``leanformer bench`` turns each
stage's rows into measurements of the models the stage produced, and the report selects rows by
their ``kind``. A new method adds one stage here (and its producer in the recipe).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One way of running a stage's model in the report."""

    kind: str
    #: may name {baseline} (the padded length), {instances} and {threads} (the tuned pool), {name} (the model's folder)
    label: str
    #: exported, fused and int8-quantized, run by ONNX Runtime
    int8: bool = False
    #: every input padded to the baseline length (the paper's starting point)
    padded: bool = False
    #: run by the pool of pinned instances the bench found fastest
    tuned: bool = False


@dataclass(frozen=True)
class Stage:
    #: the name of the models it produces; BenchConfig has a field of that name
    role: str
    #: several models, one per level (a list in BenchConfig)
    many: bool
    rows: tuple[Row, ...]


PIPELINE = (
    Stage("teacher", False, (Row("baseline", "teacher, PyTorch fp32, padded to {baseline}", padded=True),
                             Row("teacher", "+ dynamic sequence length"))),
    Stage("student", False, (Row("student", "+ distillation (student)"),
                             Row("runtime", "+ int8 + ONNX Runtime graph optimisation", int8=True),
                             Row("instances", "+ multi-instance ({instances} x {threads} threads)", int8=True,
                                 tuned=True))),
    Stage("pruned", True, (Row("pruned", "+ structured pruning ({name})", int8=True, tuned=True),)),
    Stage("approximated", True, (Row("approximated", "+ approximate computing ({name})", int8=True, tuned=True),)),
)

#: rows outside the pipeline: other tools' recipes measured beside it
PEER = "peer"
ROW_KINDS = (*(row.kind for stage in PIPELINE for row in stage.rows), PEER)
#: the rows that share one runtime and differ only in the model: the pruning trade-off plot
TUNED_KINDS = tuple(row.kind for stage in PIPELINE for row in stage.rows if row.tuned)
