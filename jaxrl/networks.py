"""Q-networks and actor-critic heads as flax.linen modules.

Every module maps one observation ``[*O]`` to action values ``[A]``, and a batch ``[..., *O]`` to
``[..., A]``: the trailing ``len(O)`` axes are the observation, any axes before them are batch.
Vector networks (:class:`LinearQNetwork`, :class:`MLPQNetwork`, :class:`ActorCritic`) flatten the
observation and need its rank, ``observation_ndim`` (1 by default; :func:`make_q_network` sets it
from ``observation_shape``). Convolutional networks take images ``[H, W, C]`` (channels last).
Inputs of any dtype (e.g. MinAtar's booleans, Atari's uint8) are cast to float32.

Modules hold no state: ``params = net.init(key, obs)``, ``q = net.apply(params, obs)``.
Constructing a module with ``num_actions < 1`` or empty layers raises ``ValueError``.

References:
  Mnih et al. (2015), Human-level control through deep reinforcement learning, Nature 518
  (:class:`NatureCNNQNetwork`).
  Young & Tian (2019), MinAtar: an Atari-inspired testbed for thorough and reproducible
  reinforcement learning experiments (:class:`CNNQNetwork`).
  Mnih et al. (2016), Asynchronous methods for deep reinforcement learning (:class:`ActorCritic`).
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from typing import Any, Callable, NamedTuple, Sequence

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import normalization
from jaxrl import validation


def orthogonal(scale: float = 1.0) -> Callable:
  """``nn.initializers.orthogonal(scale)`` that is safe to ``vmap`` on CPU with jaxlib 0.10.

  Under ``vmap`` (one init per seed) the orthogonal initializer's QR becomes a batched LAPACK
  call, which jaxlib 0.10.x runs on XLA:CPU's intra-op thread pool while blocking a pool thread:
  with two such calls in flight on a 2-thread pool every thread waits on work nobody runs, and
  the program hangs with the CPU idle (found in A2C's repeated ``jit(vmap(train))`` calls).
  ``jax.custom_batching.sequential_vmap`` makes the batched init a loop of unbatched ones, whose
  QRs run inline; the parameters are bitwise those of the plain initializer.
  """
  base = nn.initializers.orthogonal(scale)

  def init(key, shape, dtype=jnp.float32):
    return jax.custom_batching.sequential_vmap(lambda k: base(k, shape, dtype))(key)

  return init


Array = chex.Array

__all__ = (
    "ACTOR_CRITIC_CRITICS",
    "ACTOR_CRITIC_KINDS",
    "ACTIVATIONS",
    "ActorCritic",
    "CNNActorCritic",
    "ContinuousQNetwork",
    "DeterministicPolicy",
    "SquashedGaussianPolicy",
    "CNNQNetwork",
    "LinearQNetwork",
    "MLPQNetwork",
    "NatureCNNQNetwork",
    "NormalizedInput",
    "NormalizedParams",
    "orthogonal",
    "param_labels",
    "Q_NETWORK_KINDS",
    "GRUCell",
    "RECURRENT_CELLS",
    "RecurrentNetwork",
    "make_actor_critic",
    "make_q_network",
    "make_recurrent_network",
    "replace_trainable",
    "trainable",
    "unroll",
    "unroll_sequences",
)


def _check_hidden_sizes(owner: str, hidden_sizes) -> None:
  try:
    sizes = tuple(hidden_sizes)
  except TypeError:
    raise ValueError(f"{owner}.hidden_sizes must be a sequence of ints, got {hidden_sizes!r}.") from None
  for size in sizes:
    validation.check_int(f"{owner}.hidden_sizes", size, minimum=1)


def _observation_shape(observation_shape) -> tuple[int, ...]:
  """``observation_shape`` as a tuple of positive ints (ValueError naming it otherwise)."""
  try:
    shape = tuple(operator.index(d) for d in observation_shape)
  except TypeError:
    raise ValueError(f"observation_shape must be a tuple of ints, got {observation_shape!r}.") from None
  if not shape or any(d < 1 for d in shape):
    raise ValueError(f"observation_shape must be a non-empty tuple of positive ints, got {shape}.")
  return shape


def _flatten_observation(x: Array, observation_ndim: int) -> Array:
  """``[..., *O] -> float32 [..., prod(O)]``."""
  x = jnp.asarray(x)
  if x.ndim < observation_ndim:
    raise ValueError(f"expected an observation with {observation_ndim} axes (plus batch axes), "
                     f"got shape {x.shape}.")
  batch_shape = x.shape[:x.ndim - observation_ndim]
  return x.reshape(batch_shape + (-1,)).astype(jnp.float32)


def _check_q_head(owner: str, dueling, num_atoms) -> None:
  validation.check_bool(f"{owner}.dueling", dueling)
  if num_atoms is not None:
    validation.check_int(f"{owner}.num_atoms", num_atoms, minimum=1)


def _q_output(x: Array, num_actions: int, dueling: bool, num_atoms: int | None) -> Array:
  """A Q-network's output layer: ``[..., A]`` action values, or ``[..., A, K]`` with
  ``num_atoms = K`` (C51's logits over K atoms, QR-DQN's K quantiles).

      plain:     Q(s, .) = W h + b                                     (one Dense, auto-named)
      dueling:   Q(s, a) = V(s) + D(s, a) - mean_a' D(s, a')           "value_head",
                                                                       "advantage_head"

  With atoms the same holds per atom (Wang et al., 2016; Hessel et al., 2018, for C51 logits).
  The plain scalar head is the auto-named ``Dense`` the networks always had, so parameters of
  existing configurations are unchanged.
  """
  k = 1 if num_atoms is None else num_atoms
  if not dueling:
    out = nn.Dense(num_actions * k)(x)
  else:
    value = nn.Dense(k, name="value_head")(x)[..., None, :]
    adv = nn.Dense(num_actions * k, name="advantage_head")(x)
    adv = adv.reshape(adv.shape[:-1] + (num_actions, k))
    out = value + adv - jnp.mean(adv, axis=-2, keepdims=True)
    return out[..., 0] if num_atoms is None else out
  return out if num_atoms is None else out.reshape(out.shape[:-1] + (num_actions, k))


class LinearQNetwork(nn.Module):
  """The linear Q-function of the course notes, on the flattened observation ``s``:

      Q(s, a; W, b) = W_a^T s + b_a,    i.e.  Q(s, .) = s W + b,

  with ``params["params"]["Dense_0"]["kernel"] = W`` ``[D, A]`` (column ``a`` is ``W_a``) and
  ``["bias"] = b`` ``[A]``, ``D = prod(O)``.

  Attributes:
    num_actions: ``A >= 1``.
    observation_ndim: rank of one observation, ``len(O)``; leading axes beyond it are batch.
    dueling, num_atoms: the output head (see :func:`make_q_network`).
  """

  num_actions: int
  observation_ndim: int = 1
  dueling: bool = False
  num_atoms: int | None = None

  def __post_init__(self):
    validation.check_int(f"{type(self).__name__}.num_actions", self.num_actions, minimum=1)
    validation.check_int(f"{type(self).__name__}.observation_ndim", self.observation_ndim,
                         minimum=1)
    _check_q_head(type(self).__name__, self.dueling, self.num_atoms)
    super().__post_init__()

  @nn.compact
  def __call__(self, obs: Array) -> Array:
    """``[..., *O] -> [..., A]`` (``[..., A, K]`` with ``num_atoms = K``)."""
    x = _flatten_observation(obs, self.observation_ndim)
    return _q_output(x, self.num_actions, self.dueling, self.num_atoms)


class MLPQNetwork(nn.Module):
  """``Q(s, .) = W_L h_{L-1} + b_L``, ``h_l = activation(W_l h_{l-1} + b_l)``, ``h_0 = flat(s)``.

  With ``layer_norm=True`` each hidden layer is ``activation(LayerNorm(W_l h_{l-1} + b_l))``,
  which keeps TD learning stable without a target network or replay (PQN; Gallici et al.,
  2025).

  Attributes:
    num_actions: ``A >= 1``.
    hidden_sizes: widths of the hidden layers (may be empty: then it is linear).
    activation: elementwise nonlinearity.
    observation_ndim: rank of one observation.
    layer_norm: normalise every hidden layer's pre-activation (LayerNorm, learned scale and
      bias).
    dueling, num_atoms: the output head (see :func:`make_q_network`).
  """

  num_actions: int
  hidden_sizes: Sequence[int] = (64, 64)
  activation: Callable[[Array], Array] = nn.relu
  observation_ndim: int = 1
  layer_norm: bool = False
  dueling: bool = False
  num_atoms: int | None = None

  def __post_init__(self):
    validation.check_int(f"{type(self).__name__}.num_actions", self.num_actions, minimum=1)
    validation.check_int(f"{type(self).__name__}.observation_ndim", self.observation_ndim,
                         minimum=1)
    _check_hidden_sizes(type(self).__name__, self.hidden_sizes)
    _check_q_head(type(self).__name__, self.dueling, self.num_atoms)
    super().__post_init__()

  @nn.compact
  def __call__(self, obs: Array) -> Array:
    """``[..., *O] -> [..., A]`` (``[..., A, K]`` with ``num_atoms = K``)."""
    x = _flatten_observation(obs, self.observation_ndim)
    for size in self.hidden_sizes:
      x = nn.Dense(size)(x)
      if self.layer_norm:
        x = nn.LayerNorm()(x)
      x = self.activation(x)
    return _q_output(x, self.num_actions, self.dueling, self.num_atoms)


#: The critics an actor-critic network can carry: ``"v"`` a state value ``V(s)`` ``[...]``,
#: ``"q"`` action values ``Q(s, .)`` ``[..., A]``.
ACTOR_CRITIC_CRITICS = ("v", "q")


def _check_critic(owner: str, critic, dueling) -> None:
  if critic not in ACTOR_CRITIC_CRITICS:
    raise ValueError(f"{owner}.critic must be one of {ACTOR_CRITIC_CRITICS}, got {critic!r}.")
  validation.check_bool(f"{owner}.dueling", dueling)
  if dueling and critic != "q":
    raise ValueError(f"{owner}.dueling=True needs critic='q', got critic={critic!r}.")


def _critic_head_names(critic: str, dueling: bool) -> tuple[str, ...]:
  """The names of the critic's output layers (see :func:`_critic_head`)."""
  if critic == "q" and not dueling:
    return ("q_head",)
  return ("value_head",) if critic == "v" else ("value_head", "advantage_head")


