"""Figures of tabular solutions (matplotlib, imported lazily so the library does not need a display)."""

from __future__ import annotations

import numpy as np

from jaxrl.mdp.builders import GridWorld

__all__ = (
    "plot_gridworld",
)


# Arrow directions (dx, dy) in plot coordinates for actions 0 up, 1 right, 2 down, 3 left.
_ARROW_XY = {0: (0.0, 0.3), 1: (0.3, 0.0), 2: (0.0, -0.3), 3: (-0.3, 0.0)}


def plot_gridworld(world: GridWorld, values=None, policy=None, *, ax=None, title: str | None = None,
                   cmap: str = "RdYlGn"):
  """Draws a grid world: cells coloured by value, the policy as arrows, walls and exits marked.

  Args:
    world: the :class:`~jaxrl.mdp.GridWorld`.
    values: optional ``[S]`` values (cell colour and text).
    policy: optional int ``[S]`` actions (0 up, 1 right, 2 down, 3 left), drawn as arrows.
    ax: a matplotlib axes (a new figure when None).
    title: axes title.
    cmap: colour map of the values.

  Returns:
    The axes.
  """
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  from matplotlib.patches import Rectangle  # pylint: disable=import-outside-toplevel

  if ax is None:
    _, ax = plt.subplots(figsize=(1.2 * world.shape[1] + 1, 1.2 * world.shape[0] + 0.6))
  rows, cols = world.shape
  values = None if values is None else np.asarray(values, float)
  policy = None if policy is None else np.asarray(policy)
  finite = values[np.isfinite(values)] if values is not None else np.zeros(0)
  scale = max(float(np.max(np.abs(finite))), 1e-9) if finite.size else 1.0
  colormap = plt.get_cmap(cmap)
  for r in range(rows):
    for c in range(cols):
      y = rows - 1 - r
      s = int(world._index[r, c])  # pylint: disable=protected-access
      if s < 0:
        ax.add_patch(Rectangle((c, y), 1, 1, facecolor="0.25", edgecolor="black"))
        continue
      if s in world.exits:
        reward = world.exits[s]
        colour = colormap(0.5 + 0.5 * np.sign(reward))
        ax.add_patch(Rectangle((c, y), 1, 1, facecolor=colour, edgecolor="black", lw=1.5))
        ax.text(c + 0.5, y + 0.5, f"{reward:+g}", ha="center", va="center", fontsize=12,
                weight="bold")
        continue
      colour = "white" if values is None else colormap(0.5 + 0.5 * values[s] / scale)
      ax.add_patch(Rectangle((c, y), 1, 1, facecolor=colour, edgecolor="black"))
      if values is not None:
        ax.text(c + 0.5, y + 0.18, f"{values[s]:.3f}", ha="center", va="center", fontsize=8)
      if policy is not None:
        dx, dy = _ARROW_XY[int(policy[s])]
        ax.arrow(c + 0.5 - dx / 2, y + 0.55 - dy / 2, dx, dy, head_width=0.12,
                 length_includes_head=True, color="black")
      if world.start == s:
        ax.text(c + 0.08, y + 0.85, "S", fontsize=8, color="blue")
  ax.set_xlim(0, cols)
  ax.set_ylim(0, rows)
  ax.set_aspect("equal")
  ax.set_xticks([])
  ax.set_yticks([])
  if title:
    ax.set_title(title)
  return ax
