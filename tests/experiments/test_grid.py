from __future__ import annotations

from fairssl.config import build_config
from fairssl.experiments.grid import expand


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