def _critic_head(x: Array, critic: str, num_actions: int, dueling: bool) -> Array:
  """The critic's output layer (orthogonal kernels with scale 1, zero biases).

      "v":             V(s) = w^T h + b                                  [...]   "value_head"
      "q":             Q(s, .) = W h + b                                 [..., A] "q_head"
      "q", dueling:    Q(s, a) = V(s) + D(s, a) - mean_a' D(s, a')       [..., A] "value_head",
                                                                                 "advantage_head"
  """
  kwargs = dict(kernel_init=orthogonal(1.0), bias_init=nn.initializers.zeros)
  if critic == "q" and not dueling:
    return nn.Dense(num_actions, name="q_head", **kwargs)(x)
  value = nn.Dense(1, name="value_head", **kwargs)(x)
  if critic == "v":
    return value[..., 0]
  adv = nn.Dense(num_actions, name="advantage_head", **kwargs)(x)
  return value + adv - jnp.mean(adv, axis=-1, keepdims=True)


def _check_image(owner: str, obs: Array, min_size: int) -> None:
  shape = jnp.shape(obs)
  if len(shape) < 3:
    raise ValueError(f"{owner} needs image observations [..., H, W, C], got shape {shape}.")
  if shape[-3] < min_size or shape[-2] < min_size:
    raise ValueError(f"{owner} needs images of at least {min_size}x{min_size}, got shape {shape}.")


class CNNQNetwork(nn.Module):
  """The MinAtar Q-network, for small images ``[H, W, C]`` (MinAtar: 10x10xC).

      conv 16 filters 3x3 stride 1 (VALID) -> relu -> flatten -> dense 128 -> relu -> dense A

  Attributes:
    num_actions: ``A >= 1``.
    features: filters of the convolution.
    hidden_size: width of the dense layer.
    layer_norm: normalise the convolution's and the dense layer's pre-activations.
    dueling, num_atoms: the output head (see :func:`make_q_network`).
  """

  num_actions: int
  features: int = 16
  hidden_size: int = 128
  layer_norm: bool = False
  dueling: bool = False
  num_atoms: int | None = None

  #: The smallest image side the convolution accepts.
  min_image_size = 3

  def __post_init__(self):
    validation.check_int(f"{type(self).__name__}.num_actions", self.num_actions, minimum=1)
    validation.check_int(f"{type(self).__name__}.features", self.features, minimum=1)
    validation.check_int(f"{type(self).__name__}.hidden_size", self.hidden_size, minimum=1)
    _check_q_head(type(self).__name__, self.dueling, self.num_atoms)
    super().__post_init__()

  @nn.compact
  def __call__(self, obs: Array) -> Array:
    """``[..., H, W, C] -> [..., A]``."""
    _check_image(type(self).__name__, obs, self.min_image_size)
    x = jnp.asarray(obs).astype(jnp.float32)
    norm = (lambda h: nn.LayerNorm()(h)) if self.layer_norm else (lambda h: h)  # noqa: E731
    x = nn.relu(norm(nn.Conv(self.features, (3, 3), strides=(1, 1), padding="VALID")(x)))
    x = x.reshape(x.shape[:-3] + (-1,))
    x = nn.relu(norm(nn.Dense(self.hidden_size)(x)))
    return _q_output(x, self.num_actions, self.dueling, self.num_atoms)


