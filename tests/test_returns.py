"""jaxrl.returns: hand-computed values with termination and truncation in the middle of a stream."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import returns

# gamma = 0.5. Step 1 TERMINATES (discount 0), step 3 is TRUNCATED (discount gamma, bootstrap from
# the final observation's value v_tp1[3] = 40), and the window ends at step 5 (bootstrap 60).
R = jnp.array([1., 2., 3., 4., 5., 6.])
D = jnp.array([.5, 0., .5, .5, .5, .5])
END = jnp.array([False, True, False, True, False, False])
V_TP1 = jnp.array([10., 20., 30., 40., 50., 60.])
V = jnp.ones(6)

VARIANTS = [lambda f: f, jax.jit]


@pytest.mark.parametrize("variant", VARIANTS)
def test_reward_to_go_without_bootstrap(variant):
  # t5: 6; t4: 5 + .5*6; t3 (truncated, no bootstrap): 4; t2: 3 + .5*4; t1 (terminated): 2; t0: 1+.5*2
  g = variant(returns.discounted_returns)(R, D, END, None)
  np.testing.assert_allclose(g, [2., 2., 5., 4., 8., 6.])


@pytest.mark.parametrize("variant", VARIANTS)
def test_reward_to_go_bootstraps_only_at_truncation_and_window_end(variant):
  g = variant(returns.discounted_returns)(R, D, END, V_TP1)
  # t5: 6+.5*60=36; t4: 5+.5*36=23; t3: 4+.5*40=24; t2: 3+.5*24=15; t1: 2 (terminal); t0: 1+.5*2
  np.testing.assert_allclose(g, [2., 2., 15., 24., 23., 36.])


def test_total_episode_return_is_broadcast_from_the_episode_start():
  g = returns.episode_total_returns(R, D, END)
  np.testing.assert_allclose(g, [2., 2., 5., 5., 8., 8.])
  # gamma = 1: the undiscounted return of each whole episode, the notes' R(tau)
  ones = jnp.where(END, 1.0, 1.0) * jnp.array([1., 0., 1., 1., 1., 1.])
  np.testing.assert_allclose(returns.episode_total_returns(R, ones, END), [3., 3., 7., 7., 11., 11.])


def test_finished_episode_mask():
  np.testing.assert_array_equal(returns.finished_episode_mask(END), [1, 1, 1, 1, 0, 0])
  np.testing.assert_array_equal(returns.finished_episode_mask(jnp.zeros(3, bool)), [0, 0, 0])


@pytest.mark.parametrize("variant", VARIANTS)
def test_n_step_returns(variant):
  one = variant(lambda *a: returns.n_step_returns(*a, n=1))(R, D, END, V_TP1)
  np.testing.assert_allclose(one, [6., 2., 18., 24., 30., 36.])    # r + d * v_tp1
  two = variant(lambda *a: returns.n_step_returns(*a, n=2))(R, D, END, V_TP1)
  np.testing.assert_allclose(two, [2., 2., 15., 24., 23., 36.])
  many = returns.n_step_returns(R, D, END, V_TP1, n=50)
  np.testing.assert_allclose(many, returns.discounted_returns(R, D, END, V_TP1))


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("variant", VARIANTS)
def test_gae(variant, parallel):
  adv = variant(lambda *a: returns.gae(*a, parallel=parallel))(R, D, END, V, V_TP1, 0.5)
  # delta = [5, 1, 17, 23, 29, 35]; A5 = 35, A4 = 29 + .25*35, A3 = 23 (cut), A2 = 17 + .25*23,
  # A1 = 1 (terminal), A0 = 5 + .25*1
  np.testing.assert_allclose(adv, [5.25, 1., 22.75, 23., 37.75, 35.])


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("variant", VARIANTS)
def test_lambda_returns(variant, parallel):
  g = variant(lambda *a: returns.lambda_returns(*a, parallel=parallel))(R, D, END, V_TP1, 0.5)
  np.testing.assert_allclose(g, [4., 2., 16.5, 24., 26.5, 36.])
  np.testing.assert_allclose(returns.lambda_returns(R, D, END, V_TP1, 0.0, parallel=parallel),
                             returns.n_step_returns(R, D, END, V_TP1, n=1))
  np.testing.assert_allclose(returns.lambda_returns(R, D, END, V_TP1, 1.0, parallel=parallel),
                             returns.discounted_returns(R, D, END, V_TP1))


@pytest.mark.parametrize("length", [1, 2, 7, 100])
def test_parallel_recursions_equal_the_sequential_ones(length):
  """The associative scan is the same recursion: random streams with terminations, truncations
  and lambdas (traced too), under jit, vmap and grad, agree to float rounding."""
  k = jax.random.split(jax.random.PRNGKey(length), 5)
  r = jax.random.normal(k[0], (3, length))
  end = jax.random.uniform(k[1], (3, length)) < 0.1
  d = 0.99 * (1.0 - (end & (jax.random.uniform(k[2], (3, length)) < 0.5)))   # half terminate
  v, v_tp1 = jax.random.normal(k[3], (2, 3, length))
  for fn, args in ((returns.gae, (r, d, end, v, v_tp1)), (returns.lambda_returns,
                                                         (r, d, end, v_tp1))):
    # lambda traced: one compile per form serves every lambda
    seq = jax.jit(jax.vmap(lambda lam, *a: fn(*a, lam), in_axes=(None,) + (0,) * len(args)))
    par = jax.jit(jax.vmap(lambda lam, *a: fn(*a, lam, parallel=True),
                           in_axes=(None,) + (0,) * len(args)))
    for lam in (0.0, 0.65, 0.95, 1.0):
      np.testing.assert_allclose(par(jnp.float32(lam), *args), seq(jnp.float32(lam), *args),
                                 rtol=1e-5, atol=1e-5, err_msg=f"{fn.__name__} {lam}")
  # a Python-float lambda (not traced) takes the same path
  np.testing.assert_allclose(returns.gae(r[0], d[0], end[0], v[0], v_tp1[0], 0.8, parallel=True),
                             returns.gae(r[0], d[0], end[0], v[0], v_tp1[0], 0.8),
                             rtol=1e-5, atol=1e-5)
  grad = lambda p: jax.grad(lambda x: jnp.sum(returns.gae(x, d[0], end[0], v[0], v_tp1[0], 0.9,  # noqa: E731
                                                          parallel=p) ** 2))(r[0])
  np.testing.assert_allclose(grad(True), grad(False), rtol=1e-5, atol=1e-5)


def test_gae_plus_values_is_the_lambda_return_with_a_consistent_critic():
  key = jax.random.PRNGKey(0)
  v = jax.random.normal(key, (7,))
  final = jnp.array(9.0)    # the final observation's value at the truncation (t = 3)
  v_tp1 = jnp.concatenate([v[1:], jnp.array([2.0])]).at[3].set(final)
  r = jnp.arange(7.0)
  d = jnp.array([.9, .9, .9, .9, 0., .9, .9])
  end = jnp.array([0, 0, 0, 1, 1, 0, 0], bool)
  for lam in (0.0, 0.3, 1.0):
    np.testing.assert_allclose(returns.gae(r, d, end, v, v_tp1, lam) + v,
                               returns.lambda_returns(r, d, end, v_tp1, lam), rtol=1e-5, atol=1e-5)


def test_batched_with_vmap_equals_a_loop():
  rs = jnp.stack([R, R[::-1]])
  ds = jnp.stack([D, D[::-1]])
  ends = jnp.stack([END, END[::-1]])
  vs = jnp.stack([V_TP1, V_TP1[::-1]])
  batched = jax.vmap(returns.gae, in_axes=(0, 0, 0, 0, 0, None))(rs, ds, ends, jnp.ones((2, 6)), vs, 0.7)
  for i in range(2):
    np.testing.assert_allclose(batched[i], returns.gae(rs[i], ds[i], ends[i], V, vs[i], 0.7), rtol=1e-6)


def test_bad_arguments_are_refused():
  with pytest.raises(ValueError, match="n must be"):
    returns.n_step_returns(R, D, END, V_TP1, n=0)
  with pytest.raises(ValueError, match="lambda_ must lie"):
    returns.gae(R, D, END, V, V_TP1, 1.5)
  with pytest.raises(AssertionError):
    returns.discounted_returns(R, D[:3], END, None)


# Episodes of END start at steps 0, 2 and 4 (the last one still running at the window's end).
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("last_start, expected", [
    (0, [1, 1, 0, 0, 0, 0]), (1, [1, 1, 0, 0, 0, 0]), (2, [1, 1, 1, 1, 0, 0]),
    (3, [1, 1, 1, 1, 0, 0]), (4, [1, 1, 1, 1, 1, 1]), (9, [1, 1, 1, 1, 1, 1])])
def test_started_episode_mask(variant, last_start, expected):
  np.testing.assert_array_equal(variant(returns.started_episode_mask)(END, last_start), expected)


def test_first_episode_mask_and_the_contrast_with_finished_episodes():
  np.testing.assert_array_equal(returns.first_episode_mask(END), [1, 1, 0, 0, 0, 0])
  np.testing.assert_array_equal(returns.first_episode_mask(jnp.zeros(3, bool)), [1, 1, 1])
  # Episodes of at most 3 steps in a window of 8: those starting at a step <= 5 are sure to end.
  # A (0-1) terminates, B (2-4) is truncated, C (5) and D (6) terminate, E (7) runs off the end.
  end = jnp.array([0, 1, 0, 0, 1, 1, 1, 0], bool)
  np.testing.assert_array_equal(returns.started_episode_mask(end, 8 - 3), [1, 1, 1, 1, 1, 1, 0, 0])
  # finishing in time is what the finished mask asks, so it also keeps D, a short episode that
  # started late (a longer one started there would have been dropped): selection bias
  np.testing.assert_array_equal(returns.finished_episode_mask(end), [1, 1, 1, 1, 1, 1, 1, 0])


def test_started_episode_mask_refuses_a_bad_last_start():
  with pytest.raises(ValueError, match="last_start must be >= 0"):
    returns.started_episode_mask(END, -1)
  with pytest.raises(ValueError, match="integer scalar"):
    returns.started_episode_mask(END, 1.5)


# The action-value critic's targets (A2C with critic="q")
def test_sarsa_next_actions_by_hand():
  # steps 0..4; the episode ends after step 1 (a' sampled there), the window after step 4
  a = jnp.array([0, 1, 2, 0, 1])
  end = jnp.array([False, True, False, False, False])
  sampled = jnp.array([7, 8, 9, 10, 11])
  np.testing.assert_array_equal(np.asarray(returns.sarsa_next_actions(a, end, sampled)),
                                [1, 8, 0, 1, 11])


def test_action_value_targets_by_hand():
  # r = 1 everywhere, g = 0.5; step 1 terminates (discount 0), step 3 is the window's last
  r = jnp.ones(4)
  d = jnp.array([0.5, 0.0, 0.5, 0.5])
  end = jnp.array([False, True, False, False])
  q_sa = jnp.array([10.0, 20.0, 30.0, 40.0])
  b = jnp.array([2.0, 100.0, 4.0, 6.0])
  # TD(0): r + d b
  np.testing.assert_allclose(returns.action_value_targets(r, d, end, q_sa, b, n=1), [2.0, 1.0, 3.0, 4.0])
  # 2-step, cut at the termination and at the window's end
  np.testing.assert_allclose(returns.action_value_targets(r, d, end, q_sa, b, n=2),
                             [1 + 0.5 * 1, 1.0, 1 + 0.5 * (1 + 0.5 * 6), 4.0])
  # lambda: y_t = r_t + d_t (b_t + lam (y_{t+1} - q_sa_{t+1})), cut at ends; lam = 0 is TD(0)
  lam = 0.5
  y3 = 1 + 0.5 * 6
  y2 = 1 + 0.5 * (4 + lam * (y3 - 40))
  y1 = 1.0
  y0 = 1 + 0.5 * (2 + lam * (y1 - 20))
  np.testing.assert_allclose(returns.action_value_targets(r, d, end, q_sa, b, lambda_=lam),
                             [y0, y1, y2, y3], rtol=1e-6)
  np.testing.assert_allclose(returns.action_value_targets(r, d, end, q_sa, b, lambda_=0.0),
                             [2.0, 1.0, 3.0, 4.0])
  with pytest.raises(ValueError, match="exactly one of lambda_ and n"):
    returns.action_value_targets(r, d, end, q_sa, b)


def test_reinforce_weights_by_hand():
  # T = 6, gamma = 0.5, episodes at steps 0-1 (terminated), 2-4 (truncated), 5 (running)
  r = jnp.array([1., 2., 3., 4., 5., 6.])
  d = jnp.array([.5, 0., .5, .5, .5, .5])
  end = jnp.array([False, True, False, False, True, False])
  b = jnp.full(6, 1.0)
  w, m, g = returns.reinforce_weights(r, d, end, b, last_start=3)
  np.testing.assert_allclose(g[:5], [2., 2., 3 + .5 * (4 + .5 * 5), 4 + .5 * 5, 5.])
  np.testing.assert_allclose(w, g - 1.0)
  np.testing.assert_array_equal(m, [True, True, True, True, True, False])   # starts at 0, 2
  total, _, _ = returns.reinforce_weights(r, d, end, jnp.zeros(6), last_start=3, total=True)
  np.testing.assert_allclose(total[:5], [2., 2., 6.25, 6.25, 6.25])
  # a truncated episode's return continued by the value of its final observation
  v_tp1 = jnp.where(jnp.arange(6) == 4, 40.0, 0.0)
  boot, _, _ = returns.reinforce_weights(r, d, end, jnp.zeros(6), v_tp1, last_start=3)
  np.testing.assert_allclose(boot[4], 5 + .5 * 40)
  with pytest.raises(ValueError, match="last_start must be >= 0"):
    returns.reinforce_weights(r, d, end, b, last_start=-1)

