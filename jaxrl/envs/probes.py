"""Probe environments: tiny MDPs whose exact ``Q*`` is known, for debugging an agent piece by piece.

Each probe isolates one part of a value-based agent (after Andy Jones, "Debugging RL, Without the
Agonizing Pain", 2021). They are :class:`~jaxrl.mdp.TabularMDP` s turned into
:class:`~jaxrl.envs.TabularEnv` s, so ``exact_q_values(params)`` gives the answer the agent must
learn, and each episode lasts one or two steps. The observation is ``one_hot(s)``; the last state
of probes 1 to 5 is the terminal one (the agent sees it only as ``info["final_observation"]``).

====== ======= ================================================== ===============================
probe  actions what happens                                       ``Q*`` (``g`` = discount)
====== ======= ================================================== ===============================
1      1       one state, reward +1, terminates                   ``Q(s0) = 1``
2      1       start in s0 or s1 (1/2 each); reward +1 in s0,     ``Q(s0) = 1, Q(s1) = -1``
               -1 in s1; terminates                               (value depends on the obs)
3      1       s0 -> s1 (reward 0) -> end (reward +1)             ``Q(s0) = g, Q(s1) = 1``
                                                                  (tests the discounted backup)
4      2       one state; action 1 pays +1, action 0 pays -1      ``Q(s0) = [-1, 1]``
5      2       start in s0 or s1; +1 when the action equals the   ``Q(s0) = [1, -1]``,
               state's index, -1 otherwise                        ``Q(s1) = [-1, 1]``
6      2       4-cell chain, start in cell 2; left exit (2 cells  ``Q(2) = [2 g, 1]``,
               away) pays 2, right exit (next cell) pays 1         ``Q(1) = [2, g max(2 g, 1)]``:
                                                                  left is best iff ``g > 1/2``
====== ======= ================================================== ===============================

A failure localises the bug: 1 the value loss or optimiser; 2 the network's use of the
observation; 3 discounting or the bootstrap (and termination masking); 4 the action selection
in the loss; 5 the two together; 6 whether the agent's discount is the one it was given.
"""

from __future__ import annotations

import numpy as np

from jaxrl import validation
from jaxrl.envs.tabular import TabularEnv
from jaxrl.envs.tabular import TabularEnvParams
from jaxrl.envs.tabular import from_mdp
from jaxrl.mdp import TabularMDP
from jaxrl.mdp import chain

__all__ = (
    "NUM_PROBES",
    "probe",
)


#: Probes are numbered 1 .. NUM_PROBES.
NUM_PROBES = 6


def _episodic(num_live: int, num_actions: int, next_state, rewards, discount) -> TabularMDP:
  """An MDP with ``num_live`` states plus one terminal state (index ``num_live``).

  ``next_state[s]`` is where every action from live state ``s`` leads; ``rewards[s][a]``.
  """
  num_states = num_live + 1
  p = np.zeros((num_states, num_actions, num_states), np.float32)
  for s in range(num_live):
    p[s, :, next_state[s]] = 1.0
  p[num_live, :, num_live] = 1.0
  r = np.zeros((num_states, num_actions), np.float32)
  r[:num_live] = np.asarray(rewards, np.float32).reshape(num_live, num_actions)
  return TabularMDP(p, r, np.float32(discount))


def probe(n: int, *, discount: float = 0.99,
          max_steps_in_episode: int = 10) -> tuple[TabularEnv, TabularEnvParams]:
  """Probe environment ``n`` (1 to 6, see the module docstring) as ``(env, params)``.

  Args:
    n: which probe.
    discount: the MDP's discount (what ``exact_q_values`` uses; the agent should use the same).
      Probes 3 and 6 depend on it; 6 changes its best first action at ``discount = 0.5``.
    max_steps_in_episode: time limit (episodes last at most two steps, so it never binds unless
      set to 1 on probes 3 or 6).

  Returns:
    ``(env, params)``; ``env.name`` is ``f"Probe{n}-v0"``.

  Raises:
    ValueError: ``n`` outside 1..6, a discount outside [0, 1], a bad time limit.
  """
  try:
    n = validation.check_int("probe number", n, minimum=1, maximum=NUM_PROBES)
  except ValueError:
    raise ValueError(f"probe number must be an int in 1..{NUM_PROBES}, got {n!r}.") from None
  validation.check_scalar("discount", discount, validation.UNIT_INTERVAL)
  name = f"Probe{n}-v0"
  kwargs = dict(max_steps_in_episode=max_steps_in_episode, name=name)
  if n == 1:
    mdp = _episodic(1, 1, [1], [[1.0]], discount)
    return from_mdp(mdp, initial_state=0, **kwargs)
  if n == 2:
    mdp = _episodic(2, 1, [2, 2], [[1.0], [-1.0]], discount)
    return from_mdp(mdp, initial_distribution=[0.5, 0.5, 0.0], **kwargs)
  if n == 3:
    mdp = _episodic(2, 1, [1, 2], [[0.0], [1.0]], discount)
    return from_mdp(mdp, initial_state=0, **kwargs)
  if n == 4:
    mdp = _episodic(1, 2, [1], [[-1.0, 1.0]], discount)
    return from_mdp(mdp, initial_state=0, **kwargs)
  if n == 5:
    mdp = _episodic(2, 2, [2, 2], [[1.0, -1.0], [-1.0, 1.0]], discount)
    return from_mdp(mdp, initial_distribution=[0.5, 0.5, 0.0], **kwargs)
  mdp = chain(4, far_reward=2.0, near_reward=1.0, discount=float(discount))
  return from_mdp(mdp, initial_state=2, **kwargs)