class NatureCNNQNetwork(nn.Module):
  """The Nature DQN network for stacked Atari frames ``[84, 84, 4]`` (any side >= 36 works).

      x = obs * input_scale
      conv 32 8x8 stride 4 -> relu -> conv 64 4x4 stride 2 -> relu -> conv 64 3x3 stride 1
      -> relu -> flatten -> dense 512 -> relu -> dense A          (all convolutions VALID)

  Attributes:
    num_actions: ``A >= 1``.
    input_scale: multiplies the float32 input; ``1 / 255`` maps uint8 frames to ``[0, 1]``.
    dueling, num_atoms: the output head (see :func:`make_q_network`).
  """

  num_actions: int
  input_scale: float = 1.0 / 255.0
  dueling: bool = False
  num_atoms: int | None = None

  #: The smallest image side the three VALID convolutions accept.
  min_image_size = 36

  def __post_init__(self):
    validation.check_int(f"{type(self).__name__}.num_actions", self.num_actions, minimum=1)
    _check_q_head(type(self).__name__, self.dueling, self.num_atoms)
    super().__post_init__()

  @nn.compact
  def __call__(self, obs: Array) -> Array:
    """``[..., H, W, C] -> [..., A]``."""
    _check_image(type(self).__name__, obs, self.min_image_size)
    x = jnp.asarray(obs).astype(jnp.float32) * self.input_scale
    x = nn.relu(nn.Conv(32, (8, 8), strides=(4, 4), padding="VALID")(x))
    x = nn.relu(nn.Conv(64, (4, 4), strides=(2, 2), padding="VALID")(x))
    x = nn.relu(nn.Conv(64, (3, 3), strides=(1, 1), padding="VALID")(x))
    x = x.reshape(x.shape[:-3] + (-1,))
    x = nn.relu(nn.Dense(512)(x))
    return _q_output(x, self.num_actions, self.dueling, self.num_atoms)


class ActorCritic(nn.Module):
  """Policy logits and a critic from MLP torsos: ``obs -> (logits [..., A], critic)``.

  The critic is a state value ``V(s)`` ``[...]`` (``critic="v"``, head ``"value_head"``) or the
  action values ``Q(s, .)`` ``[..., A]`` (``critic="q"``, head ``"q_head"``, one output per
  action; with ``dueling=True`` the dueling form ``V(s) + D(s, a) - mean_a' D(s, a')`` of Wang
  et al. 2016, heads ``"value_head"`` and ``"advantage_head"``, so that an action the policy
  rarely takes still shares the state's value level). With ``shared=False`` the actor and the
  critic have separate torsos (no interference between the policy and value gradients); with
  ``shared=True`` one torso feeds both heads. Layers use orthogonal initialization (scale
  ``sqrt(2)`` in the torsos, ``0.01`` on the policy head so the initial policy is near uniform,
  ``1`` on the critic heads) and zero biases, as in PPO/A2C code.

  Continuous actions (``continuous=True``): the policy is a diagonal Gaussian over ``D =
  num_actions`` dimensions, ``obs -> ((mean [..., D], log_std [..., D]), V(s))``; ``mean`` comes
  from ``"policy_head"``, ``log_std`` is one learned vector (``"log_std"``, state-independent,
  initialised to ``log_std_init``) broadcast over the batch
  (:func:`jaxrl.distributions.diag_gaussian`).

  Attributes:
    num_actions: ``A >= 1`` actions (or action dimensions ``D`` when continuous).
    hidden_sizes: widths of the hidden layers of each torso.
    shared: one torso for both heads.
    activation: elementwise nonlinearity.
    observation_ndim: rank of one observation.
    critic: ``"v"`` (``V(s)``, shape ``[...]``) or ``"q"`` (``Q(s, .)``, shape ``[..., A]``).
    dueling: with ``critic="q"``, the dueling parametrisation of ``Q``.
    continuous: a Gaussian policy over real action vectors (``critic="v"`` only).
    log_std_init: the initial ``log sigma`` of the Gaussian.
  """

  num_actions: int
  hidden_sizes: Sequence[int] = (64, 64)
  shared: bool = False
  activation: Callable[[Array], Array] = nn.tanh
  observation_ndim: int = 1
  critic: str = "v"
  dueling: bool = False
  continuous: bool = False
  log_std_init: float = 0.0

  def __post_init__(self):
    validation.check_int(f"{type(self).__name__}.num_actions", self.num_actions, minimum=1)
    validation.check_int(f"{type(self).__name__}.observation_ndim", self.observation_ndim,
                         minimum=1)
    _check_hidden_sizes(type(self).__name__, self.hidden_sizes)
    _check_critic(type(self).__name__, self.critic, self.dueling)
    validation.check_bool(f"{type(self).__name__}.continuous", self.continuous)
    if self.continuous and self.critic != "v":
      raise ValueError(f"{type(self).__name__}: a continuous policy takes critic='v' (an "
                       f"action-value head needs a finite set of actions), got {self.critic!r}.")
    validation.check_number(f"{type(self).__name__}.log_std_init", self.log_std_init)
    super().__post_init__()

  def _torso_names(self, torso: str) -> list[str]:
    return [f"{torso}_{i}" for i in range(len(self.hidden_sizes))]

  def _torso(self, x: Array, torso: str) -> Array:
    for name, size in zip(self._torso_names(torso), self.hidden_sizes):
      dense = nn.Dense(size, kernel_init=orthogonal(np.sqrt(2.0)),
                       bias_init=nn.initializers.zeros, name=name)
      x = self.activation(dense(x))
    return x

  def layer_groups(self) -> dict[str, str]:
    """Each top-level layer's parameter group (:func:`param_labels`): ``"actor"`` for the
    policy's own layers (its torso, unless shared, and ``policy_head``), ``"critic"`` for the
    critic's and for a shared torso."""
    if self.shared:
      groups = {n: "critic" for n in self._torso_names("torso")}
    else:
      groups = {**{n: "actor" for n in self._torso_names("actor")},
                **{n: "critic" for n in self._torso_names("critic")}}
    groups["policy_head"] = "actor"
    if self.continuous:
      groups["log_std"] = "actor"
    groups.update({n: "critic" for n in _critic_head_names(self.critic, self.dueling)})
    return groups

  @nn.compact
  def __call__(self, obs: Array) -> tuple[Array, Array]:
    """``[..., *O] -> (logits [..., A], value [...])``, or ``(logits, q [..., A])`` for ``"q"``."""
    x = _flatten_observation(obs, self.observation_ndim)
    actor = self._torso(x, "torso" if self.shared else "actor")
    critic = actor if self.shared else self._torso(x, "critic")
    logits = nn.Dense(self.num_actions, kernel_init=orthogonal(0.01),
                      bias_init=nn.initializers.zeros, name="policy_head")(actor)
    value = _critic_head(critic, self.critic, self.num_actions, self.dueling)
    if not self.continuous:
      return logits, value
    log_std = self.param("log_std", nn.initializers.constant(self.log_std_init),
                         (self.num_actions,))
    return (logits, jnp.broadcast_to(log_std, logits.shape)), value


