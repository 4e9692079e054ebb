from __future__ import annotations

import pytest

from fairssl.config import build_config
from fairssl.errors import ConfigError
from fairssl.experiments.grid import expand, specs_by_variant, unique_runs, variants


def test_one_pretraining_per_seed_shared_by_the_ssl_setups() -> None:
    cfg = build_config({"seeds": [0, 1]})
    specs = expand(cfg)
    pre = [s for s in specs if s.kind == "pretrain"]
    ft = [s for s in specs if s.kind == "finetune"]
    assert len(pre) == 2 and len(ft) == 14
    assert specs[:2] == pre  # pre-training first
    for s in ft:
        if s.setup == "supervised":
            assert s.depends_on is None
        else:
            assert s.depends_on == next(p.run_id for p in pre if p.seed == s.seed)


def test_a_fixed_pretrain_seed_gives_one_encoder_for_every_seed() -> None:
    per_seed = expand(build_config({"seeds": [0, 1, 2]}))
    shared = expand(build_config({"seeds": [0, 1, 2], "pretrain": {"seed": 2}}))
    pre = [s for s in shared if s.kind == "pretrain"]
    assert len(pre) == 1 and pre[0].seed == 2
    ssl = [s for s in shared if s.kind == "finetune" and s.setup != "supervised"]
    assert len(ssl) == 18 and {s.depends_on for s in ssl} == {pre[0].run_id}
    assert {s.seed for s in ssl} == {0, 1, 2}  # fine-tuning still runs every seed
    # the shared encoder is the one seed 2 pre-trains on its own, so seed 2's runs are the same runs
    assert pre[0].run_id == next(s.run_id for s in per_seed if s.kind == "pretrain" and s.seed == 2)
    seed2 = lambda specs: {s.run_id for s in specs if s.kind == "finetune" and s.seed == 2}  # noqa: E731
    assert seed2(per_seed) == seed2(shared)
    assert {s.run_id for s in per_seed if s.seed == 0}.isdisjoint({s.run_id for s in ssl if s.seed == 0})


def test_ids_are_content_hashes() -> None:
    a = expand(build_config({}))
    assert [s.run_id for s in a] == [s.run_id for s in expand(build_config({}))]
    changed = expand(build_config({"finetune": {"lr": 0.5}}))
    # fine-tuning ids change, the pre-training id (which does not depend on fine-tuning) does not
    assert a[0].run_id == changed[0].run_id
    assert {s.run_id for s in a[1:]}.isdisjoint({s.run_id for s in changed[1:]})
    assert len({s.run_id for s in a}) == len(a)


def test_supervised_only_needs_no_pretraining() -> None:
    specs = expand(build_config({"finetune": {"setups": ["supervised"]}}))
    assert [s.kind for s in specs] == ["finetune"]


# ---------------------------------------------------------------------------------------------- grids
SETUPS = {"finetune": {"setups": ["supervised", "0", "3"]}}


def _grid(grid: dict, **extra) -> dict:
    return {**SETUPS, "seeds": [0, 1], "grid": grid, **extra}


def test_grid_is_the_cartesian_product_in_key_order() -> None:
    cfg = build_config(
        _grid({"pretrain.augmentation": ["paper", "default"], "data.simulate.labelled_fraction": [0.1, 1.0]})
    )
    vs = variants(cfg)
    assert [v.name for v in vs] == [
        "pretrain.augmentation=paper, data.simulate.labelled_fraction=0.1",
        "pretrain.augmentation=paper, data.simulate.labelled_fraction=1.0",
        "pretrain.augmentation=default, data.simulate.labelled_fraction=0.1",
        "pretrain.augmentation=default, data.simulate.labelled_fraction=1.0",
    ]
    # each variant's resolved sub-config holds its settings, and no grid
    assert [(v.config.pretrain.augmentation, v.config.data.simulate.labelled_fraction) for v in vs] == [
        ("paper", 0.1),
        ("paper", 1.0),
        ("default", 0.1),
        ("default", 1.0),
    ]
    assert all(v.config.grid == {} for v in vs)
    assert len({v.slug for v in vs}) == 4
    # every variant runs every seed x setup
    per_variant = specs_by_variant(expand(cfg))
    assert set(per_variant) == {v.name for v in vs}
    for specs in per_variant.values():
        assert sorted((s.seed, s.setup) for s in specs if s.kind == "finetune") == [
            (seed, setup) for seed in (0, 1) for setup in sorted(["supervised", "0", "3"])
        ]


