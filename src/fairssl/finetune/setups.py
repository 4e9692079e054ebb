"""The fine-tuning setups of the paper, by block position, custom frozen sets, and random-init controls.

Setups name block POSITIONS of the encoder, resolved against its ``layer_names`` (n blocks, in order), so
they apply to every architecture (:mod:`fairssl.ssl.encoders`): first = ``names[0]``, middle =
``names[(n - 1) // 2]`` (the lower middle for even n), last = ``names[-1]``. For the paper's 3-layer CNN
that is conv1, conv2, conv3:

=========================  ==========================  ===================  ===========================
name                       frozen blocks               paper CNN            initialisation
=========================  ==========================  ===================  ===========================
``supervised``             none                        none                 random (baseline)
``0``                      none                        none                 SSL
``1-first``                first                       conv1                SSL
``1-middle``               middle (n >= 3)             conv2                SSL
``2-first-middle``         first, middle (n >= 3)      conv1, conv2         SSL
``2-first-last``           first, last (n >= 2)        conv1, conv3         SSL
``3``                      all (n >= 3)                conv1, conv2, conv3  SSL
``linear-probe``           all; linear head            all                  SSL
``freeze:conv1,conv3``     the listed blocks           conv1, conv3         SSL
``freeze:first``           first                       conv1                SSL
``freeze:first-2``         the first k (here 2)        conv1, conv2         SSL
``freeze:last``            last (``last-k``: last k)   conv3                SSL
``freeze:middle``          middle                      conv2                SSL
``freeze:all``             all                         conv1, conv2, conv3  SSL
``random:<setup>``         as ``<setup>``              as ``<setup>``       random, seeded like
                                                                            ``supervised`` (control)
=========================  ==========================  ===================  ===========================

A ``freeze:`` list may mix block names and position words (a block named like a position word wins);
blocks are frozen once each, in the order given. A paper setup on an encoder with fewer blocks than its
positions need (``1-middle`` on two blocks) is a ConfigError: use ``freeze:`` there.

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


_PAPER: dict[str, tuple[str, ...]] = {
    "supervised": (),
    "0": (),
    "1-first": ("first",),
    "1-middle": ("middle",),
    "2-first-middle": ("first", "middle"),
    "2-first-last": ("first", "last"),
    "3": ("all",),
}
"""The paper's setups as block positions (see the module's table)."""

_MIN_BLOCKS = {"1-middle": 3, "2-first-middle": 3, "2-first-last": 2, "3": 3}
"""Blocks a paper setup needs so that its positions are distinct blocks (``3``: at least three)."""

_ALLOWED = (
    f"allowed: {', '.join(_PAPER)}, {LINEAR_PROBE}, {FREEZE_PREFIX}<layer or position,...> "
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
            f"{FREEZE_PREFIX}<layer or position,...>), e.g. random:3"
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


def resolve_positions(parts: Sequence[str], layer_names: Sequence[str]) -> tuple[str, ...] | None:
    """The blocks of ``layer_names`` that ``parts`` name, each once, in the order given: a block name, or
    a position word ``first``, ``middle``, ``last``, ``all``, ``first-k`` or ``last-k`` (k >= 1).
    None when a part is neither (the caller names it)."""
    names = list(layer_names)
    if not names:
        return None
    out: list[str] = []
    for part in parts:
        picked = _position(part, names)
        if picked is None:
            return None
        out.extend(p for p in picked if p not in out)
    return tuple(out)


def _position(part: str, names: list[str]) -> list[str] | None:
    """The blocks one part of a frozen set names (see :func:`resolve_positions`); None if none."""
    n = len(names)
    if part in names:
        return [part]
    if part == "first":
        return names[:1]
    if part == "middle":
        return [names[(n - 1) // 2]]
    if part == "last":
        return names[-1:]
    if part == "all":
        return names
    for prefix, take_first in (("first-", True), ("last-", False)):
        if part.startswith(prefix) and part[len(prefix) :].isdigit():
            k = int(part[len(prefix) :])
            if not 1 <= k <= n:
                return None
            return names[:k] if take_first else names[n - k :]
    return None


def get_setup(name: str, layer_names: Sequence[str] = ("conv1", "conv2", "conv3")) -> Setup:
    """Resolve a setup name against the encoder's layer names (input to output); unknown names raise
    ConfigError. Paper setups and position words resolve by block position (module docstring)."""
    if name.startswith(RANDOM_PREFIX):
        base_name = _control_base(name)
        base = get_setup(base_name, layer_names)
        return Setup(name, base.frozen, pretrained=False, linear_head=base.linear_head, control_of=base_name)
    if name == LINEAR_PROBE:
        return Setup(name, tuple(layer_names), pretrained=True, linear_head=True)
    if name.startswith(FREEZE_PREFIX):
        parts = _freeze_layers(name)
        unknown = [part for part in parts if resolve_positions([part], layer_names) is None]
        if unknown:
            raise ConfigError(
                f"setup {name!r} names unknown layer(s) {unknown}; the encoder's layers are "
                f"{list(layer_names)} (or positions first, middle, last, all, first-k, last-k)"
            )
        return Setup(name, resolve_positions(parts, layer_names) or (), pretrained=True)
    if name not in _PAPER:
        raise ConfigError(f"unknown setup {name!r}; {_ALLOWED}")
    need = _MIN_BLOCKS.get(name, 0)
    if len(layer_names) < need:
        paper = resolve_positions(_PAPER[name], ("conv1", "conv2", "conv3")) or ()
        missing = [layer for layer in paper if layer not in layer_names]
        what = (
            f"freezes {missing}"  # the paper CNN's names, for a shallower CNN
            if all(layer.startswith("conv") for layer in layer_names)
            else f"needs {need} distinct block positions"
        )
        raise ConfigError(
            f"setup {name!r} {what}, which this encoder lacks (layers {list(layer_names)}; by position it "
            f"needs {need} blocks); use freeze:<layer or position,...> setups for encoders of another depth"
        )
    frozen = resolve_positions(_PAPER[name], layer_names) or ()
    return Setup(name, frozen, pretrained=name != "supervised")