#: The kinds :func:`make_q_network` builds.
Q_NETWORK_KINDS = ("linear", "mlp", "cnn", "nature_cnn")


def make_q_network(kind: str, num_actions: int, observation_shape: Sequence[int], *,
                   hidden_sizes: Sequence[int] | None = None, **kwargs) -> nn.Module:
  """Builds a Q-network for observations of ``observation_shape``, validated eagerly.

  Kinds: ``"linear"`` (:class:`LinearQNetwork`), ``"mlp"`` (:class:`MLPQNetwork`), ``"cnn"``
  (:class:`CNNQNetwork`, MinAtar-sized images) and ``"nature_cnn"`` (:class:`NatureCNNQNetwork`,
  Atari frames).

  Args:
    kind: one of :data:`Q_NETWORK_KINDS`.
    num_actions: ``A >= 1``.
    observation_shape: the shape ``O`` of one observation (no batch axis); ``[H, W, C]`` for the
      CNNs.
    hidden_sizes: the MLP's hidden widths (``None``: its default ``(64, 64)``). Used by
      ``"mlp"`` only and ignored by the other kinds, whose architectures are fixed, so one
      agent config can carry it whatever the kind.
    **kwargs: further fields of the module (e.g. ``activation`` for ``"mlp"``), and for every
      kind the output head's: ``dueling=True`` for ``Q = V + A - mean_a A`` (Wang et al., 2016),
      ``num_atoms=K`` for ``K`` values per action, ``[..., A, K]`` (C51's logits, QR-DQN's
      quantiles); both together make the dueling head per atom.

  Returns:
    An unbound flax module; ``net.init(key, jnp.zeros(observation_shape))``.

  Raises:
    ValueError: unknown ``kind`` (the message lists the kinds), ``num_actions < 1``, an
      ``observation_shape`` with non-positive sides, or, for the CNNs, one that is not
      ``[H, W, C]`` or is smaller than the kernels.

  Example:
    >>> net = make_q_network("mlp", num_actions=2, observation_shape=(4,))
    >>> params = net.init(jax.random.key(0), jnp.zeros((4,)))
    >>> net.apply(params, jnp.zeros((32, 4))).shape
    (32, 2)
  """
  if kind not in Q_NETWORK_KINDS:
    raise ValueError(f"unknown Q-network kind {kind!r}; choose one of {', '.join(Q_NETWORK_KINDS)}.")
  num_actions = validation.check_int("make_q_network.num_actions", num_actions, minimum=1)
  shape = _observation_shape(observation_shape)
  if kind == "linear":
    return LinearQNetwork(num_actions=num_actions, observation_ndim=len(shape), **kwargs)
  if kind == "mlp":
    if hidden_sizes is not None:
      kwargs["hidden_sizes"] = tuple(hidden_sizes)
    return MLPQNetwork(num_actions=num_actions, observation_ndim=len(shape), **kwargs)
  cls = CNNQNetwork if kind == "cnn" else NatureCNNQNetwork
  if len(shape) != 3:
    raise ValueError(f"a {kind!r} Q-network needs image observations [H, W, C], got "
                     f"observation_shape {shape}.")
  if min(shape[:2]) < cls.min_image_size:
    raise ValueError(f"a {kind!r} Q-network needs images of at least {cls.min_image_size}x"
                     f"{cls.min_image_size}, got observation_shape {shape}.")
  return cls(num_actions=num_actions, **kwargs)


class CNNActorCritic(nn.Module):
  """Policy logits and a critic for small images ``[..., H, W, C]`` (MinAtar-sized).

      conv 16 3x3 stride 1 (VALID) -> relu -> flatten -> dense hidden -> relu -> (logits, critic)

  The convolution and the dense layer are shared by both heads; heads are initialised as in
  :class:`ActorCritic` (``0.01`` policy, ``1`` critic, orthogonal). The critic is ``V(s)``
  ``[...]`` (``critic="v"``) or ``Q(s, .)`` ``[..., A]`` (``critic="q"``).

  Attributes:
    num_actions: ``A >= 1``.
    features: filters of the convolution.
    hidden_size: width of the dense layer.
    critic: ``"v"`` or ``"q"``.
    dueling: with ``critic="q"``, the dueling parametrisation (see :class:`ActorCritic`).
  """

  num_actions: int
  features: int = 16
  hidden_size: int = 128
  critic: str = "v"
  dueling: bool = False

  min_image_size = 3

  def __post_init__(self):
    validation.check_int(f"{type(self).__name__}.num_actions", self.num_actions, minimum=1)
    validation.check_int(f"{type(self).__name__}.features", self.features, minimum=1)
    validation.check_int(f"{type(self).__name__}.hidden_size", self.hidden_size, minimum=1)
    _check_critic(type(self).__name__, self.critic, self.dueling)
    super().__post_init__()

  @nn.compact
  def __call__(self, obs: Array) -> tuple[Array, Array]:
    """``[..., H, W, C] -> (logits [..., A], value [...])``, or ``(logits, q [..., A])``."""
    _check_image(type(self).__name__, obs, self.min_image_size)
    x = jnp.asarray(obs).astype(jnp.float32)
    x = nn.relu(nn.Conv(self.features, (3, 3), strides=(1, 1), padding="VALID",
                        kernel_init=orthogonal(np.sqrt(2.0)), name="Conv_0")(x))
    x = x.reshape(x.shape[:-3] + (-1,))
    x = nn.relu(nn.Dense(self.hidden_size, kernel_init=orthogonal(np.sqrt(2.0)),
                         name="Dense_0")(x))
    logits = nn.Dense(self.num_actions, kernel_init=orthogonal(0.01),
                      name="policy_head")(x)
    return logits, _critic_head(x, self.critic, self.num_actions, self.dueling)

  def layer_groups(self) -> dict[str, str]:
    """Each top-level layer's parameter group (:func:`param_labels`): the shared convolution
    and dense layer count as ``"critic"``, ``policy_head`` is the ``"actor"``'s."""
    groups = {"Conv_0": "critic", "Dense_0": "critic", "policy_head": "actor"}
    groups.update({n: "critic" for n in _critic_head_names(self.critic, self.dueling)})
    return groups


