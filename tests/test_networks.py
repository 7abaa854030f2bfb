"""Networks: output shapes (single and batched), the linear Q-function exactly, determinism, errors."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import networks
from jaxrl.networks import ActorCritic
from jaxrl.networks import CNNQNetwork
from jaxrl.networks import LinearQNetwork
from jaxrl.networks import MLPQNetwork
from jaxrl.networks import NatureCNNQNetwork
from jaxrl.networks import Q_NETWORK_KINDS
from jaxrl.networks import make_q_network

KEY = jax.random.key(0)


def test_public_names():
  assert set(networks.__all__) == {"ActorCritic", "CNNQNetwork", "LinearQNetwork", "MLPQNetwork",
                                   "NatureCNNQNetwork", "Q_NETWORK_KINDS", "make_q_network",
                                   "ACTOR_CRITIC_KINDS", "CNNActorCritic", "make_actor_critic",
                                   "ACTOR_CRITIC_CRITICS", "orthogonal", "param_labels",
                                   "NormalizedInput", "NormalizedParams", "trainable",
                                   "replace_trainable", "ACTIVATIONS", "ContinuousQNetwork",
                                   "DeterministicPolicy", "SquashedGaussianPolicy",
                                       "GRUCell", "RECURRENT_CELLS", "RecurrentNetwork",
                                       "make_recurrent_network", "unroll", "unroll_sequences"}
  assert networks.ACTOR_CRITIC_CRITICS == ("v", "q")
  assert Q_NETWORK_KINDS == ("linear", "mlp", "cnn", "nature_cnn")


def _random_params(net, shape, seed=0):
  """Parameters of the right shapes drawn with numpy: no XLA compile of the (costly) init."""
  rng = np.random.default_rng(seed)
  shapes = jax.eval_shape(net.init, KEY, jnp.zeros(shape))
  return jax.tree.map(
      lambda s: jnp.asarray(rng.normal(size=s.shape) / np.sqrt(max(s.shape[0], 1)), s.dtype),
      shapes)


@pytest.mark.parametrize("kind,shape", [
    ("linear", (4,)),
    ("linear", (3, 2)),
    ("mlp", (4,)),
    ("mlp", (5, 5, 2)),
    ("cnn", (10, 10, 4)),
    ("nature_cnn", (84, 84, 4)),
])
def test_q_network_shapes_single_and_batched(kind, shape):
  net = make_q_network(kind, num_actions=3, observation_shape=shape)
  params = _random_params(net, shape)

  @jax.jit
  def outputs(params, obs):      # obs [2, 3, *O]
    return net.apply(params, obs[0, 0]), net.apply(params, obs[0]), net.apply(params, obs)

  obs = jax.random.uniform(jax.random.key(1), (2, 3) + shape)
  single, batch, batch2 = outputs(params, obs)
  assert single.shape == (3,) and batch.shape == (3, 3) and batch2.shape == (2, 3, 3)
  # a batch gives the same values as its rows one at a time
  np.testing.assert_allclose(batch[0], single, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(batch2[0], batch, rtol=1e-5, atol=1e-6)


def test_integer_and_bool_observations_are_cast():
  net = make_q_network("cnn", 3, (10, 10, 4))
  params = _random_params(net, (10, 10, 4))
  obs = jnp.zeros((10, 10, 4), jnp.bool_).at[4, 5, 1].set(True)
  q = net.apply(params, obs)
  assert q.dtype == jnp.float32
  np.testing.assert_allclose(q, net.apply(params, obs.astype(jnp.float32)), rtol=1e-6)
  nature = make_q_network("nature_cnn", 3, (84, 84, 4))
  p = _random_params(nature, (84, 84, 4))
  apply = jax.jit(nature.apply)
  np.testing.assert_allclose(apply(p, jnp.full((84, 84, 4), 255, jnp.uint8)),
                             apply(p, jnp.full((84, 84, 4), 255.0)), rtol=1e-5)


def test_linear_q_network_is_exactly_w_transpose_s_plus_b():
  net = LinearQNetwork(num_actions=3)
  params = net.init(KEY, jnp.zeros(4))
  w = np.asarray(params["params"]["Dense_0"]["kernel"])      # [D, A]; column a is W_a
  params = jax.tree.map(lambda x: x + 0.1, params)            # nonzero bias too
  w = np.asarray(params["params"]["Dense_0"]["kernel"])
  b = np.asarray(params["params"]["Dense_0"]["bias"])
  assert w.shape == (4, 3) and b.shape == (3,)
  s = np.array([1.0, -2.0, 0.5, 3.0], np.float32)
  q = np.asarray(net.apply(params, jnp.asarray(s)))
  for a in range(3):
    np.testing.assert_allclose(q[a], w[:, a] @ s + b[a], rtol=1e-6)
  # flattening: an observation [2, 2] is the vector of its entries
  net2 = make_q_network("linear", 3, (2, 2))
  np.testing.assert_allclose(net2.apply(params, jnp.asarray(s).reshape(2, 2)), q, rtol=1e-6)


def test_mlp_structure_and_activation():
  net = MLPQNetwork(num_actions=2, hidden_sizes=(8, 5, 3), activation=nn.tanh)
  params = jax.eval_shape(net.init, KEY, jnp.zeros(4))["params"]    # shapes only
  assert [params[f"Dense_{i}"]["kernel"].shape for i in range(4)] == [(4, 8), (8, 5), (5, 3),
                                                                      (3, 2)]
  linear = MLPQNetwork(num_actions=2, hidden_sizes=())
  assert list(jax.eval_shape(linear.init, KEY, jnp.zeros(4))["params"]) == ["Dense_0"]
  custom = make_q_network("mlp", 2, (4,), hidden_sizes=[16], activation=nn.tanh)
  assert custom.hidden_sizes == (16,) and custom.activation is nn.tanh
  assert jax.eval_shape(custom.init, KEY, jnp.zeros(4))["params"]["Dense_0"]["kernel"].shape == (
      4, 16)


@pytest.mark.parametrize("kind,shape,cls", [("linear", (4,), LinearQNetwork),
                                            ("cnn", (10, 10, 4), CNNQNetwork),
                                            ("nature_cnn", (84, 84, 4), NatureCNNQNetwork)])
def test_hidden_sizes_is_ignored_by_fixed_architectures(kind, shape, cls):
  """An agent config may pass hidden_sizes whatever the kind; only the MLP uses it."""
  net = make_q_network(kind, 2, shape, hidden_sizes=(64, 64))
  assert type(net) is cls
  assert net == make_q_network(kind, 2, shape)


def test_cnn_architectures():
  minatar = jax.eval_shape(CNNQNetwork(3).init, KEY, jnp.zeros((10, 10, 4)))["params"]
  assert minatar["Conv_0"]["kernel"].shape == (3, 3, 4, 16)
  assert minatar["Dense_0"]["kernel"].shape == (8 * 8 * 16, 128)    # VALID: 10 -> 8
  assert minatar["Dense_1"]["kernel"].shape == (128, 3)
  nature = jax.eval_shape(NatureCNNQNetwork(3).init, KEY, jnp.zeros((84, 84, 4)))["params"]
  assert nature["Conv_0"]["kernel"].shape == (8, 8, 4, 32)
  assert nature["Conv_1"]["kernel"].shape == (4, 4, 32, 64)
  assert nature["Conv_2"]["kernel"].shape == (3, 3, 64, 64)
  assert nature["Dense_0"]["kernel"].shape == (7 * 7 * 64, 512)    # 84 -> 20 -> 9 -> 7
  assert nature["Dense_1"]["kernel"].shape == (512, 3)
  # the smallest images accepted (shapes only: no compile)
  small = jax.eval_shape(lambda: CNNQNetwork(2).init_with_output(KEY, jnp.zeros((3, 3, 1)))[0])
  assert small.shape == (2,)
  small = jax.eval_shape(
      lambda: NatureCNNQNetwork(2).init_with_output(KEY, jnp.zeros((36, 36, 1)))[0])
  assert small.shape == (2,)


@pytest.mark.parametrize("kind,shape", [("linear", (4,)), ("mlp", (4,)), ("cnn", (10, 10, 4))])
def test_init_is_deterministic_given_a_key(kind, shape):
  init = jax.jit(make_q_network(kind, 3, shape).init)
  a = init(jax.random.key(7), jnp.zeros(shape))
  b = init(jax.random.key(7), jnp.zeros(shape))
  c = init(jax.random.key(8), jnp.zeros(shape))
  jax.tree.map(np.testing.assert_array_equal, a, b)
  assert not np.array_equal(a["params"]["Dense_0"]["kernel"], c["params"]["Dense_0"]["kernel"])


def test_vmapped_init_one_network_per_seed():
  net = make_q_network("linear", 2, (4,))

  @jax.jit
  def run(keys):
    params = jax.vmap(net.init, in_axes=(0, None))(keys, jnp.zeros(4))
    single = net.init(keys[1], jnp.zeros(4))
    return jax.vmap(net.apply, in_axes=(0, None))(params, jnp.ones(4)), net.apply(single, jnp.ones(4))

  q, q_single = run(jax.random.split(KEY, 3))
  assert q.shape == (3, 2)
  np.testing.assert_allclose(q[1], q_single, rtol=1e-6)


@pytest.mark.parametrize("shared,names", [
    (False, {"actor_0", "actor_1", "critic_0", "critic_1", "policy_head", "value_head"}),
    (True, {"torso_0", "torso_1", "policy_head", "value_head"}),
])
def test_actor_critic_layers(shared, names):
  net = ActorCritic(num_actions=3, hidden_sizes=(16, 16), shared=shared)
  params = jax.eval_shape(net.init, KEY, jnp.zeros(5))["params"]
  assert set(params) == names
  assert params["policy_head"]["kernel"].shape == (16, 3)
  assert params["value_head"]["kernel"].shape == (16, 1)


def test_actor_critic_outputs():
  net = ActorCritic(num_actions=3, hidden_sizes=(8,))
  obs = jax.random.normal(KEY, (4, 2, 5))

  @jax.jit
  def run(key, obs):
    params = net.init(key, obs[0, 0])
    return net.apply(params, obs[0, 0]), net.apply(params, obs)

  (logits, value), (logits_b, value_b) = run(KEY, obs)
  assert logits.shape == (3,) and value.shape == ()
  assert logits_b.shape == (4, 2, 3) and value_b.shape == (4, 2)
  np.testing.assert_allclose(logits_b[0, 0], logits, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(value_b[0, 0], value, rtol=1e-5, atol=1e-6)
  # small policy-head init: the initial policy is close to uniform
  np.testing.assert_allclose(jax.nn.softmax(logits), 1 / 3, atol=0.02)


@pytest.mark.parametrize("shared,names", [
    (False, {"actor_0", "critic_0", "policy_head", "q_head"}),
    (True, {"torso_0", "policy_head", "q_head"}),
])
def test_actor_critic_with_a_q_critic(shared, names):
  # critic="q": one output per action under "q_head", Q(s, .) [..., A]
  net = networks.make_actor_critic("mlp", 3, (5,), hidden_sizes=(16,), shared=shared, critic="q")
  params = jax.eval_shape(net.init, KEY, jnp.zeros(5))
  assert set(params["params"]) == names
  assert params["params"]["q_head"]["kernel"].shape == (16, 3)
  logits, q = jax.eval_shape(net.apply, params, jnp.zeros((4, 2, 5)))
  assert logits.shape == (4, 2, 3) and q.shape == (4, 2, 3)
  # one action: Q keeps its action axis (unlike V)
  net = networks.make_actor_critic("mlp", 1, (5,), critic="q")
  _, q = jax.eval_shape(lambda: net.init_with_output(KEY, jnp.zeros((7, 5)))[0])
  assert q.shape == (7, 1)


@pytest.mark.parametrize("kind, shape", [("mlp", (5,)), ("cnn", (10, 10, 4))])
def test_dueling_q_critic(kind, shape):
  # Q(s, a) = V(s) + D(s, a) - mean_a D(s, .): the mean of Q over actions is V(s)
  net = networks.make_actor_critic(kind, 3, shape, critic="q", dueling=True)
  obs = jax.random.normal(KEY, (4,) + shape)
  params = jax.jit(net.init)(KEY, obs[0])
  assert {"value_head", "advantage_head"} <= set(params["params"])
  assert "q_head" not in params["params"]
  _, q = jax.jit(net.apply)(params, obs)
  assert q.shape == (4, 3)
  features = jax.jit(lambda p, o: net.apply(p, o, capture_intermediates=True)[1])(params, obs)
  v = features["intermediates"]["value_head"]["__call__"][0][..., 0]
  np.testing.assert_allclose(np.asarray(jnp.mean(q, -1)), np.asarray(v), rtol=1e-5, atol=1e-6)


def test_cnn_actor_critic_with_a_q_critic():
  net = networks.make_actor_critic("cnn", 3, (10, 10, 4), critic="q")
  (logits, q), params = jax.eval_shape(lambda: net.init_with_output(KEY, jnp.zeros((2, 10, 10, 4))))
  assert logits.shape == (2, 3) and q.shape == (2, 3)
  assert params["params"]["q_head"]["kernel"].shape == (128, 3)
  assert "value_head" not in params["params"]


def test_actor_critic_image_observations():
  image_net = ActorCritic(num_actions=2, observation_ndim=3)
  logits, value = jax.eval_shape(
      lambda: image_net.init_with_output(KEY, jnp.zeros((7, 4, 4, 2)))[0])
  assert logits.shape == (7, 2) and value.shape == (7,)


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args,match", [
    (("transformer", 2, (4,)), r"unknown Q-network kind 'transformer'; choose one of linear, mlp, "
                               r"cnn, nature_cnn"),
    (("mlp", 0, (4,)), "num_actions must be an int >= 1"),
    (("mlp", -1, (4,)), "num_actions must be an int >= 1"),
    (("mlp", 2.0, (4,)), "num_actions must be an int"),
    (("mlp", 2, (4,), (8, 0)), "MLPQNetwork.hidden_sizes must be an int >= 1"),
    (("linear", 2, ()), r"observation_shape must be a non-empty tuple of positive ints, got \(\)"),
    (("linear", 2, (4, 0)), r"got \(4, 0\)"),
    (("linear", 2, (4.5,)), "observation_shape must be a tuple of ints"),
    (("cnn", 2, (100,)), r"'cnn' Q-network needs image observations \[H, W, C\], got "
                         r"observation_shape \(100,\)"),
    (("cnn", 2, (10, 10)), r"observation_shape \(10, 10\)"),
    (("cnn", 2, (2, 10, 4)), r"at least 3x3, got observation_shape \(2, 10, 4\)"),
    (("nature_cnn", 2, (10, 10, 4)), r"at least 36x36, got observation_shape \(10, 10, 4\)"),
    (("nature_cnn", 2, (84, 84, 4, 1)), r"observation_shape \(84, 84, 4, 1\)"),
])
def test_make_q_network_validates(args, match):
  kwargs = {"hidden_sizes": args[3]} if len(args) > 3 else {}
  with pytest.raises(ValueError, match=match):
    make_q_network(*args[:3], **kwargs)


@pytest.mark.parametrize("make,match", [
    (lambda: LinearQNetwork(num_actions=0), "LinearQNetwork.num_actions must be an int >= 1"),
    (lambda: MLPQNetwork(num_actions=2, hidden_sizes=(8, 0)), "MLPQNetwork.hidden_sizes"),
    (lambda: MLPQNetwork(num_actions=2, observation_ndim=0), "MLPQNetwork.observation_ndim"),
    (lambda: CNNQNetwork(num_actions=True), "CNNQNetwork.num_actions"),
    (lambda: NatureCNNQNetwork(num_actions=0), "NatureCNNQNetwork.num_actions"),
    (lambda: ActorCritic(num_actions=0), "ActorCritic.num_actions"),
    (lambda: ActorCritic(num_actions=2, hidden_sizes=(-4,)), "ActorCritic.hidden_sizes"),
    (lambda: ActorCritic(num_actions=2, critic="a"),
     r"ActorCritic.critic must be one of \('v', 'q'\), got 'a'"),
    (lambda: networks.CNNActorCritic(num_actions=2, critic="Q"), "CNNActorCritic.critic must be"),
    (lambda: networks.make_actor_critic("mlp", 2, (4,), critic="value"),
     "make_actor_critic.critic must be one of"),
    (lambda: networks.make_actor_critic("mlp", 2, (4,), dueling=True),
     "make_actor_critic.dueling=True needs critic='q', got critic='v'"),
    (lambda: ActorCritic(num_actions=2, critic="q", dueling="yes"),
     "ActorCritic.dueling must be a bool"),
])
def test_modules_validate_on_construction(make, match):
  with pytest.raises(ValueError, match=match):
    make()


def test_modules_validate_observations_on_call():
  with pytest.raises(ValueError, match=r"CNNQNetwork needs image observations \[..., H, W, C\]"):
    jax.eval_shape(CNNQNetwork(2).init, KEY, jnp.zeros((10, 10)))
  with pytest.raises(ValueError, match=r"NatureCNNQNetwork needs images of at least 36x36"):
    jax.eval_shape(NatureCNNQNetwork(2).init, KEY, jnp.zeros((1, 20, 20, 4)))
  with pytest.raises(ValueError, match="expected an observation with 3 axes"):
    jax.eval_shape(LinearQNetwork(2, observation_ndim=3).init, KEY, jnp.zeros((4, 4)))


def test_orthogonal_init_matches_flax_and_vmaps_without_batched_qr():
  import flax.linen as nn
  key = jax.random.PRNGKey(3)
  ours = networks.orthogonal(0.5)(key, (6, 4))
  np.testing.assert_array_equal(ours, nn.initializers.orthogonal(0.5)(key, (6, 4)))
  keys = jax.random.split(key, 8)
  batched = jax.vmap(lambda k: networks.orthogonal(0.5)(k, (6, 4)))(keys)
  for k, b in zip(keys, batched):
    np.testing.assert_array_equal(b, nn.initializers.orthogonal(0.5)(k, (6, 4)))


def test_vmapped_actor_critic_init_does_not_deadlock():
  # jaxlib 0.10's batched LAPACK QR could deadlock XLA:CPU's pool (see networks.orthogonal);
  # before the fix this loop hung within a few calls. Run in a subprocess with a time limit.
  import subprocess
  import sys
  import textwrap
  script = textwrap.dedent("""
      import jax, jax.numpy as jnp
      from jaxrl import networks
      net = networks.make_actor_critic("mlp", 2, (4,), hidden_sizes=(256, 256))
      init = jax.jit(jax.vmap(net.init, in_axes=(0, None)))
      for i in range(12):
          jax.block_until_ready(init(jax.random.split(jax.random.PRNGKey(i), 8), jnp.zeros(4)))
      print("ok")
  """)
  proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                        timeout=240, check=False)
  assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]


# ---------------------------------------------------------------------------------------------
# Parameter groups (per-group learning rates): declared by the network, next to its layers
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, shape, kwargs, actor, critic", [
    ("mlp", (4,), {}, {"actor_0", "actor_1", "policy_head"}, {"critic_0", "critic_1",
                                                               "value_head"}),
    ("mlp", (4,), dict(shared=True), {"policy_head"}, {"torso_0", "torso_1", "value_head"}),
    ("mlp", (4,), dict(critic="q", dueling=True), {"actor_0", "actor_1", "policy_head"},
     {"critic_0", "critic_1", "value_head", "advantage_head"}),
    ("cnn", (10, 10, 4), dict(critic="q"), {"policy_head"}, {"Conv_0", "Dense_0", "q_head"}),
])
def test_param_labels_come_from_the_network(kind, shape, kwargs, actor, critic):
  net = networks.make_actor_critic(kind, 3, shape, **kwargs)
  params = net.init(jax.random.PRNGKey(0), jnp.zeros(shape))
  labels = networks.param_labels(net, params)["params"]
  assert set(labels) == set(params["params"])        # every layer is labelled
  by_group = {g: {layer for layer, sub in labels.items() if set(jax.tree.leaves(sub)) == {g}}
              for g in ("actor", "critic")}
  assert by_group == {"actor": actor, "critic": critic}


def test_param_labels_refuse_unnamed_layers():
  net = networks.make_actor_critic("mlp", 2, (4,))
  params = net.init(jax.random.PRNGKey(0), jnp.zeros(4))
  params = {"params": {**params["params"], "extra_head": {"bias": jnp.zeros(2)}}}
  with pytest.raises(ValueError, match=r"does not name the layer\(s\) \['extra_head'\]"):
    networks.param_labels(net, params)
  q_net = networks.make_q_network("mlp", 2, (4,))
  with pytest.raises(ValueError, match="declares no parameter groups"):
    networks.param_labels(q_net, q_net.init(jax.random.PRNGKey(0), jnp.zeros(4)))
