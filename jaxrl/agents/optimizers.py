"""The agents' optimizer: one optax chain, built from the config and the hyperparameters.

    clip_by_global_norm(max_grad_norm)      (identity when max_grad_norm is inf)
    -> scale_by_adam(eps)
    -> scale_by_learning_rate(lr or lr * (1 - count / anneal_steps))
    -> per-group scales                     (optional: multi_transform over labelled parameters)

Per-group scales let parts of a network step at different rates (e.g. a slower actor in a
two-timescale actor-critic); the labels come from the network itself
(:func:`jaxrl.networks.param_labels`), never from names the agent guesses. The learning rate may
be a traced hyperparameter (a vmapped sweep): the chain is built inside the traced function.

References:
  Kingma & Ba (2015), Adam: a method for stochastic optimization, ICLR.
  Pascanu, Mikolov & Bengio (2013), On the difficulty of training recurrent neural networks
  (gradient clipping).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import optax

__all__ = ("adam",)


def adam(learning_rate: Any, *, max_grad_norm: float = math.inf, eps: float = 1e-8,
         anneal_steps: int | None = None, group_scales: Mapping[str, Any] | None = None,
         labels: Callable[[Any], Any] | None = None,
         rectified: bool = False, flatten: bool = False) -> optax.GradientTransformation:
  """Adam with optional global-norm clipping, linear annealing and per-group scales.

  The step on a parameter in group ``g`` is

      u = -lr_k * scale_g * adam(clip(grad))_k,   lr_k = lr (1 - k / anneal_steps)  if annealed,

  ``k`` the number of updates so far.

  Args:
    learning_rate: ``lr``, a float or a traced scalar.
    max_grad_norm: clip the gradient's global norm to this (``inf``: no clipping; static).
    eps: Adam's epsilon (static).
    anneal_steps: decay ``lr`` linearly to zero over this many updates (None: constant).
    group_scales: ``{group: scale}`` multiplying the step of each group's parameters last.
    labels: ``params -> tree of group names`` (required with ``group_scales``).
    rectified: RAdam (Liu et al., 2020: Adam with the variance of its adaptive step
      rectified early in training) instead of Adam.
    flatten: run the clip and Adam on the parameters raveled into one vector
      (``optax.flatten``): the same maths in a few array operations instead of a few per
      parameter leaf, which is most of an update's cost for small networks on a CPU. The
      global norm is then summed in another order, so results differ in the last bits.

  Returns:
    An ``optax.GradientTransformation``.

  Raises:
    ValueError: ``group_scales`` without ``labels`` (or the reverse), ``max_grad_norm <= 0``.
  """
  if (group_scales is None) != (labels is None):
    raise ValueError("adam: give group_scales and labels together (labels says which group "
                     "each parameter is in).")
  if not max_grad_norm > 0:
    raise ValueError(f"adam: max_grad_norm must be positive (inf disables clipping), got "
                     f"{max_grad_norm}.")
  clip = (optax.clip_by_global_norm(max_grad_norm) if math.isfinite(max_grad_norm)
          else optax.identity())
  if anneal_steps is None:
    step = optax.scale_by_learning_rate(learning_rate)
  else:
    step = optax.scale_by_schedule(lambda count: -learning_rate * (1.0 - count / anneal_steps))
  scale = optax.scale_by_radam(eps=eps) if rectified else optax.scale_by_adam(eps=eps)
  parts = [optax.flatten(optax.chain(clip, scale)), step] if flatten else [clip, scale, step]
  if group_scales is not None:
    parts.append(optax.multi_transform(
        {g: optax.scale(s) for g, s in group_scales.items()}, labels))
  return optax.chain(*parts)