def param_labels(network: nn.Module, params) -> dict:
  """The tree of ``params`` with every leaf labelled by its layer's group.

  The groups come from the network's own ``layer_groups()`` (``{top-level layer name: group}``,
  declared next to the layers it names), e.g. ``"actor"`` / ``"critic"`` for the actor-critics,
  so per-group optimizers (``optax.multi_transform``) never guess from names.

  Args:
    network: a module with a ``layer_groups()`` method (:class:`ActorCritic`,
      :class:`CNNActorCritic`).
    params: its parameters, ``{"params": {layer: ...}}``.

  Raises:
    ValueError: the network declares no groups, or ``params`` holds a layer it does not name.
  """
  if not hasattr(network, "layer_groups"):
    raise ValueError(f"{type(network).__name__} declares no parameter groups (no layer_groups()).")
  groups = network.layer_groups()
  layers = params["params"] if "params" in params else params
  unknown = sorted(set(layers) - set(groups))
  if unknown:
    raise ValueError(f"{type(network).__name__}.layer_groups() does not name the layer(s) "
                     f"{unknown}; it names {sorted(groups)}.")
  labelled = {name: jax.tree.map(lambda _, g=groups[name]: g, sub) for name, sub in layers.items()}
  return {"params": labelled} if "params" in params else labelled


#: The kinds :func:`make_actor_critic` builds.
ACTOR_CRITIC_KINDS = ("mlp", "cnn")


def make_actor_critic(kind: str, num_actions: int, observation_shape: Sequence[int], *,
                      hidden_sizes: Sequence[int] = (64, 64), shared: bool = False,
                      critic: str = "v", dueling: bool = False, continuous: bool = False,
                      log_std_init: float = 0.0, **kwargs) -> nn.Module:
  """Builds an actor-critic ``obs -> (logits [..., A], critic)``, validated eagerly.

  Kinds: ``"mlp"`` (:class:`ActorCritic`, any observation, flattened) and ``"cnn"``
  (:class:`CNNActorCritic`, images ``[H, W, C]``). The critic is ``V(s)`` ``[...]``
  (``critic="v"``, parameters under ``"value_head"``) or ``Q(s, .)`` ``[..., A]``
  (``critic="q"``, under ``"q_head"``).

  Args:
    kind: one of :data:`ACTOR_CRITIC_KINDS`.
    num_actions: ``A >= 1``.
    observation_shape: the shape ``O`` of one observation (no batch axis).
    hidden_sizes: the MLP torsos' widths (``"mlp"`` only).
    shared: one torso for both heads (``"mlp"`` only; the CNN always shares).
    critic: one of :data:`ACTOR_CRITIC_CRITICS`.
    dueling: with ``critic="q"``, ``Q(s, a) = V(s) + D(s, a) - mean_a' D(s, a')``.
    continuous: a Gaussian policy over ``num_actions`` real dimensions (``"mlp"`` only):
      ``obs -> ((mean, log_std), V(s))``.
    log_std_init: its initial ``log sigma``.
    **kwargs: further fields of the module.

  Raises:
    ValueError: unknown kind or critic, ``dueling`` without ``critic="q"``, ``num_actions < 1``,
      a bad shape, or a CNN given a non-image.

  Example:
    >>> net = make_actor_critic("mlp", 3, (4,), critic="q")
    >>> params = net.init(jax.random.key(0), jnp.zeros((4,)))
    >>> [x.shape for x in net.apply(params, jnp.zeros((8, 4)))]
    [(8, 3), (8, 3)]
  """
  _check_critic("make_actor_critic", critic, dueling)
  if kind not in ACTOR_CRITIC_KINDS:
    raise ValueError(f"unknown actor-critic kind {kind!r}; choose one of "
                     f"{', '.join(ACTOR_CRITIC_KINDS)}.")
  num_actions = validation.check_int("make_actor_critic.num_actions", num_actions, minimum=1)
  shape = _observation_shape(observation_shape)
  if kind == "mlp":
    if continuous:
      kwargs.update(continuous=True, log_std_init=log_std_init)
    return ActorCritic(num_actions=num_actions, hidden_sizes=tuple(hidden_sizes), shared=shared,
                       observation_ndim=len(shape), critic=critic, dueling=dueling, **kwargs)
  if continuous:
    raise ValueError("a 'cnn' actor-critic takes discrete actions; use kind='mlp' for a "
                     "continuous (Gaussian) policy.")
  if len(shape) != 3 or min(shape[:2]) < CNNActorCritic.min_image_size:
    raise ValueError(f"a 'cnn' actor-critic needs image observations [H, W, C] of at least "
                     f"{CNNActorCritic.min_image_size}x{CNNActorCritic.min_image_size}, got "
                     f"observation_shape {shape}.")
  return CNNActorCritic(num_actions=num_actions, critic=critic, dueling=dueling, **kwargs)


class NormalizedParams(NamedTuple):
  """The parameters of a :class:`NormalizedInput` network: the inner network's and the
  observation statistics it standardises its input with.

  Attributes:
    network: the inner network's variables (what an optimizer updates: :func:`trainable`).
    obs_stats: :class:`~jaxrl.normalization.RunningStats` ``[*O]`` of the observations seen.
  """

  network: Any
  obs_stats: normalization.RunningStats


@dataclasses.dataclass(frozen=True)
class NormalizedInput:
  """A network behind an observation normaliser whose statistics travel with its parameters.

      apply(params, obs) = network.apply(params.network, clip((obs - mean) / sqrt(var + eps)))

  Brax's PPO keeps ``(normalizer_params, policy_params)`` together the same way: whatever holds
  the parameters (a training state, a checkpoint, the greedy evaluation) holds the statistics,
  so rollout, update and evaluation standardise identically, and ``apply`` takes raw
  observations. The statistics change only by :meth:`observe` (pure); gradients do not reach
  them (:func:`jaxrl.normalization.standardize` stops them).

  Attributes:
    network: the inner module (``init``/``apply``), fed the standardised observations.
    clip: the bound of the standardised values (None: unbounded).
    epsilon: added to the variance.
  """

  network: Any
  clip: float | None = 10.0
  epsilon: float = 1e-8

  def init(self, key, obs: Array) -> NormalizedParams:
    """The inner network's ``init(key, obs)`` and no observation seen (the identity, clipped)."""
    return NormalizedParams(self.network.init(key, obs),
                            normalization.init_stats(jnp.shape(obs)))

  def apply(self, params: NormalizedParams, obs: Array, *args, **kwargs):
    """The inner network on ``obs [..., *O]`` standardised by ``params.obs_stats``."""
    x = normalization.standardize(params.obs_stats, obs, epsilon=self.epsilon, clip=self.clip)
    return self.network.apply(params.network, x, *args, **kwargs)

  def observe(self, params: NormalizedParams, obs: Array, *, batch_dims: int = 1
              ) -> NormalizedParams:
    """``params`` with the observations ``obs [*B, *O]`` (``B``: ``batch_dims`` axes) merged
    into the statistics (:func:`jaxrl.normalization.update_stats`)."""
    return params._replace(obs_stats=normalization.update_stats(params.obs_stats, obs,
                                                                batch_dims=batch_dims))


