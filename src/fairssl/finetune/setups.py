"""The fine-tuning setups of the paper, by name, and custom frozen sets.

======================  =====================  ====================
name                    frozen conv layers     initialisation
======================  =====================  ====================
``supervised``          none                   random (baseline)
``0``                   none                   SSL
``1-first``             conv1                  SSL
``1-middle``            conv2                  SSL
``2-first-middle``      conv1, conv2           SSL
``2-first-last``        conv1, conv3           SSL
``3``                   conv1, conv2, conv3    SSL
``linear-probe``        all; linear head       SSL
``freeze:conv1,conv3``  the listed layers      SSL
======================  =====================  ====================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fairssl.errors import ConfigError


@dataclass(frozen=True)
class Setup:
    """A named fine-tuning setup: which encoder layers stay frozen, and whether SSL weights are loaded."""

    name: str
    frozen: tuple[str, ...]
    pretrained: bool
    linear_head: bool = False

    @property
    def n_frozen(self) -> int:
        return len(self.frozen)


_PAPER = {
    "supervised": (),
    "0": (),
    "1-first": ("conv1",),
    "1-middle": ("conv2",),
    "2-first-middle": ("conv1", "conv2"),
    "2-first-last": ("conv1", "conv3"),
    "3": ("conv1", "conv2", "conv3"),
}


def get_setup(name: str, layer_names: Sequence[str] = ("conv1", "conv2", "conv3")) -> Setup:
    """Resolve a setup name against the encoder's layer names; unknown names raise ConfigError."""
    if name == "linear-probe":
        return Setup(name, tuple(layer_names), pretrained=True, linear_head=True)
    if name.startswith("freeze:"):
        layers = tuple(part.strip() for part in name.removeprefix("freeze:").split(",") if part.strip())
        unknown = [layer for layer in layers if layer not in layer_names]
        if unknown:
            raise ConfigError(
                f"setup {name!r} names unknown layer(s) {unknown}; "
                f"the encoder's layers are {list(layer_names)}"
            )
        return Setup(name, layers, pretrained=True)
    if name not in _PAPER:
        raise ConfigError(
            f"unknown setup {name!r}; allowed: {', '.join(_PAPER)}, linear-probe, freeze:<layer,...>"
        )
    frozen = _PAPER[name]
    missing = [layer for layer in frozen if layer not in layer_names]
    if missing:
        raise ConfigError(
            f"setup {name!r} freezes {missing}, which this encoder lacks (layers {list(layer_names)}); "
            "use freeze:<layer,...> setups for encoders of another depth"
        )
    return Setup(name, frozen, pretrained=name != "supervised")
