"""A layer kind is one registration: it carries a torch module, a first value for each required
field, a fuzzing strategy for each field, and a formula typed as its fields are. Whatever lists
the kinds (the README, the fuzzing in test_torch_oracle) reads the registry."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from hypothesis.strategies import SearchStrategy

import calc
from calc.cost import Cost
from calc.errors import SpecError
from calc.fields import BoolField, IntField, PaddingField, PairField, ProbabilityField
from calc.registry import LayerKind, kinds_markdown, register

README = Path(__file__).resolve().parents[1] / "README.md"

# one sample each kind accepts, by the rank it needs (None: any rank)
SAMPLES = {3: (8, 12, 12), 2: (6, 16), 1: (16,), None: (6, 16)}

KINDS = [pytest.param(kind, id=kind.name) for kind in calc.layer_kinds()]


def missing(kind: LayerKind) -> list[str]:
    """What the registration of ``kind`` lacks, by name."""
    shape = SAMPLES[kind.input_rank]
    lacks = [] if kind.module is not None else ["torch module"]
    drawn = {field.name: field.suggested(shape) for field in kind.fields}
    for field in kind.fields:
        if field.required and (field.suggested(None) is None or field.suggested(shape) is None):
            lacks.append(f"suggested {field.name}")
        try:
            strategy = field.strategy(shape, drawn)
        except NotImplementedError:
            strategy = None
        if not isinstance(strategy, SearchStrategy):
            lacks.append(f"fuzz {field.name}")
    return lacks


@pytest.mark.parametrize("kind", KINDS)
def test_registration_is_complete(kind: LayerKind):
    assert missing(kind) == []


def test_an_incomplete_registration_is_noticed():
    bare = LayerKind(
        "bare",
        "reshape",
        "a kind with nothing but a formula",
        (PairField("window"), BoolField("bias", True)),
        None,
        lambda shape, window, bias: None,
    )
    assert missing(bare) == ["torch module", "suggested window", "fuzz window"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_new_layer_of_suggested_values_is_valid(kind: LayerKind):
    sample = SAMPLES[kind.input_rank]
    layer = {"type": kind.name, **{field.name: field.suggested(sample) for field in kind.fields}}
    report = calc.analyze(calc.parse_stack({"input": list(sample), "layers": [layer]}))
    assert len(report.rows) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_the_formula_is_typed_as_its_fields(kind: LayerKind):
    hints = typing.get_type_hints(kind.formula)
    assert hints.pop("return") is Cost
    assert hints.pop("shape") == tuple[int, ...]
    assert hints == {field.name: field.value_type for field in kind.fields}


def test_a_formula_must_take_its_fields_in_order():
    with pytest.raises(ValueError, match=r"takes \['b', 'a'\], its fields are \['a', 'b'\]"):
        register(
            "swapped", group="reshape", summary="fields out of order", fields=(IntField("a"), IntField("b"))
        )(lambda shape, b, a: None)
    assert calc.layer_kind("swapped") is None


@pytest.mark.parametrize(
    "incoming, heads",
    [
        pytest.param(None, 1, id="after-an-error"),
        pytest.param((4, 64), 8, id="64-features-8"),
        pytest.param((4, 12), 4, id="12-features-4"),
        pytest.param((4, 6), 2, id="6-features-2"),
        pytest.param((4, 5), 1, id="5-features-1"),
    ],
)
def test_num_heads_suggests_a_divisor_of_the_features(incoming, heads):
    num_heads = next(field for field in calc.layer_kind("attention").fields if field.name == "num_heads")
    assert num_heads.suggested(incoming) == heads


@pytest.mark.parametrize(
    "field, raw, parsed, dumped",
    [
        pytest.param(IntField("n"), 7, 7, 7, id="int"),
        pytest.param(PairField("k"), 3, (3, 3), 3, id="pair-one-number"),
        pytest.param(PairField("k"), [3, 5], (3, 5), [3, 5], id="pair-two"),
        pytest.param(PairField("k"), [4, 4], (4, 4), 4, id="pair-equal-written-once"),
        pytest.param(PairField("s", None), None, None, None, id="pair-none-as-kernel"),
        pytest.param(PaddingField("p", 0), "same", "same", "same", id="padding-same"),
        pytest.param(PaddingField("p", 0), [0, 2], (0, 2), [0, 2], id="padding-pair"),
        pytest.param(PaddingField("p", 0, axes=1), 2, 2, 2, id="padding-one-axis"),
        pytest.param(BoolField("b", True), False, False, False, id="bool"),
        pytest.param(ProbabilityField("p", 0.5), 0, 0.0, 0.0, id="probability-zero"),
    ],
)
def test_a_field_parses_and_dumps_its_value(field, raw, parsed, dumped):
    assert field.parse(raw, 3, "kind") == parsed
    assert field.dump(field.parse(raw, 3, "kind")) == dumped


@pytest.mark.parametrize(
    "field, raw, message",
    [
        pytest.param(
            PairField("k"),
            None,
            "layer 3, field 'k': the value must be a whole number, got null",
            id="pair-none-only-when-default",
        ),
        pytest.param(
            PaddingField("p", 0, axes=1),
            [1, 1],
            "layer 3, field 'p': the value must be a whole number, got [1, 1]",
            id="padding-one-axis-no-pair",
        ),
        pytest.param(
            PaddingField("p", 0, axes=1),
            "valid",
            'layer 3 (kind), field \'p\': must be a number or "same", got "valid"',
            id="padding-one-axis-word",
        ),
        pytest.param(
            IntField("n", minimum=2),
            1,
            "layer 3, field 'n': the value must be at least 2, got 1",
            id="int-minimum",
        ),
    ],
)
def test_a_field_refuses_what_is_not_its_value(field, raw, message):
    with pytest.raises(SpecError) as raised:
        field.parse(raw, 3, "kind")
    assert str(raised.value) == message


def test_readme_lists_the_registered_kinds():
    listed = re.search(
        r"<!-- layer kinds:[^\n]*-->\n(.*?)<!-- end of layer kinds -->", README.read_text(), re.DOTALL
    )
    assert listed is not None, "README.md has lost its layer kinds markers"
    assert listed.group(1).strip() == kinds_markdown(), (
        "README.md's layer kinds are not the registry's: put the output of "
        "`.venv/bin/python -c 'import calc.formulas, calc.registry as r; print(r.kinds_markdown())'` "
        "between its markers"
    )


def test_every_kind_is_in_the_markdown_once():
    names = re.findall(r"^- `([a-z0-9_]+)`", kinds_markdown(), re.MULTILINE)
    assert names == [kind.name for kind in calc.layer_kinds()]