def trainable(params: Any) -> Any:
  """What an optimizer updates: ``params.network`` of :class:`NormalizedParams`, else
  ``params``."""
  return params.network if isinstance(params, NormalizedParams) else params


def replace_trainable(params: Any, new: Any) -> Any:
  """``params`` with :func:`trainable`'s part replaced by ``new``."""
  return params._replace(network=new) if isinstance(params, NormalizedParams) else new


# ------------------------------------------------------------------------------------------------
# Off-policy continuous control (SAC, TD3): policies over [-1, 1]^D and critics Q(s, a)
# ------------------------------------------------------------------------------------------------
#: The hidden-layer nonlinearities the continuous-control networks take, by name.
ACTIVATIONS: dict[str, Callable[[Array], Array]] = {"relu": nn.relu, "tanh": nn.tanh,
                                                    "swish": nn.swish}


def _check_activation(owner: str, activation) -> None:
  if activation not in ACTIVATIONS:
    raise ValueError(f"{owner}.activation must be one of {tuple(ACTIVATIONS)}, got "
                     f"{activation!r}.")


def _mlp(x: Array, hidden_sizes: Sequence[int], activation: str, prefix: str) -> Array:
  for i, size in enumerate(hidden_sizes):
    x = ACTIVATIONS[activation](nn.Dense(size, name=f"{prefix}_{i}")(x))
  return x


class _ContinuousModule(nn.Module):
  """Shared checks of the continuous-control modules."""

  def _check(self, *, action_dim: bool = True):
    owner = type(self).__name__
    if action_dim:
      validation.check_int(f"{owner}.action_dim", self.action_dim, minimum=1)
    validation.check_int(f"{owner}.observation_ndim", self.observation_ndim, minimum=1)
    _check_hidden_sizes(owner, self.hidden_sizes)
    _check_activation(owner, self.activation)


class SquashedGaussianPolicy(_ContinuousModule):
  """SAC's actor: ``obs -> (mean [..., D], log_std [..., D])`` of the Gaussian over ``u``
  whose squash ``tanh(u)`` is the action (Haarnoja et al. 2018).

  The scale depends on the state, bounded smoothly (as CleanRL's SAC):

      log_std = log_std_min + (log_std_max - log_std_min) (tanh(x) + 1) / 2

  Pair it with :func:`jaxrl.distributions.tanh_gaussian` for the density of the squashed
  action; the action in ``[-1, 1]^D`` is ``tanh(u)``.

  Attributes:
    action_dim: ``D >= 1``.
    hidden_sizes: widths of the torso's hidden layers.
    activation: a name in :data:`ACTIVATIONS`.
    observation_ndim: rank of one observation.
    log_std_min, log_std_max: the bounds of ``log sigma``.
  """

  action_dim: int
  hidden_sizes: Sequence[int] = (256, 256)
  activation: str = "relu"
  observation_ndim: int = 1
  log_std_min: float = -5.0
  log_std_max: float = 2.0

  def __post_init__(self):
    self._check()
    if not self.log_std_min < self.log_std_max:
      raise ValueError(f"SquashedGaussianPolicy: log_std_min ({self.log_std_min}) must be below "
                       f"log_std_max ({self.log_std_max}).")
    super().__post_init__()

  @nn.compact
  def __call__(self, obs: Array) -> tuple[Array, Array]:
    """``[..., *O] -> (mean [..., D], log_std [..., D])``."""
    x = _mlp(_flatten_observation(obs, self.observation_ndim), self.hidden_sizes,
             self.activation, "torso")
    mean = nn.Dense(self.action_dim, name="mean_head")(x)
    raw = nn.Dense(self.action_dim, name="log_std_head")(x)
    log_std = self.log_std_min + 0.5 * (self.log_std_max - self.log_std_min) * (jnp.tanh(raw) + 1)
    return mean, log_std


class DeterministicPolicy(_ContinuousModule):
  """TD3's and DDPG's actor: ``obs -> tanh(W h + b)`` ``[..., D]``, an action in ``[-1, 1]^D``
  (rescaled to the bounds by the agent).

  Attributes:
    action_dim: ``D >= 1``.
    hidden_sizes: widths of the hidden layers.
    activation: a name in :data:`ACTIVATIONS`.
    observation_ndim: rank of one observation.
  """

  action_dim: int
  hidden_sizes: Sequence[int] = (256, 256)
  activation: str = "relu"
  observation_ndim: int = 1

  def __post_init__(self):
    self._check()
    super().__post_init__()

  @nn.compact
  def __call__(self, obs: Array) -> Array:
    """``[..., *O] -> [..., D]`` in ``[-1, 1]``."""
    x = _mlp(_flatten_observation(obs, self.observation_ndim), self.hidden_sizes,
             self.activation, "torso")
    return jnp.tanh(nn.Dense(self.action_dim, name="action_head")(x))


class ContinuousQNetwork(_ContinuousModule):
  """An ensemble of ``N`` critics ``Q_i(s, a)`` of continuous actions, evaluated at once:
  ``(obs [..., *O], action [..., D]) -> [N, ...]``.

  Each critic is an MLP on ``concat(flat(s), a)`` with its own parameters (a leading ``[N]`` on
  every parameter leaf: one batched matrix product per layer, not ``N`` calls). ``N = 2`` is
  the twin critics of TD3 and SAC (Fujimoto et al. 2018), whose minimum is the target;
  ``N = 1`` is DDPG's single critic.

  Attributes:
    num_critics: ``N >= 1``.
    hidden_sizes: widths of each critic's hidden layers.
    activation: a name in :data:`ACTIVATIONS`.
    observation_ndim: rank of one observation.
  """

  num_critics: int = 2
  hidden_sizes: Sequence[int] = (256, 256)
  activation: str = "relu"
  observation_ndim: int = 1

  def __post_init__(self):
    self._check(action_dim=False)
    validation.check_int("ContinuousQNetwork.num_critics", self.num_critics, minimum=1)
    super().__post_init__()

  @nn.compact
  def __call__(self, obs: Array, action: Array) -> Array:
    """``[..., *O], [..., D] -> [N, ...]``."""
    x = jnp.concatenate([_flatten_observation(obs, self.observation_ndim),
                         jnp.asarray(action, jnp.float32)], axis=-1)
    ensemble = nn.vmap(_QHead, variable_axes={"params": 0}, split_rngs={"params": True},
                       in_axes=None, out_axes=0, axis_size=self.num_critics)
    return ensemble(tuple(self.hidden_sizes), self.activation, name="critics")(x)


