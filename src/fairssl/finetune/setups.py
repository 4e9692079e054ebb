"""The fine-tuning setups of the paper, by name, custom frozen sets, and random-init controls.

=========================  =====================  ==========================================
name                       frozen conv layers     initialisation
=========================  =====================  ==========================================
``supervised``             none                   random (baseline)
``0``                      none                   SSL
``1-first``                conv1                  SSL
``1-middle``               conv2                  SSL
``2-first-middle``         conv1, conv2           SSL
``2-first-last``           conv1, conv3           SSL
``3``                      conv1, conv2, conv3    SSL
``linear-probe``           all; linear head       SSL
``freeze:conv1,conv3``     the listed layers      SSL
``random:<setup>``         as ``<setup>``         random, seeded like ``supervised`` (control)
=========================  =====================  ==========================================

``random:<setup>`` is the control of an SSL setup: the same frozen set, head and training recipe, but the
encoder keeps the random initialisation that ``supervised`` starts from (the run's seed), so "SSL vs
random:<setup>" isolates pre-training and "random:<setup> vs supervised" isolates freezing. A setup that
freezes nothing (``0``, or ``supervised`` itself) has no control: random init with nothing frozen under
the same recipe *is* the supervised baseline (bit-identical for a seed), so ``random:0`` is rejected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fairssl.errors import ConfigError

RANDOM_PREFIX = "random:"
"""Prefix of a random-init control setup: ``random:<SSL setup>``."""

FREEZE_PREFIX = "freeze:"
"""Prefix of a custom frozen set: ``freeze:conv1,conv3``."""

LINEAR_PROBE = "linear-probe"


@dataclass(frozen=True)
class Setup:
    """A named fine-tuning setup: which encoder layers stay frozen, and whether SSL weights are loaded.

    ``control_of`` names the SSL setup a ``random:<setup>`` control mirrors (None otherwise); a control is
    never ``pretrained``.
    """

    name: str
    frozen: tuple[str, ...]
    pretrained: bool
    linear_head: bool = False
    control_of: str | None = None

    @property
    def n_frozen(self) -> int:
        return len(self.frozen)

    @property
    def is_control(self) -> bool:
        """True for a ``random:<setup>`` control (random init, frozen like ``control_of``)."""
        return self.control_of is not None


_PAPER = {
    "supervised": (),
    "0": (),
    "1-first": ("conv1",),
    "1-middle": ("conv2",),
    "2-first-middle": ("conv1", "conv2"),
    "2-first-last": ("conv1", "conv3"),
    "3": ("conv1", "conv2", "conv3"),
}

_ALLOWED = (
    f"allowed: {', '.join(_PAPER)}, {LINEAR_PROBE}, {FREEZE_PREFIX}<layer,...> "
    f"or {RANDOM_PREFIX}<setup> (a random-init control)"
)


def _freeze_layers(name: str) -> tuple[str, ...]:
    """The layers of ``freeze:a, b`` (blanks and empty parts dropped)."""
    return tuple(part.strip() for part in name.removeprefix(FREEZE_PREFIX).split(",") if part.strip())


def _freezes_layers(known: str) -> bool:
    """Whether the known setup name ``known`` freezes at least one layer (of an encoder that has them)."""
    if known == LINEAR_PROBE:
        return True
    if known.startswith(FREEZE_PREFIX):
        return bool(_freeze_layers(known))
    return bool(_PAPER[known])


def _control_base(name: str) -> str:
    """The SSL setup a ``random:<setup>`` name controls; ConfigError when it names none that freezes."""
    base = name.removeprefix(RANDOM_PREFIX)
    if base.startswith(RANDOM_PREFIX):
        raise ConfigError(f"setup {name!r} nests random: controls; write random:<setup> once, e.g. random:3")
    known = base in _PAPER or base == LINEAR_PROBE or base.startswith(FREEZE_PREFIX)
    if not known:
        raise ConfigError(
            f"unknown setup {name!r}: {base!r} is not a setup; random:<setup> takes an SSL setup that "
            f"freezes layers ({', '.join(n for n, f in _PAPER.items() if f)}, {LINEAR_PROBE} or "
            f"{FREEZE_PREFIX}<layer,...>), e.g. random:3"
        )
    if not _freezes_layers(base):
        raise ConfigError(
            f"setup {name!r} freezes nothing, so it is the supervised baseline (random initialisation, "
            "nothing frozen, the same recipe); use 'supervised', or random:<setup> of a setup that freezes "
            "layers, e.g. random:3"
        )
    return base


def check_setup_name(name: str) -> None:
    """Reject a name that is no setup for any encoder (ConfigError); layer names are checked by
    :func:`get_setup`, which knows the encoder."""
    if name.startswith(RANDOM_PREFIX):
        _control_base(name)
    elif name not in _PAPER and name != LINEAR_PROBE and not name.startswith(FREEZE_PREFIX):
        raise ConfigError(f"unknown setup {name!r}; {_ALLOWED}")


def get_setup(name: str, layer_names: Sequence[str] = ("conv1", "conv2", "conv3")) -> Setup:
    """Resolve a setup name against the encoder's layer names; unknown names raise ConfigError."""
    if name.startswith(RANDOM_PREFIX):
        base_name = _control_base(name)
        base = get_setup(base_name, layer_names)
        return Setup(name, base.frozen, pretrained=False, linear_head=base.linear_head, control_of=base_name)
    if name == LINEAR_PROBE:
        return Setup(name, tuple(layer_names), pretrained=True, linear_head=True)
    if name.startswith(FREEZE_PREFIX):
        layers = _freeze_layers(name)
        unknown = [layer for layer in layers if layer not in layer_names]
        if unknown:
            raise ConfigError(
                f"setup {name!r} names unknown layer(s) {unknown}; "
                f"the encoder's layers are {list(layer_names)}"
            )
        return Setup(name, layers, pretrained=True)
    if name not in _PAPER:
        raise ConfigError(f"unknown setup {name!r}; {_ALLOWED}")
    frozen = _PAPER[name]
    missing = [layer for layer in frozen if layer not in layer_names]
    if missing:
        raise ConfigError(
            f"setup {name!r} freezes {missing}, which this encoder lacks (layers {list(layer_names)}); "
            "use freeze:<layer,...> setups for encoders of another depth"
        )
    return Setup(name, frozen, pretrained=name != "supervised")
