"""The config's documentation is generated from the models: every field documented once (its attribute
docstring), the example study file and the README reference built from those docs, ``help()`` showing them."""

from __future__ import annotations

import inspect
import pydoc
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, TypeAdapter

from fairssl.config import (
    DataConfig,
    EvaluationConfig,
    FinetuneConfig,
    ModelConfig,
    PretrainConfig,
    StudyConfig,
    build_config,
    load_config,
    save_config,
)
from fairssl.config_base import Section, literal_values, section_type
from fairssl.config_text import (
    WIDTH,
    config_keys,
    example_toml,
    field_doc,
    readme_with_reference,
    reference_markdown,
)
from fairssl.toml_text import to_toml, toml_value

README = Path(__file__).resolve().parents[1] / "README.md"


def _fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, Any]]:
    """Every (dotted path, FieldInfo) under ``model``, walked independently of config_keys."""
    out = []
    for name, field in model.model_fields.items():
        out.append((prefix + name, field))
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out += _fields(annotation, f"{prefix}{name}.")
    return out


def _problems(model: type[BaseModel]) -> list[str]:
    """Fields without a docstring, and fields without a default (None) that give no example to show."""
    problems = []
    for path, field in _fields(model):
        if not (field.description or "").strip():
            problems.append(f"{path}: no docstring")
        if field.default is None and not field.examples:
            problems.append(f"{path}: default None and no examples=[...] for the example config")
    return problems


def test_every_config_field_is_documented_with_an_example_when_it_has_no_default() -> None:
    problems = _problems(StudyConfig)
    assert not problems, "document these config fields (attribute docstring under the field):\n" + "\n".join(
        problems
    )


def test_an_undocumented_field_is_caught() -> None:
    class Knobs(Section):
        documented: int = 1
        """A documented knob."""
        bare: int = 2
        optional: str | None = None
        """Documented, but no example to show when commented out."""

    assert _problems(Knobs) == [
        "bare: no docstring",
        "optional: default None and no examples=[...] for the example config",
    ]
    assert "bare : int; default 2\n    (undocumented)" in inspect.getdoc(Knobs)


def test_config_keys_walk_every_field_in_declaration_order() -> None:
    assert [k.path for k in config_keys()] == [path for path, _ in _fields(StudyConfig)]


def test_example_parses_and_build_config_accepts_it_unchanged() -> None:
    raw = tomllib.loads(example_toml())
    for profile in ("quick", "paper"):
        assert build_config(raw, profile=profile) == build_config({}, profile=profile)


def _example_keys(text: str) -> set[str]:
    """Dotted keys the example shows, set or commented out: ``[table]`` headers and ``key = `` lines."""
    shown, table = set(), ""
    for line in text.splitlines():
        header = re.match(r"^\[([\w.]+)\]$", line)
        if header:
            table = header.group(1) + "."
            shown.add(header.group(1))
            continue
        key = re.match(r'^(?:# )?("[^"]+"|[\w-]+) = ', line)
        if key:
            shown.add(table + key.group(1).strip('"'))
    return shown


def test_example_shows_every_field_of_every_section() -> None:
    shown = _example_keys(example_toml())
    missing = [path for path, _ in _fields(StudyConfig) if path not in shown]
    assert not missing, f"the example config lacks {missing}"
    # a free-form table's example entries are shown inside it (commented out)
    assert {"grid.pretrain.augmentation", "data.options.window", "evaluation.privileged.sex"} <= shown


def test_example_comments_carry_the_docs_wrapped_at_the_width() -> None:
    text = example_toml()
    prose = [
        line for line in text.splitlines() if line.startswith("# ") and not re.match(r"^# [\w\"]+.* = ", line)
    ]
    assert prose and all(len(line) <= WIDTH for line in prose), max(prose, key=len)
    flat = " ".join(line.removeprefix("# ") for line in text.splitlines())
    flat = " ".join(flat.replace("#", " ").split())
    for path, field in _fields(StudyConfig):
        words = " ".join(field_doc(field).split()[:8])  # the doc's opening words, in any wrapping
        assert words in flat, (path, words)


def test_keys_without_a_default_are_commented_out_with_their_example() -> None:
    text = example_toml()
    assert '\n# path = "/data/mimic3-benchmarks"' in text
    assert "\n# seed = 2" in text and "\n# weights = " in text
    raw = tomllib.loads(text)
    assert "path" not in raw["data"] and "seed" not in raw["pretrain"]


def test_every_example_is_a_valid_value_of_its_field() -> None:
    for path, field in _fields(StudyConfig):
        annotation = Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
        for example in field.examples or []:
            adapter.validate_python(example)  # raises, naming the value, when an example is wrong
            assert tomllib.loads(f"v = {toml_value(example)}")["v"] == example, path