class _QHead(nn.Module):
  """One critic of :class:`ContinuousQNetwork`: ``x [..., F] -> [...]``."""

  hidden_sizes: tuple
  activation: str

  @nn.compact
  def __call__(self, x: Array) -> Array:
    return nn.Dense(1, name="q_head")(_mlp(x, self.hidden_sizes, self.activation, "torso"))[..., 0]


# ---------------------------------------------------------------------------------------------
# Recurrent networks (memory for partially observed tasks)
# ---------------------------------------------------------------------------------------------
#: The memory cells a recurrent network can use (:class:`GRUCell`, flax's ``OptimizedLSTMCell``).
RECURRENT_CELLS = ("gru", "lstm")


class GRUCell(nn.Module):
  """A GRU (Cho et al., 2014, with flax's ``GRUCell`` equations) whose input projection is one
  matrix, so a sequence's inputs are projected in one batched product outside the recurrence:

      [x_r, x_z, x_n] = x W_i + b_i                               (:meth:`project`)
      r = sigmoid(x_r + h W_hr),  z = sigmoid(x_z + h W_hz)
      n = tanh(x_n + r * (h W_hn + b_hn))
      h' = (1 - z) * n + z * h                                     (:meth:`recur`)

  Parameters: ``input_kernel`` ``[D, 3M]`` (lecun normal), ``input_bias`` ``[3M]`` (zeros),
  ``recurrent_kernel`` ``[M, 3M]`` (three orthogonal ``[M, M]`` blocks) and ``recurrent_bias``
  ``[M]`` (zeros). Only ``h W_h`` stays inside a ``lax.scan`` over time.

  Attributes:
    features: ``M``.
  """

  features: int

  def setup(self):
    m = self.features
    self.recurrent_kernel = self.param(
        "recurrent_kernel",
        lambda key, shape: jnp.concatenate(
            [orthogonal()(k, (m, m)) for k in jax.random.split(key, 3)], axis=1), (m, 3 * m))
    self.recurrent_bias = self.param("recurrent_bias", nn.initializers.zeros, (m,))
    self.input_layer = nn.Dense(3 * m, kernel_init=nn.initializers.lecun_normal(),
                                bias_init=nn.initializers.zeros, name="input")

  def project(self, x: Array) -> Array:
    """``[..., D] -> [..., 3M]``: the input's share of the three gates."""
    return self.input_layer(x)

  def recur(self, h: Array, xi: Array) -> Array:
    """``(h [..., M], project(x) [..., 3M]) -> h' [..., M]``."""
    m = self.features
    hh = h @ self.recurrent_kernel
    r = nn.sigmoid(xi[..., :m] + hh[..., :m])
    z = nn.sigmoid(xi[..., m:2 * m] + hh[..., m:2 * m])
    n = jnp.tanh(xi[..., 2 * m:] + r * (hh[..., 2 * m:] + self.recurrent_bias))
    return (1.0 - z) * n + z * h