def test_finetune_variants_share_the_pretraining_run() -> None:
    specs = expand(build_config(_grid({"finetune.lr": [1e-3, 1e-2]})))
    runs = unique_runs(specs)
    pre = [s for s in runs if s.kind == "pretrain"]
    ft = [s for s in runs if s.kind == "finetune"]
    assert len(pre) == 2  # one per seed, not per variant
    assert len(ft) == 2 * 2 * 3  # fine-tuning differs per variant
    for spec in ft:
        if spec.setup != "supervised":
            assert spec.depends_on in {p.run_id for p in pre}


def test_pretrain_variants_share_the_supervised_baseline_but_not_the_pretraining() -> None:
    specs = expand(build_config(_grid({"pretrain.augmentation": ["paper", "default"]})))
    assert len(specs) == 2 * (2 + 2 * 3)  # per variant: 2 pre-trainings + 6 fine-tunings
    runs = unique_runs(specs)
    assert sum(s.kind == "pretrain" for s in runs) == 4
    sup = [s for s in runs if s.setup == "supervised"]
    assert len(sup) == 2  # one per seed, shared by both variants
    for spec in (s for s in specs if s.setup == "supervised"):
        assert spec.run_id in {s.run_id for s in sup}
    # the SSL setups of the two variants depend on different pre-trainings
    ssl_deps = {(s.variant, s.seed): s.depends_on for s in specs if s.setup == "0"}
    assert ssl_deps[("pretrain.augmentation=paper", 0)] != ssl_deps[("pretrain.augmentation=default", 0)]


def test_data_variants_share_nothing() -> None:
    specs = expand(build_config(_grid({"data.simulate.labelled_fraction": [0.5, 1.0]})))
    runs = unique_runs(specs)
    assert len(runs) == len(specs)


def test_a_one_point_grid_equals_setting_the_key_directly() -> None:
    gridded = expand(build_config(_grid({"finetune.lr": [0.5]})))
    direct = expand(build_config({**SETUPS, "seeds": [0, 1], "finetune": {**SETUPS["finetune"], "lr": 0.5}}))
    assert [s.run_id for s in gridded] == [s.run_id for s in direct]
    assert {s.variant for s in gridded} == {"finetune.lr=0.5"} and {s.variant for s in direct} == {"base"}


def test_no_grid_is_one_base_variant() -> None:
    (v,) = variants(build_config({}))
    assert v.name == "base" and v.settings == {}
    assert {s.variant for s in expand(build_config({}))} == {"base"}


def test_bare_dotted_toml_keys_are_flattened() -> None:
    import tomllib

    raw = tomllib.loads('[grid]\npretrain.augmentation = ["paper", "none"]\n"finetune.lr" = [0.1]\n')
    cfg = build_config(raw)
    assert cfg.grid == {"pretrain.augmentation": ["paper", "none"], "finetune.lr": [0.1]}


def test_free_form_tables_accept_sub_keys() -> None:
    cfg = build_config({"grid": {"data.simulate.race_shares.white": [0.5, 0.7]}})
    assert [v.config.data.simulate.race_shares["white"] for v in variants(cfg)] == [0.5, 0.7]