def test_profile_dependent_defaults_show_both_profiles() -> None:
    quick, paper = build_config({}), build_config({}, profile="paper")
    assert (
        quick.pretrain.epochs != paper.pretrain.epochs
        and quick.similarity.n_draws != paper.similarity.n_draws
    )
    q, p = quick.pretrain.epochs, paper.pretrain.epochs
    assert f"# epochs = {q}".ljust(29) + f"# profile: quick {q}, paper {p}" in example_toml()
    row = f"| `similarity.n_draws` | `{quick.similarity.n_draws}` / `{paper.similarity.n_draws}` |"
    assert row in reference_markdown()
    doc = inspect.getdoc(PretrainConfig)
    assert f"epochs : int, >= 1; profile: quick {q}, paper {p}" in doc
    assert "temperature : float, > 0.0; default 0.1" in doc  # the profiles agree: one default
    assert quick.pretrain.temperature == paper.pretrain.temperature == 0.1


def test_literal_fields_name_every_allowed_value() -> None:
    for path, field in _fields(StudyConfig):
        doc = field_doc(field)
        for value in literal_values(field.annotation):
            assert re.search(rf"\b{re.escape(str(value))}\b", doc), (path, value)
    # appended when the docstring does not list them
    assert field_doc(FinetuneConfig.model_fields["selection"]).endswith("| auroc.")
    assert field_doc(EvaluationConfig.model_fields["correction"]).endswith(
        "Allowed: holm | bonferroni | none."
    )


@pytest.mark.parametrize("cls", [ModelConfig, PretrainConfig, DataConfig, StudyConfig])
def test_help_shows_the_field_docs_not_pydantic_boilerplate(cls: type[Section]) -> None:
    text = pydoc.render_doc(cls, renderer=pydoc.plaintext)
    flat = " ".join(re.sub(r"^ \| ", "", line) for line in text.splitlines())  # pydoc's margin
    flat = " ".join(flat.split())
    assert "Attributes ----------" in flat
    for name, field in cls.model_fields.items():
        assert f"{name} : " in text
        assert " ".join(inspect.cleandoc(field.description or "").split()) in flat, name
    assert "A base class for creating Pydantic models" not in inspect.getdoc(cls)


def test_help_of_model_config_lists_types_and_defaults() -> None:
    doc = inspect.getdoc(ModelConfig)
    quick, paper = build_config({}).model, build_config({}, profile="paper").model
    widths = f"widths : list[int]; default {toml_value(paper.widths)}"
    if quick.widths != paper.widths:
        widths = (
            f"widths : list[int]; profile: quick {toml_value(quick.widths)}, paper {toml_value(paper.widths)}"
        )
    assert widths in doc
    assert 'padding : {"valid", "same"}; ' in doc
    assert quick.dropout == paper.dropout == 0.1
    assert "dropout : float, >= 0.0, < 1.0; default 0.1" in doc
    sim = inspect.getdoc(StudyConfig.model_fields["data"].annotation.model_fields["simulate"].annotation)
    assert 'base_rate : GroupShift; default { attribute = "age_group", group = ">=65", shift = 0.35 }' in sim
    assert "covariate_shift : GroupShift; default GroupShift()" in sim
    assert 'profile : {"quick", "paper"}; default "quick"' in inspect.getdoc(StudyConfig)


def test_reference_has_one_row_per_key_with_its_default() -> None:
    rows = {}
    for line in reference_markdown().splitlines()[2:]:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        rows[cells[0].strip("*`[]")] = cells[1]
    quick = build_config({}).to_dict()
    for path, field in _fields(StudyConfig):
        assert path in rows, path
        if section_type(field) is None:
            value: Any = quick
            for part in path.split("."):
                value = value[part]
            shown = rows[path].split(" / ")[0].strip("`").replace("\\|", "|")
            assert shown == ("none" if value is None else toml_value(value)), path


def test_readme_reference_is_the_generated_one() -> None:
    """The README's configuration reference is generated: `python -m fairssl.config_text README.md`."""
    text = README.read_text()
    assert readme_with_reference(text) == text, (
        "README reference is stale: python -m fairssl.config_text README.md"
    )


def test_readme_markers_are_required() -> None:
    with pytest.raises(ValueError, match="README has no block between"):
        readme_with_reference("# no markers\n")


def test_toml_values_round_trip_through_tomllib() -> None:
    values = [True, 0, -3, 1e-4, 0.1, 'a "quoted" é', [], [1, 2], {}, {"a b": 1, "c": {"d": [1, "x"]}}]
    for value in values:
        assert tomllib.loads(f"v = {toml_value(value)}")["v"] == value
    with pytest.raises(TypeError, match="has no TOML literal"):
        toml_value(None)


def test_a_saved_config_with_a_list_augmentation_round_trips(tmp_path: Path) -> None:
    """A step with parameters ({time_warp = {sigma = 0.2}}) used to be written as JSON, which TOML rejects."""
    cfg = build_config({"pretrain": {"augmentation": ["scaling", {"time_warp": {"sigma": 0.2}}]}})
    save_config(cfg, tmp_path / "c.toml")
    assert load_config(tmp_path / "c.toml") == cfg
    assert 'augmentation = ["scaling", { time_warp = { sigma = 0.2 } }]' in to_toml(cfg.to_dict())
