"""Builders: the textbook grid world, the notes' 1-D chain, random MDPs, and pymdptoolbox's layout.

The structure of a grid world or chain (which cell each move reaches) is fixed by its layout and
computed once with numpy; the numbers (noise, living reward, discount) enter through ``jnp``
operations, so ``jax.vmap`` over them builds a batch of variants and ``jax.grad`` flows through
them into a solver.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import validation
from jaxrl.mdp.core import SparseTransitions, TabularMDP, to_dense

__all__ = (
    "ACTIONS",
    "ARROWS",
    "DEFAULT_LAYOUT",
    "GridWorld",
    "chain",
    "from_mdptoolbox",
    "gridworld",
    "gridworld_layout",
    "random_mdp",
)


#: Actions of the grid world, in order: 0 up, 1 right, 2 down, 3 left.
ACTIONS = ("up", "right", "down", "left")
ARROWS = ("\u2191", "\u2192", "\u2193", "\u2190")
_MOVES = np.array([(-1, 0), (0, 1), (1, 0), (0, -1)])

#: The classic 4x3 world (Russell & Norvig, fig. 17.1): a wall in the second column of the middle
#: row, a +1 exit top right, a -1 exit just below it, the start bottom left.
DEFAULT_LAYOUT = (
    ". . . +1",
    ". # . -1",
    "S . . .",
)


def _check_range(name: str, value, low: float, high: float) -> None:
  """Every entry of a concrete ``value`` (number or array) in ``[low, high]``; tracers pass."""
  validation.check_rule(name, value, validation.Rule(low=low, high=high,
                                                     words=f"must lie in [{low}, {high}]"))


def _check_finite(name: str, value) -> None:
  validation.check_rule(name, value, validation.Rule(words="must be finite"))


# --------------------------------------------------------------------------------------------
# Grid world
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)
class GridWorld:
  """A grid world: its MDP and the layout that made it.

  Attributes:
    mdp: the :class:`TabularMDP`; state ``s`` is the ``s``-th open cell in reading order.
    layout: the rows as drawn (row 0 on top), tokens separated by spaces.
    shape: ``(rows, cols)``.
    cells: int ``[S, 2]`` the ``(row, col)`` of each state.
    exits: ``{state: reward}`` of the exit cells.
    start: the start state (``None`` when the layout marks none).
  """

  mdp: TabularMDP
  layout: tuple[str, ...]
  shape: tuple[int, int]
  cells: np.ndarray
  exits: Mapping[int, float]
  start: int | None
  _index: np.ndarray = dataclasses.field(repr=False)

  @property
  def num_states(self) -> int:
    return int(self.cells.shape[0])

  @property
  def is_exit(self) -> np.ndarray:
    """bool ``[S]``: exit cells (absorbing)."""
    mask = np.zeros(self.num_states, bool)
    mask[list(self.exits)] = True
    return mask

  def state_index(self, row: int, col: int) -> int:
    """The state of the cell at ``(row, col)``; row 0 is the top line as drawn."""
    rows, cols = self.shape
    if not (0 <= row < rows and 0 <= col < cols):
      raise ValueError(f"cell ({row}, {col}) is outside the {rows}x{cols} grid.")
    s = int(self._index[row, col])
    if s < 0:
      raise ValueError(f"cell ({row}, {col}) is a wall and has no state.")
    return s

  def render(self, values=None, policy=None, fmt: str = "{:7.3f}") -> str:
    """The grid as text: each cell's value, or the policy's arrow, or both.

    Walls show ``#``, exits their reward. ``values`` ``[S]`` floats, ``policy`` int ``[S]``.
    """
    values = None if values is None else np.asarray(values)
    policy = None if policy is None else np.asarray(policy)
    rows, cols = self.shape
    texts = []
    for r in range(rows):
      line = []
      for c in range(cols):
        s = int(self._index[r, c])
        if s < 0:
          cell = "#"
        elif s in self.exits:
          cell = f"[{self.exits[s]:+g}]"
        else:
          parts = []
          if values is not None:
            parts.append(fmt.format(float(values[s])))
          if policy is not None:
            parts.append(ARROWS[int(policy[s])])
          cell = " ".join(parts) if parts else "."
        line.append(cell)
      texts.append(line)
    width = max(len(t) for line in texts for t in line)
    return "\n".join(" ".join(t.rjust(width) for t in line) for line in texts)


def _parse_layout(layout) -> tuple[tuple[str, ...], list[list[str]]]:
  if isinstance(layout, str):
    layout = [line for line in layout.strip("\n").splitlines() if line.strip()]
  layout = tuple(layout)
  if not layout:
    raise ValueError("layout is empty: give one string per row, tokens separated by spaces.")
  grid = [row.split() for row in layout]
  widths = {len(row) for row in grid}
  if len(widths) != 1:
    raise ValueError(f"layout is not rectangular: rows have {sorted(widths)} cells "
                     f"({[len(r) for r in grid]}).")
  return layout, grid


def _layout_arrays(grid):
  """Parses tokens into wall/exit/start arrays, with a clear error for a bad token."""
  rows, cols = len(grid), len(grid[0])
  wall = np.zeros((rows, cols), bool)
  exit_reward = np.full((rows, cols), np.nan)
  starts = []
  for r, row in enumerate(grid):
    for c, tok in enumerate(row):
      if tok == "#":
        wall[r, c] = True
      elif tok in (".", "_"):
        pass
      elif tok.upper() == "S":
        starts.append((r, c))
      else:
        try:
          value = float(tok)
        except ValueError:
          raise ValueError(
              f"layout row {r}, column {c}: unknown token {tok!r}; use '.' (open), '#' (wall), "
              "'S' (start) or a number (an exit with that reward).") from None
        if not np.isfinite(value):
          raise ValueError(f"layout row {r}, column {c}: exit reward {tok!r} is not finite.")
        exit_reward[r, c] = value
  if len(starts) > 1:
    raise ValueError(f"layout marks {len(starts)} start cells {starts}; mark at most one 'S'.")
  if wall.all():
    raise ValueError("layout has no open cell.")
  return wall, exit_reward, (starts[0] if starts else None)


def gridworld(layout: Sequence[str] | str = DEFAULT_LAYOUT, *, noise=0.2, living_reward=-0.04,
              discount=1.0, sparse: bool = False, dtype=jnp.float32) -> GridWorld:
  """The textbook grid world with noisy moves (Russell & Norvig ch. 17; the course notes).

  A move goes the intended way with probability ``1 - noise`` and slips to each perpendicular
  direction with probability ``noise / 2``; a move into a wall or off the grid stays put.
  Actions: 0 up, 1 right, 2 down, 3 left. Acting in an open cell pays ``living_reward``, plus the
  exit's reward when the move lands on an exit. Exits are absorbing and pay nothing more, so
  they end the episode. With the default layout, ``noise=0.2``, ``living_reward=-0.04`` and
  ``discount=1`` the values are the textbook utilities (0.812, 0.868, 0.918 along the top row).

  Args:
    layout: rows as drawn, top row first (a list of strings or one multi-line string). Tokens,
      separated by spaces: ``.`` open, ``#`` wall, ``S`` start, a number an exit with that reward.
    noise: probability of slipping, in ``[0, 1]``; may be a traced value.
    living_reward: reward of each move from an open cell; may be traced.
    discount: in ``[0, 1]``; may be traced.
    sparse: store transitions as :class:`SparseTransitions` with 3 successors per ``(s, a)``
      (required for large grids) instead of a dense ``[S, A, S]`` array.
    dtype: float dtype of the MDP.

  Returns:
    A :class:`GridWorld`; ``.mdp`` is the MDP.

  Raises:
    ValueError: a layout that is not rectangular, has an unknown token or several starts; a
      noise or discount outside [0, 1]; a non-finite living reward.
  """
  layout, grid = _parse_layout(layout)
  _check_range("noise", noise, 0.0, 1.0)
  _check_range("discount", discount, 0.0, 1.0)
  _check_finite("living_reward", living_reward)
  wall, exit_reward, start = _layout_arrays(grid)
  rows, cols = wall.shape

  index = np.full((rows, cols), -1, np.int64)
  open_rc = np.argwhere(~wall)  # reading order
  index[open_rc[:, 0], open_rc[:, 1]] = np.arange(len(open_rc))
  num_states = len(open_rc)
  is_exit = ~np.isnan(exit_reward[open_rc[:, 0], open_rc[:, 1]])

  # successor of each state under each of the 4 directions: [S, 4]
  target = open_rc[:, None, :] + _MOVES[None, :, :]
  inside = (target[..., 0] >= 0) & (target[..., 0] < rows) & (target[..., 1] >= 0) & (
      target[..., 1] < cols)
  tr = np.clip(target[..., 0], 0, rows - 1)
  tc = np.clip(target[..., 1], 0, cols - 1)
  blocked = ~inside | wall[tr, tc]
  step = np.where(blocked, np.arange(num_states)[:, None], index[tr, tc])  # [S, 4]
  step[is_exit] = np.arange(num_states)[is_exit, None]

  # for action a: successors [intended, perpendicular (a+1), perpendicular (a+3)]
  dirs = np.stack([np.arange(4), (np.arange(4) + 1) % 4, (np.arange(4) + 3) % 4], axis=-1)
  succ = step[:, dirs]  # [S, 4, 3]
  exit_of_state = np.where(is_exit, exit_reward[open_rc[:, 0], open_rc[:, 1]], 0.0)
  bonus = exit_of_state[succ]  # exit reward collected on landing
  bonus[is_exit] = 0.0

  noise = jnp.asarray(noise, dtype)
  probs = jnp.stack([1.0 - noise, noise / 2, noise / 2])
  probs = jnp.broadcast_to(probs, (num_states, 4, 3))
  rewards = jnp.where(jnp.asarray(is_exit)[:, None, None], 0.0,
                      jnp.asarray(living_reward, dtype) + jnp.asarray(bonus, dtype))
  transitions = SparseTransitions(jnp.asarray(succ, jnp.int32), probs)
  mdp = TabularMDP(transitions, rewards.astype(dtype), jnp.asarray(discount, dtype))
  if not sparse:
    mdp = to_dense(mdp)
  exits = {int(s): float(exit_of_state[s]) for s in np.flatnonzero(is_exit)}
  start_state = None if start is None else int(index[start])
  return GridWorld(mdp, layout, (rows, cols), open_rc, exits, start_state, index)


def gridworld_layout(rows: int, cols: int, *, exits: Mapping[tuple[int, int], float] | None = None,
                     walls: Sequence[tuple[int, int]] = (), start: tuple[int, int] | None = None
                     ) -> tuple[str, ...]:
  """Writes a layout for :func:`gridworld` (handy for large grids).

  Defaults: a +1 exit in the top-right corner, a -1 exit just below it, the start bottom left.
  """
  rows = validation.check_int("gridworld_layout rows", rows, minimum=1)
  cols = validation.check_int("gridworld_layout cols", cols, minimum=1)
  if exits is None:
    exits = {(0, cols - 1): 1.0}
    if rows > 1:
      exits[(1, cols - 1)] = -1.0
  if start is None:
    start = (rows - 1, 0)
  cells = np.full((rows, cols), ".", dtype=object)
  for (r, c) in walls:
    cells[r, c] = "#"
  for (r, c), value in exits.items():
    cells[r, c] = f"{value:+g}"
  cells[start] = "S"
  return tuple(" ".join(row) for row in cells)


# --------------------------------------------------------------------------------------------
# Chain
# --------------------------------------------------------------------------------------------
def chain(num_cells: int = 5, *, far_reward=10.0, near_reward=1.0, discount=1.0, noise=0.0,
          living_reward=0.0, dtype=jnp.float32) -> TabularMDP:
  """The notes' 1-D example: a row of cells with an exit at each end.

  Cell 0 (left) is an exit paying ``far_reward`` on arrival, cell ``num_cells - 1`` (right) one
  paying ``near_reward``; both are absorbing. Actions: 0 left, 1 right; with probability
  ``noise`` a move goes the other way. With a large far reward and a small near one, a patient
  agent (discount near 1) walks left everywhere, an impatient one (discount 0.1) takes the near
  exit from the cells close to it. From interior cell ``i`` (deterministic moves, no living
  reward) left is worth ``far * g^(i-1)`` and right ``near * g^(n-2-i)``.

  Args:
    num_cells: at least 3 (two exits and one cell between them).
    far_reward, near_reward: the exits' rewards (may be traced).
    discount: in ``[0, 1]`` (may be traced).
    noise: probability that a move goes the opposite way, in ``[0, 1]``.
    living_reward: reward of each move from an interior cell.
    dtype: float dtype.

  Returns:
    A dense :class:`TabularMDP` with ``num_cells`` states and 2 actions.
  """
  try:
    num_cells = validation.check_int("num_cells", num_cells, minimum=3)
  except ValueError:
    raise ValueError("chain needs num_cells >= 3 (two exits and a cell between), got "
                     f"{num_cells!r}.") from None
  _check_range("noise", noise, 0.0, 1.0)
  _check_range("discount", discount, 0.0, 1.0)
  for name, v in (("far_reward", far_reward), ("near_reward", near_reward),
                  ("living_reward", living_reward)):
    _check_finite(name, v)
  n = int(num_cells)
  cells = np.arange(n)
  left = np.maximum(cells - 1, 0)
  right = np.minimum(cells + 1, n - 1)
  exit_mask = (cells == 0) | (cells == n - 1)
  left[exit_mask] = cells[exit_mask]
  right[exit_mask] = cells[exit_mask]
  succ = np.stack([np.stack([left, right], -1), np.stack([right, left], -1)], -1)  # [S, 2, 2]
  noise = jnp.asarray(noise, dtype)
  probs = jnp.broadcast_to(jnp.stack([1.0 - noise, noise]), (n, 2, 2))
  bonus = (jnp.where(jnp.asarray(succ == 0), jnp.asarray(far_reward, dtype), 0.0)
           + jnp.where(jnp.asarray(succ == n - 1), jnp.asarray(near_reward, dtype), 0.0))
  rewards = jnp.where(jnp.asarray(exit_mask)[:, None, None], 0.0,
                      jnp.asarray(living_reward, dtype) + bonus)
  mdp = TabularMDP(SparseTransitions(jnp.asarray(succ, jnp.int32), probs), rewards.astype(dtype),
                   jnp.asarray(discount, dtype))
  return to_dense(mdp)


# --------------------------------------------------------------------------------------------
# Random MDPs
# --------------------------------------------------------------------------------------------
def random_mdp(key: jax.Array, num_states: int, num_actions: int, *, num_successors: int | None = None,
               sparse: bool = False, discount=0.9, reward_scale: float = 1.0,
               dtype=jnp.float32) -> TabularMDP:
  """A random MDP: rewards uniform in ``[-reward_scale, reward_scale]`` per ``(s, a)``.

  Dense (``num_successors=None``): each ``P(. | s, a)`` is uniform on the simplex (Dirichlet(1)).
  With ``num_successors=K``: ``K`` successors drawn uniformly with replacement (repeats add up)
  and Dirichlet(1) weights; stored sparse when ``sparse=True``, else densified.

  Args:
    key: consumed once (split inside).
    num_states, num_actions: sizes.
    num_successors: successors per ``(s, a)``, or None for dense.
    sparse: keep the ``[S, A, K]`` form (requires ``num_successors``).
    discount: in ``[0, 1]``.
    reward_scale: half-width of the reward interval.
    dtype: float dtype.
  """
  num_states = validation.check_int("random_mdp num_states", num_states, minimum=1)
  num_actions = validation.check_int("random_mdp num_actions", num_actions, minimum=1)
  if sparse and num_successors is None:
    raise ValueError("random_mdp(sparse=True) needs num_successors.")
  if num_successors is not None:
    num_successors = validation.check_int("random_mdp num_successors", num_successors, minimum=1)
  _check_range("discount", discount, 0.0, 1.0)
  reward_scale = validation.check_number("random_mdp reward_scale", reward_scale, low=0.0)
  k_p, k_i, k_r = jax.random.split(key, 3)
  width = num_states if num_successors is None else num_successors
  weights = jax.random.exponential(k_p, (num_states, num_actions, width), dtype)
  probs = weights / jnp.sum(weights, -1, keepdims=True)
  rewards = jax.random.uniform(k_r, (num_states, num_actions), dtype, -reward_scale, reward_scale)
  discount = jnp.asarray(discount, dtype)
  if num_successors is None:
    return TabularMDP(probs, rewards, discount)
  indices = jax.random.randint(k_i, (num_states, num_actions, width), 0, num_states, jnp.int32)
  mdp = TabularMDP(SparseTransitions(indices, probs), rewards, discount)
  return mdp if sparse else to_dense(mdp)


# --------------------------------------------------------------------------------------------
# pymdptoolbox
# --------------------------------------------------------------------------------------------
def _as_array(x) -> np.ndarray:
  if hasattr(x, "toarray"):  # scipy.sparse
    return np.asarray(x.toarray())
  if isinstance(x, np.ndarray) and x.dtype == object:
    return np.stack([_as_array(m) for m in x])
  if isinstance(x, (list, tuple)):
    return np.stack([_as_array(m) for m in x])
  return np.asarray(x)


def from_mdptoolbox(P, R, discount, *, dtype=jnp.float32) -> TabularMDP:
  """Converts pymdptoolbox's layout to a :class:`TabularMDP`.

  Args:
    P: ``[A, S, S]`` transitions (an array, or a list of A matrices, scipy.sparse ones too).
    R: ``[S]`` (reward of the state), ``[S, A]``, or ``[A, S, S]`` (reward of each transition).
    discount: in ``[0, 1]``.
    dtype: float dtype.

  Raises:
    ValueError: shapes that are not pymdptoolbox's, or an invalid MDP.
  """
  P = _as_array(P)
  if P.ndim != 3 or P.shape[1] != P.shape[2]:
    raise ValueError(f"pymdptoolbox transitions must be [A, S, S], got {P.shape}.")
  num_actions, num_states, _ = P.shape
  R = _as_array(R)
  if R.shape == (num_states,):
    R = np.repeat(R[:, None], num_actions, axis=1)
  elif R.shape == (num_actions, num_states, num_states):
    R = np.transpose(R, (1, 0, 2))
  elif R.shape != (num_states, num_actions):
    raise ValueError(f"pymdptoolbox rewards must be [S], [S, A] or [A, S, S] with S={num_states}, "
                     f"A={num_actions}; got {R.shape}.")
  return TabularMDP(np.transpose(P, (1, 0, 2)).astype(dtype), R.astype(dtype),
                    np.asarray(discount, dtype))