@pytest.mark.parametrize(
    ("grid", "match"),
    [
        (
            {"pretrain.augmentaton": ["paper"]},
            r"grid key 'pretrain\.augmentaton' is not a config key.*augmentation",
        ),
        (
            {"pretran.lr": [0.1]},
            r"grid key 'pretran\.lr' is not a config key; allowed keys under the top level",
        ),
        ({"pretrain.lr.x": [0.1]}, r"grid key 'pretrain\.lr\.x' goes inside 'pretrain\.lr'"),
        ({"seeds": [[0], [1]]}, r"grid key 'seeds' cannot be varied: list seeds in `seeds`"),
        ({"finetune.setups": [["0"]]}, r"grid key 'finetune\.setups' cannot be varied"),
        ({"runtime.workers": [1, 2]}, r"grid key 'runtime\.workers' cannot be varied"),
        ({"pretrain.lr": []}, r"grid key 'pretrain\.lr' has an empty list"),
        ({"pretrain.lr": [0.1, 0.1]}, r"grid key 'pretrain\.lr' lists a value twice"),
        (
            {"pretrain.lr": [0.1, -1.0]},
            r"grid point pretrain\.lr=-1\.0: config key 'pretrain\.lr'.*greater than 0",
        ),
        ({"pretrain.lr": 0.1}, r"config key 'grid\.pretrain\.lr'.*valid list"),
    ],
)
def test_bad_grids_fail_with_one_line_naming_the_key(grid: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        build_config({"grid": grid})
    assert "\n" not in str(info.value)


def test_a_grid_round_trips_through_the_saved_config(tmp_path) -> None:
    from fairssl.config import load_config, save_config

    cfg = build_config(
        {"grid": {"pretrain.augmentation": ["paper", "none"], "finetune.lr": [0.001, 0.01]}, **SETUPS}
    )
    save_config(cfg, tmp_path / "config.toml")
    again = load_config(tmp_path / "config.toml")
    assert again.grid == cfg.grid
    assert [s.run_id for s in expand(again)] == [s.run_id for s in expand(cfg)]


# ------------------------------------------------------------------------------- random-init controls
def test_random_controls_need_no_pretraining_and_have_their_own_ids() -> None:
    setups = ["supervised", "3", "random:3", "random:freeze:conv1,conv3"]
    specs = expand(build_config({"seeds": [0, 1], "finetune": {"setups": setups}}))
    pre = {s.seed: s.run_id for s in specs if s.kind == "pretrain"}
    ft = {(s.setup, s.seed): s for s in specs if s.kind == "finetune"}
    for seed in (0, 1):
        for name in ("random:3", "random:freeze:conv1,conv3"):
            spec = ft[(name, seed)]
            assert spec.depends_on is None and spec.payload["pretrain"] is None
            assert pre[seed] not in str(spec.payload)  # no pre-training spec or id inside
        assert ft[("3", seed)].depends_on == pre[seed]
    assert len({s.run_id for s in ft.values()}) == len(ft)  # distinct from supervised, 3 and each other
    only = expand(build_config({"finetune": {"setups": ["supervised", "random:3"]}}))
    assert [s.kind for s in only] == ["finetune", "finetune"]  # nothing to pre-train


def test_random_controls_are_shared_by_pretrain_variants_like_the_baseline() -> None:
    cfg = {"finetune": {"setups": ["supervised", "3", "random:3"]}, "seeds": [0]}
    specs = expand(build_config({**cfg, "grid": {"pretrain.augmentation": ["paper", "default"]}}))
    ids = lambda name: {s.run_id for s in specs if s.setup == name}  # noqa: E731
    assert len(ids("random:3")) == 1 and len(ids("supervised")) == 1 and len(ids("3")) == 2
    # a pre-training setting does not change a control's id; a fine-tuning setting does
    plain = expand(build_config(cfg))
    lr = expand(build_config({**cfg, "finetune": {**cfg["finetune"], "lr": 0.5}}))
    control = lambda ss: next(s.run_id for s in ss if s.setup == "random:3")  # noqa: E731
    assert control(plain) == control(specs) != control(lr)


def test_random_control_layers_are_checked_against_the_model() -> None:
    cfg = build_config({"model": {"widths": [8, 8], "kernels": [3, 3]}, "finetune": {"setups": ["random:3"]}})
    with pytest.raises(ConfigError, match="'3' freezes \\['conv3'\\], which this encoder lacks"):
        expand(cfg)