class RecurrentNetwork(nn.Module):
  """A recurrent torso with an actor-critic or a Q head, one step at a time:

      x_t = MLP(flat(obs_t))                                    "embed_i" (``hidden_sizes``)
      h_{t-1} <- initial carry  where start_t                   (an episode starts at obs_t)
      h_t, y_t = cell(h_{t-1}, x_t)                             "cell" (:class:`GRUCell` or
                                                                flax's OptimizedLSTMCell)
      head "actor_critic":  (logits [..., A], V [...])  from   "actor_0" -> "policy_head",
                                                               "critic_0" -> "value_head"
      head "q":             Q [..., A]                         "q_head"

  ``apply(params, carry, obs, start) -> (carry, out)`` takes any batch shape ``[...]``
  (``obs [..., *O]``, ``start`` bool ``[...]``, ``carry`` as :meth:`initial_carry` of that
  shape). The carry is an explicit pytree (GRU: ``h [..., M]``; LSTM: ``(c, h)``), and it is set
  back to the initial carry (zeros) wherever ``start`` is true: the step that follows a
  termination or a truncation, in a rollout and in its replay alike. :func:`unroll` runs a
  sequence ``[T, ...]`` (the embedding and the heads as one batched pass each, the cell as a
  ``lax.scan``).

  Continuous actions (``continuous=True``, head ``"actor_critic"``): the policy output is
  ``(mean [..., D], log_std [..., D])`` with one learned ``log_std`` vector, as
  :class:`ActorCritic`.

  Attributes:
    num_actions: ``A >= 1`` (action dimensions when continuous).
    cell: one of :data:`RECURRENT_CELLS`.
    memory_size: the cell's width ``M`` (also the width of each head's hidden layer).
    hidden_sizes: the embedding MLP's widths (may be empty).
    head: ``"actor_critic"`` or ``"q"``.
    layer_norm: LayerNorm before each embedding activation (PQN's).
    observation_ndim: rank of one observation.
    continuous, log_std_init: a Gaussian policy (actor-critic head only).
  """

  num_actions: int
  cell: str = "gru"
  memory_size: int = 128
  hidden_sizes: Sequence[int] = (128,)
  head: str = "actor_critic"
  layer_norm: bool = False
  observation_ndim: int = 1
  continuous: bool = False
  log_std_init: float = 0.0

  def __post_init__(self):
    owner = type(self).__name__
    validation.check_int(f"{owner}.num_actions", self.num_actions, minimum=1)
    validation.check_int(f"{owner}.memory_size", self.memory_size, minimum=1)
    validation.check_int(f"{owner}.observation_ndim", self.observation_ndim, minimum=1)
    _check_hidden_sizes(owner, self.hidden_sizes)
    if self.cell not in RECURRENT_CELLS:
      raise ValueError(f"{owner}.cell must be one of {RECURRENT_CELLS}, got {self.cell!r}.")
    if self.head not in ("actor_critic", "q"):
      raise ValueError(f"{owner}.head must be 'actor_critic' or 'q', got {self.head!r}.")
    if self.continuous and self.head != "actor_critic":
      raise ValueError(f"{owner}: a continuous policy needs head='actor_critic'.")
    super().__post_init__()

  def initial_carry(self, batch_shape: Sequence[int] = ()) -> Any:
    """The carry at an episode's start (zeros) for a batch of shape ``batch_shape``."""
    zeros = jnp.zeros(tuple(batch_shape) + (self.memory_size,), jnp.float32)
    return zeros if self.cell == "gru" else (zeros, zeros)

  def setup(self):
    dense = functools.partial(nn.Dense, kernel_init=orthogonal(np.sqrt(2.0)),
                              bias_init=nn.initializers.zeros)
    self.embed_layers = [dense(size, name=f"embed_{i}") for i, size in enumerate(self.hidden_sizes)]
    self.embed_norms = ([nn.LayerNorm(name=f"embed_norm_{i}") for i in range(len(self.hidden_sizes))]
                        if self.layer_norm else [])
    if self.cell == "gru":
      self.core = GRUCell(features=self.memory_size, name="cell")
    else:
      self.core = nn.OptimizedLSTMCell(features=self.memory_size,
                                       recurrent_kernel_init=orthogonal(), name="cell")
    if self.head == "q":
      self.q_head = nn.Dense(self.num_actions, name="q_head")
    else:
      self.actor_hidden = dense(self.memory_size, name="actor_0")
      self.critic_hidden = dense(self.memory_size, name="critic_0")
      self.policy_head = nn.Dense(self.num_actions, kernel_init=orthogonal(0.01),
                                  bias_init=nn.initializers.zeros, name="policy_head")
      self.value_head = nn.Dense(1, kernel_init=orthogonal(1.0), bias_init=nn.initializers.zeros,
                                 name="value_head")
      if self.continuous:
        self.log_std = self.param("log_std", nn.initializers.constant(self.log_std_init),
                                  (self.num_actions,))

  def embed(self, obs: Array) -> Array:
    """``[..., *O] -> [..., I]``: the cell's input (the embedding MLP's output; for the GRU
    also its input projection, :meth:`GRUCell.project`), computed for a whole sequence at
    once by :func:`unroll`."""
    x = _flatten_observation(obs, self.observation_ndim)
    for i, layer in enumerate(self.embed_layers):
      x = layer(x)
      if self.layer_norm:
        x = self.embed_norms[i](x)
      x = nn.relu(x)
    return self.core.project(x) if self.cell == "gru" else x

  def step(self, carry: Any, x: Array, start: Array) -> tuple[Any, Array]:
    """One recurrent step on :meth:`embed` 's output, the carry reset where ``start``:
    ``(carry, x, start) -> (carry, y)``."""
    start = jnp.asarray(start)
    carry = jax.tree.map(lambda c: jnp.where(start[..., None], jnp.zeros_like(c), c), carry)
    if self.cell == "gru":
      h = self.core.recur(carry, x)
      return h, h
    return self.core(carry, x)

  def heads(self, y: Array) -> Any:
    """The cell's output ``[..., M]`` -> ``(pi, V)`` or ``Q``."""
    if self.head == "q":
      return self.q_head(y)
    logits = self.policy_head(nn.relu(self.actor_hidden(y)))
    value = self.value_head(nn.relu(self.critic_hidden(y)))[..., 0]
    if self.continuous:
      return (logits, jnp.broadcast_to(self.log_std, logits.shape)), value
    return logits, value

  def __call__(self, carry: Any, obs: Array, start: Array) -> tuple[Any, Any]:
    """``(carry, obs [..., *O], start [...]) -> (carry, out)``, one step."""
    carry, y = self.step(carry, self.embed(obs), start)
    return carry, self.heads(y)

  def layer_groups(self) -> dict[str, str]:
    """Parameter groups (:func:`param_labels`): the shared torso and the critic's layers are
    ``"critic"``, the policy's ``"actor"``."""
    groups = {f"embed_{i}": "critic" for i in range(len(self.hidden_sizes))}
    groups.update({f"embed_norm_{i}": "critic" for i in range(len(self.hidden_sizes))
                   if self.layer_norm})
    groups["cell"] = "critic"
    if self.head == "q":
      groups["q_head"] = "critic"
    else:
      groups.update(actor_0="actor", policy_head="actor", critic_0="critic", value_head="critic")
      if self.continuous:
        groups["log_std"] = "actor"
    return groups


def unroll(network: RecurrentNetwork, params: Any, carry: Any, obs: Array,
           start: Array) -> tuple[Any, Any]:
  """Runs a :class:`RecurrentNetwork` over a sequence: ``obs [T, ..., *O]``, ``start`` bool
  ``[T, ...]`` from ``carry`` (the carry before step 0) -> ``(carry after step T-1, out [T,
  ...])``. Equal to ``T`` calls of ``network.apply`` (the embedding and the heads are one
  batched pass each; only the cell is a ``lax.scan``)."""
  x = network.apply(params, obs, method="embed")

  def cell(c, inputs):
    return network.apply(params, c, *inputs, method="step")

  carry, y = jax.lax.scan(cell, carry, (x, start))
  return carry, network.apply(params, y, method="heads")


def unroll_sequences(network: RecurrentNetwork, params: Any, carry: Any, obs: Array,
                     start: Array) -> Any:
  """:func:`unroll` over environment-major sequences, as agents keep them for minibatches that
  split environments: ``obs [E, T, *O]``, ``start`` bool ``[E, T]``, ``carry [E, ...]`` (the
  carry before step 0) -> the outputs flattened environment-major to ``[E * T, ...]`` (the
  order of ``x.reshape(E * T, ...)`` for any ``[E, T, ...]`` field)."""
  time_major = lambda x: jnp.swapaxes(x, 0, 1)  # noqa: E731
  _, out = unroll(network, params, carry, time_major(obs), time_major(start))
  return jax.tree.map(lambda x: time_major(x).reshape((-1,) + x.shape[2:]), out)


def make_recurrent_network(cell: str, num_actions: int, observation_shape: Sequence[int], *,
                           head: str = "actor_critic", memory_size: int = 128,
                           hidden_sizes: Sequence[int] = (128,), **kwargs) -> RecurrentNetwork:
  """A :class:`RecurrentNetwork` for observations of ``observation_shape`` (any rank; flattened),
  validated eagerly.

  Example:
    >>> net = make_recurrent_network("gru", 2, (3,), memory_size=8, hidden_sizes=(8,))
    >>> carry = net.initial_carry((4,))
    >>> params = net.init(jax.random.key(0), carry, jnp.zeros((4, 3)), jnp.zeros(4, bool))
    >>> carry, (logits, value) = net.apply(params, carry, jnp.ones((4, 3)), jnp.zeros(4, bool))
    >>> carry.shape, logits.shape, value.shape
    ((4, 8), (4, 2), (4,))
  """
  shape = _observation_shape(observation_shape)
  return RecurrentNetwork(num_actions=num_actions, cell=cell, memory_size=memory_size,
                          hidden_sizes=tuple(hidden_sizes), head=head,
                          observation_ndim=len(shape), **kwargs)
