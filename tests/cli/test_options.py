"""The flag generator: nested configs, parsed text forms, and override-only commands."""

from dataclasses import dataclass, field

import pytest
import typer
from typer.testing import CliRunner

from leanformer.cli.options import with_config_options
from leanformer.utils.config import int_list, option


@dataclass
class Inner:
    name: str = option("a", "Inner name.", flags=("--name",))
    size: int = option(1, "Inner size.")


@dataclass
class Outer:
    path: str = option(help="Required path.")
    layers: list[int] = option(help="Layers.", factory=lambda: [9], parse=int_list)
    inner: Inner = field(default_factory=Inner)
    hidden: int = 5  # undocumented: no flag


def _run(overrides: bool, args: list[str]):
    seen = {}
    app = typer.Typer()

    @app.command()
    @with_config_options(Outer, overrides=overrides)
    def cmd(options: dict = None):
        seen.update(options)

    result = CliRunner().invoke(app, args)
    return result, seen


def test_nested_config_arrives_built_and_parsed_fields_keep_their_default_when_absent():
    result, seen = _run(False, ["--path", "p", "--size", "3"])
    assert result.exit_code == 0, result.output
    assert seen == {"path": "p", "inner": Inner(name="a", size=3)}  # layers absent: Outer's factory holds
    assert Outer(**seen).layers == [9]
    result, seen = _run(False, ["--path", "p", "--layers", "0,2"])
    assert seen["layers"] == [0, 2]
    assert "--hidden" not in _run(False, ["--help"])[0].output


def test_required_fields_are_required_unless_overriding():
    assert _run(False, ["--size", "3"])[0].exit_code != 0
    result, seen = _run(True, ["--size", "3"])
    assert result.exit_code == 0 and seen == {"inner": {"size": 3}}  # only what was given: the preset fills the rest
    assert _run(True, [])[1] == {}  # nothing given: nothing overridden, not even the nested config


def test_a_factory_field_without_a_text_form_is_refused_when_declared():
    @dataclass
    class Bad:
        items: list[int] = option(help="Items.", factory=list)

    with pytest.raises(TypeError, match="Bad.items"):
        with_config_options(Bad)(lambda options=None: None)
