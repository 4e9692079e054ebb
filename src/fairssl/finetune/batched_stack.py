"""K classifiers of one shape as ONE stacked model: the forward pass and dropout of batched fine-tuning.

K copies of the paper's CNN classifier (:class:`fairssl.ssl.heads.Classifier` over the conv
:class:`fairssl.ssl.encoder.Encoder`) keep every parameter on a leading model axis: a conv kernel
(C_out, C_in, k) becomes (K, C_out, C_in, k), a dense weight (H, D) becomes (K, H, D). The head of all K
runs as batched matrix products (K, B, D) @ (K, D, H). The encoders:

- on CPU, each model's encoder runs its own plain convolutions on its batch, with its frozen layers
  detached (so, as in its run alone, no gradient is computed for a frozen layer, nor below the model's
  first trained layer), and scores the validation windows from its cached frozen-prefix outputs
  (:meth:`StackedClassifier.eval_logits`), as a run alone does. Measured with
  ``benchmarks/batched_finetune.py`` at the default study's shapes, bit-identical to the runs alone:
  1.2-1.4x faster than one by one on 1 thread (the SSL setups of a seed 1.35x, seeds of a setup
  1.27-1.32x, ``supervised`` with ``0`` 1.23x, K = 14 mixed 1.44x), 1.6-1.7x on 2 threads. The CUDA
  layout below, on CPU, was 0.6-1.0x: oneDNN's grouped convolutions are slower than K plain ones at
  these sizes, and every model paid every layer's backward pass.
- on CUDA (one kernel for all K: what stacking is for there), activations laid out (B, K C, T) (model k
  owns channels k C .. (k + 1) C - 1). The first conv layer: when every model sees the same batch (runs
  of one seed), ONE ordinary convolution with K C_out filters; otherwise K ordinary convolutions, one per
  model's batch, joined along channels (a grouped convolution over the few input channels of a window
  sums in another order). Every later conv layer: one grouped convolution (groups = K).

Model k's logits depend on model k's parameters only, so the gradient of sum_k loss_k with respect to
model k's slice is the gradient of loss_k alone.

Dropout: model k's masks come from its own CPU generator holding the global random state its unbatched
run (:func:`fairssl.finetune.train.finetune`) holds after building the model, drawn with the same call
PyTorch's CPU dropout makes (Bernoulli(1 - p) over the layer's activation shape, divided by 1 - p), in
the same order (conv1, conv2, ..., head). On CPU the masks are therefore bit-identical to the unbatched
run's. On CUDA the unbatched run draws with the fused CUDA kernel (Philox), which this module does not
reproduce: there the masks are drawn on CPU as above and moved, so a batched CUDA run is statistically
equivalent to, not draw-for-draw equal to, the unbatched CUDA run.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn
from torch.nn.functional import conv1d, relu

from fairssl.ssl.encoder import Encoder
from fairssl.ssl.heads import Classifier


def stack_support(net: nn.Module) -> str | None:
    """Why ``net`` cannot be stacked (None when it can): it must be the conv classifier whose blocks are
    exactly Conv1d -> ReLU -> Dropout, pooled by a global max over time (:class:`Encoder`), with a head of
    Linear [-> ReLU -> Dropout -> Linear], and hold no buffers (no normalisation layers)."""
    if not isinstance(net, Classifier) or type(net.encoder) is not Encoder:
        return f"the encoder is {type(getattr(net, 'encoder', net)).__name__}, not the conv Encoder"
    for name in net.encoder.layer_names:
        block = getattr(net.encoder, name)
        kinds = [type(m) for m in block.children()]
        if kinds != [nn.Conv1d, nn.ReLU, nn.Dropout]:
            return f"encoder block {name} is {[k.__name__ for k in kinds]}, not Conv1d, ReLU, Dropout"
        conv = block[0]
        if conv.groups != 1 or conv.stride != (1,) or conv.dilation != (1,) or conv.bias is None:
            return f"encoder block {name}'s Conv1d is not plain (stride 1, dilation 1, groups 1, bias)"
    kinds = [type(m) for m in net.head.children()]
    if kinds not in ([nn.Linear], [nn.Linear, nn.ReLU, nn.Dropout, nn.Linear]):
        return f"the head is {[k.__name__ for k in kinds]}, not Linear [ReLU Dropout Linear]"
    if any(True for _ in net.buffers()):
        return "the model holds buffers (e.g. normalisation statistics)"
    return None


class DropoutStream:
    """The dropout noise one model's unbatched CPU run would draw, from that model's own random state.

    ``state``: the CPU RNG state (``torch.get_rng_state()``) right after the model was built.
    :meth:`noise` returns Bernoulli(1 - p) / (1 - p) of ``shape`` (float32, on ``device``), drawn as
    ``torch.nn.functional.dropout`` draws on CPU; p = 0 draws nothing and returns None (no mask).
    """

    def __init__(self, state: torch.Tensor, device: torch.device) -> None:
        self.generator = torch.Generator().set_state(state)
        self.device = device

    def noise(self, shape: tuple[int, ...], p: float) -> torch.Tensor | None:
        if p == 0.0:
            return None
        if p == 1.0:
            return torch.zeros(shape, device=self.device)
        mask = torch.empty(shape).bernoulli_(1.0 - p, generator=self.generator).div_(1.0 - p)
        return mask.to(self.device)


def _stack_noise(streams: list[DropoutStream], shape: tuple[int, ...], p: float) -> list[torch.Tensor] | None:
    masks = [s.noise(shape, p) for s in streams]
    return None if masks[0] is None else [m for m in masks if m is not None]


class StackedClassifier:
    """The parameters of K same-shaped classifiers, stacked: ``params[name]`` is (K, *shape of name).

    ``names``: the classifier's parameter names in ``named_parameters`` order (``encoder.conv1.0.weight``,
    ..., ``head.0.weight``, ...). ``conv``: per conv layer (weight name, bias name, padding); ``dense``:
    the head's (weight name, bias name) pairs, hidden layer first. ``dropout``/``head_dropout``: p of the
    conv blocks and of the head.
    """

    def __init__(self, nets: list[Classifier], device: torch.device) -> None:
        first = nets[0]
        self.names = [name for name, _ in first.named_parameters()]
        self.params: dict[str, torch.Tensor] = {
            name: torch.stack([dict(net.named_parameters())[name].detach() for net in nets]).to(device)
            for name in self.names
        }  # name -> (K, *shape)
        self.conv: list[tuple[str, str, str | tuple[int, ...]]] = []
        for layer in first.encoder.layer_names:
            conv = getattr(first.encoder, layer)[0]
            self.conv.append((f"encoder.{layer}.0.weight", f"encoder.{layer}.0.bias", conv.padding))
        self.dense = [
            (f"head.{i}.weight", f"head.{i}.bias")
            for i, m in enumerate(first.head.children())
            if isinstance(m, nn.Linear)
        ]
        self.dropout = float(getattr(first.encoder, first.encoder.layer_names[0])[2].p)
        self.head_dropout = float(cast(nn.Dropout, first.head[2]).p) if len(self.dense) > 1 else 0.0
        self.per_model = device.type == "cpu"

    @property
    def k(self) -> int:
        return int(self.params[self.names[0]].shape[0])

    def keep(self, rows: list[int]) -> None:
        """Keep the models ``rows`` (in that order), dropping the others."""
        index = torch.tensor(rows, device=self.params[self.names[0]].device)
        self.params = {n: p.detach().index_select(0, index) for n, p in self.params.items()}

    def model_state(self, row: int) -> dict[str, torch.Tensor]:
        """Model ``row``'s parameters as a state dict of the unstacked classifier (copies, on CPU)."""
        return {n: p[row].detach().clone().cpu() for n, p in self.params.items()}

    def forward(
        self,
        x: torch.Tensor,
        streams: list[DropoutStream] | None = None,
        params: dict[str, torch.Tensor] | None = None,
        trains: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Logits (K, B, n_classes) of windows ``x``: (B, C, T) shared by every model, or (K, B, C, T) one
        batch per model. ``streams`` (one per model): training mode, dropout drawn from them; None: eval
        mode (no dropout). ``params``: a subset of the stacked models (default: all). ``trains`` (name ->
        (K,) bool): on CPU, a model's frozen conv layers enter its graph detached, so no gradient is
        computed for them (nor, below its first trained layer, for its activations)."""
        params = self.params if params is None else params
        k = int(params[self.names[0]].shape[0])
        if self.per_model:
            z, _ = self._encode_each(x, k, streams, params, trains)
        else:
            z = self._encode_stacked(x, k, streams, params)
        return self._head(z, streams, params)

    def eval_logits(
        self,
        x: torch.Tensor,
        params: dict[str, torch.Tensor],
        prefix: list[int],
        cached: list[torch.Tensor | None],
    ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        """Eval-mode logits (K, B, n_classes) of windows ``x`` (B, C, T), each model on its own plain
        convolutions (the CPU layout), and each model's output after its first ``prefix[k]`` conv layers
        (None where ``prefix[k]`` is 0). Model k starts from ``cached[k]`` where given: that output, as an
        earlier call returned it for the same windows (valid while those layers do not move)."""
        z, kept = self._encode_each(x, len(prefix), None, params, None, prefix, cached)
        return self._head(z, None, params), kept

    def _head(
        self, z: torch.Tensor, streams: list[DropoutStream] | None, params: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """Logits (K, B, n_classes) of the heads on pooled features ``z`` (K, B, D)."""
        b = z.shape[1]
        for j, (w_name, b_name) in enumerate(self.dense):
            w, bias = params[w_name], params[b_name]  # (K, H, D), (K, H)
            z = torch.baddbmm(bias.unsqueeze(1), z, w.transpose(1, 2))  # (K, B, H)
            if j < len(self.dense) - 1:
                z = relu(z)
                if streams is not None:
                    masks = _stack_noise(streams, (b, w.shape[1]), self.head_dropout)
                    if masks is not None:
                        z = z * torch.stack(masks)  # (K, B, H)
        return z

    def _encode_each(
        self,
        x: torch.Tensor,
        k: int,
        streams: list[DropoutStream] | None,
        params: dict[str, torch.Tensor],
        trains: dict[str, torch.Tensor] | None,
        prefix: list[int] | None = None,
        cached: list[torch.Tensor | None] | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        """(K, B, D): each model's encoder on its batch with its own plain convolutions (CPU: oneDNN's
        grouped convolutions are slower than K plain ones at these sizes, and sum in another order); and
        each model's output after its first ``prefix[k]`` layers, started from ``cached[k]`` where given
        (see :meth:`eval_logits`)."""
        layers = []
        for w_name, b_name, padding in self.conv:
            ws, bs = params[w_name].unbind(0), params[b_name].unbind(0)
            if trains is not None:
                ws = tuple(w if t else w.detach() for w, t in zip(ws, trains[w_name].tolist(), strict=True))
                bs = tuple(v if t else v.detach() for v, t in zip(bs, trains[b_name].tolist(), strict=True))
            layers.append((ws, bs, padding))
        prefix = prefix or [0] * k
        cached = cached or [None] * k
        pooled, kept = [], []
        for j in range(k):
            h0 = cached[j]
            h, first = (x if x.dim() == 3 else x[j], 0) if h0 is None else (h0, prefix[j])
            keep = h0
            for i in range(first, len(layers)):
                ws, bs, padding = layers[i]
                h = relu(conv1d(h, ws[j], bs[j], padding=padding))  # (B, C_out, T_i)
                if streams is not None:
                    mask = streams[j].noise(tuple(h.shape), self.dropout)
                    if mask is not None:
                        h = h * mask
                if i + 1 == prefix[j]:
                    keep = h
            kept.append(keep)
            pooled.append(h.amax(dim=2))
        return torch.stack(pooled), kept

    def _encode_stacked(
        self, x: torch.Tensor, k: int, streams: list[DropoutStream] | None, params: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """(K, B, D): every model's encoder at once, activations laid out (B, K C, T) (see the module)."""
        b = x.shape[-3]
        h = x
        for i, (w_name, b_name, padding) in enumerate(self.conv):
            w, bias = params[w_name], params[b_name]  # (K, C_out, C_in, k), (K, C_out)
            c_out = w.shape[1]
            if i == 0 and x.dim() == 3:  # shared input: one ordinary conv with K C_out filters
                h = conv1d(h, w.reshape(k * c_out, *w.shape[2:]), bias.reshape(-1), padding=padding)
            elif i == 0:  # one batch per model: K convs (as each model's own run computes them), joined
                h = torch.cat([conv1d(x[j], w[j], bias[j], padding=padding) for j in range(k)], dim=1)
            else:
                h = conv1d(h, w.reshape(k * c_out, *w.shape[2:]), bias.reshape(-1), padding=padding, groups=k)
            h = relu(h)  # (B, K C_out, T_i)
            if streams is not None:
                masks = _stack_noise(streams, (b, c_out, h.shape[2]), self.dropout)
                if masks is not None:  # K x (B, C_out, T_i) -> (B, K C_out, T_i)
                    h = h * torch.stack(masks, dim=1).reshape(h.shape)
        c_last = params[self.conv[-1][0]].shape[1]
        return h.amax(dim=2).reshape(b, k, c_last).transpose(0, 1)  # (B, K D) -> (K, B, D)

    def l2_terms(self) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        """Per-model squared norms: one (K,) tensor ||W_conv||^2 per conv layer, and (K,) ||W_hidden||^2
        of the head's hidden layer (None for a linear head)."""
        conv = [self.params[w].pow(2).flatten(1).sum(1) for w, _, _ in self.conv]
        hidden = self.params[self.dense[0][0]].pow(2).flatten(1).sum(1) if len(self.dense) > 1 else None
        return conv, hidden
