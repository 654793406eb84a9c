"""SuperGLUE tasks in the official jsonl layout (``train.jsonl``, ``val.jsonl``, ``test.jsonl``).

Each task turns records into text pairs the way BERT-style baselines do, and scores with the
official metrics. ``submission`` writes the records the SuperGLUE leaderboard expects in
``<Task>.jsonl``.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from leanformer.data.readers import read_jsonl, require
from leanformer.errors import DataError
from leanformer.tasks import metrics as M
from leanformer.tasks.base import Example, Task, label_index, labels_of

SPLIT_FILES = {"train": "train.jsonl", "dev": "val.jsonl", "test": "test.jsonl"}


class SuperGlueTask(Task):
    """Reads the official files; subclasses turn one record into one or more examples."""

    #: the leaderboard's file name for this task's predictions
    submission_name: str = ""
    #: names of the raw labels, in the model's class order
    labels: tuple[str, ...] = ()

    @property
    def label_names(self) -> list[str]:
        return list(self.labels)

    def split_path(self, split: str) -> Path:
        return self.data_dir / SPLIT_FILES[split]

    def read_file(self, path: Path) -> list[Example]:
        examples: list[Example] = []
        for line, rec in read_jsonl(path):
            examples.extend(self.from_record(rec, path, line))
        return examples

    def from_record(self, rec: dict, path: Path, line: int) -> list[Example]:
        raise NotImplementedError

    def _label(self, rec: dict, path: Path, line: int, field: str = "label") -> int | None:
        return None if field not in rec else label_index(self.label_names, rec[field], path, line, field)


def _simple(name: str, text_fields: tuple[str, str], labels: tuple[str, ...], submission_name: str,
            metric_names: tuple[str, ...] = ("accuracy",)) -> type[SuperGlueTask]:
    """A sentence-pair task whose record has two text fields, ``label`` and ``idx``."""

    def from_record(self, rec, path, line):
        a, b = (require(rec, f, path, line) for f in text_fields)
        return [Example(uid=str(rec.get("idx", line)), pairs=((a, b),), label=self._label(rec, path, line),
                        meta={"idx": rec.get("idx", line)})]

    return type(submission_name, (SuperGlueTask,), {
        "name": name, "labels": labels, "submission_name": submission_name, "metric_names": metric_names,
        "from_record": from_record, "__doc__": f"SuperGLUE {submission_name}: ({text_fields[0]}, {text_fields[1]}) -> {', '.join(labels)}."})


BoolQ = _simple("boolq", ("question", "passage"), ("false", "true"), "BoolQ")
RTE = _simple("rte", ("premise", "hypothesis"), ("entailment", "not_entailment"), "RTE")


class CB(_simple("cb", ("premise", "hypothesis"), ("entailment", "contradiction", "neutral"), "CB",
                 ("accuracy", "f1_macro"))):
    """CommitmentBank: accuracy and macro-averaged F1 over the three classes (SuperGLUE reports both)."""

    def compute_metrics(self, examples, logits):
        labels, preds = labels_of(examples, self.name), self.predict(examples, logits)
        return {"accuracy": M.accuracy(preds, labels), "f1_macro": M.macro_f1(preds, labels, len(self.labels))}


class WiC(SuperGlueTask):
    """Word in Context: the target word leads the first text so the model knows which word is meant."""

    name, submission_name, labels = "wic", "WiC", ("false", "true")

    def from_record(self, rec, path, line):
        word = require(rec, "word", path, line)
        s1, s2 = require(rec, "sentence1", path, line), require(rec, "sentence2", path, line)
        return [Example(uid=str(rec.get("idx", line)), pairs=((f"{word} : {s1}", s2),),
                        label=self._label(rec, path, line), meta={"idx": rec.get("idx", line)})]


class COPA(SuperGlueTask):
    """Choice of Plausible Alternatives, as multiple choice: one (premise, question + choice) per choice."""

    name, submission_name, labels, multiple_choice = "copa", "COPA", ("0", "1"), True
    QUESTIONS = {"cause": "What was the cause?", "effect": "What happened as a result?"}

    def from_record(self, rec, path, line):
        premise, question = require(rec, "premise", path, line), require(rec, "question", path, line)
        if question not in self.QUESTIONS:
            raise DataError(path, f"expected 'cause' or 'effect', got {question!r}", line=line, field="question")
        choices = [require(rec, f, path, line) for f in ("choice1", "choice2")]
        return [Example(uid=str(rec.get("idx", line)),
                        pairs=tuple((premise, f"{self.QUESTIONS[question]} {c}") for c in choices),
                        label=self._label(rec, path, line), meta={"idx": rec.get("idx", line)})]

    def submission(self, examples, logits):
        return [{"idx": ex.meta["idx"], "label": int(p)} for ex, p in zip(examples, self.predict(examples, logits))]


class MultiRC(SuperGlueTask):
    """Multi-sentence reading comprehension: each answer option is scored true/false on its own.

    Metrics: F1 over all answer options (F1a) and exact match of all options of a question (EM).
    """

    name, submission_name, labels = "multirc", "MultiRC", ("0", "1")
    metric_names = ("f1a", "em")

    def from_record(self, rec, path, line):
        passage = require(rec, "passage", path, line, dict)
        text = require(passage, "text", path, line)
        out = []
        for q in require(passage, "questions", path, line, list):
            question = require(q, "question", path, line)
            for a in require(q, "answers", path, line, list):
                meta = {"passage": rec.get("idx"), "question": q.get("idx"), "answer": a.get("idx")}
                out.append(Example(uid=f"{meta['passage']}-{meta['question']}-{meta['answer']}",
                                   pairs=((text, f"{question} {require(a, 'text', path, line)}"),),
                                   label=self._label(a, path, line), group=f"{meta['passage']}-{meta['question']}",
                                   meta=meta))
        return out

    def compute_metrics(self, examples, logits):
        labels, preds = labels_of(examples, self.name), self.predict(examples, logits)
        by_question = defaultdict(list)
        for ex, p, y in zip(examples, preds, labels):
            by_question[ex.group].append(p == y)
        return {"f1a": M.f1_binary(preds, labels), "em": float(np.mean([all(v) for v in by_question.values()]))}

    def submission(self, examples, logits):
        passages: dict = {}
        for ex, p in zip(examples, self.predict(examples, logits)):
            questions = passages.setdefault(ex.meta["passage"], {})
            questions.setdefault(ex.meta["question"], []).append({"idx": ex.meta["answer"], "label": int(p)})
        return [{"idx": pidx, "passage": {"questions": [{"idx": qidx, "answers": answers}
                                                         for qidx, answers in qs.items()]}}
                for pidx, qs in passages.items()]


class ReCoRD(SuperGlueTask):
    """Cloze-style reading comprehension: each candidate entity fills ``@placeholder`` and is scored.

    The query's answer is its best-scoring candidate; metrics are the maximum over gold answers
    of token F1 and exact match, averaged over queries.
    """

    name, submission_name, labels = "record", "ReCoRD", ("0", "1")
    metric_names = ("f1", "em")

    def from_record(self, rec, path, line):
        passage = require(rec, "passage", path, line, dict)
        text = require(passage, "text", path, line)
        entities = []
        for span in require(passage, "entities", path, line, list):
            start, end = span.get("start"), span.get("end")
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end < len(text)):
                raise DataError(path, f"entity span {span} is outside the passage", line=line, field="entities")
            entities.append(text[start:end + 1])  # ReCoRD's end offsets are inclusive
        candidates = list(dict.fromkeys(entities))
        if not candidates:
            raise DataError(path, "passage has no candidate entities", line=line, field="entities")
        context = text.replace("@highlight\n", "- ")
        out = []
        for qa in require(rec, "qas", path, line, list):
            query = require(qa, "query", path, line)
            answers = [a["text"] for a in qa.get("answers", [])] if "answers" in qa else None
            for entity in candidates:
                out.append(Example(uid=f"{qa.get('idx')}-{entity}", pairs=((context, query.replace("@placeholder", entity)),),
                                   label=None if answers is None else int(entity in answers), group=str(qa.get("idx")),
                                   meta={"idx": qa.get("idx"), "entity": entity, "answers": answers}))
        return out

    def _best_per_query(self, examples, logits) -> dict[str, Example]:
        logits = np.asarray(logits)
        score = logits[:, 1] - logits[:, 0]
        best: dict[str, tuple[float, Example]] = {}
        for ex, s in zip(examples, score):
            if ex.group not in best or s > best[ex.group][0]:
                best[ex.group] = (s, ex)
        return {g: ex for g, (_, ex) in best.items()}

    def compute_metrics(self, examples, logits):
        best = self._best_per_query(examples, logits)
        labels_of(list(best.values()), self.name)  # raises when the split has no answers
        f1 = [M.max_over_answers(M.token_f1, ex.meta["entity"], ex.meta["answers"]) for ex in best.values()]
        em = [M.max_over_answers(M.exact_match, ex.meta["entity"], ex.meta["answers"]) for ex in best.values()]
        return {"f1": float(np.mean(f1)), "em": float(np.mean(em))}

    def submission(self, examples, logits):
        return [{"idx": ex.meta["idx"], "label": ex.meta["entity"]} for ex in self._best_per_query(examples, logits).values()]


SUPERGLUE_TASKS = (BoolQ, CB, COPA, MultiRC, ReCoRD, RTE, WiC)
