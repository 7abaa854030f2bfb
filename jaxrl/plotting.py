"""Figures of tabular solutions (matplotlib, imported lazily so the library does not need a display).

Text and arrows on a coloured cell are white on a dark cell and black on a light one (chosen by
the cell's relative luminance, :func:`text_colour`), and the value heat map has a colour bar.
"""

from __future__ import annotations

import numpy as np

from jaxrl.mdp.builders import GridWorld

__all__ = (
    "plot_gridworld",
    "relative_luminance",
    "text_colour",
)


# Arrow directions (dx, dy) in plot coordinates for actions 0 up, 1 right, 2 down, 3 left.
_ARROW_XY = {0: (0.0, 0.3), 1: (0.3, 0.0), 2: (0.0, -0.3), 3: (-0.3, 0.0)}


def relative_luminance(colour) -> float:
  """WCAG relative luminance of a matplotlib colour: ``0.2126 R + 0.7152 G + 0.0722 B`` of the
  linearised sRGB channels (0 for black, 1 for white)."""
  from matplotlib.colors import to_rgb  # pylint: disable=import-outside-toplevel
  rgb = np.asarray(to_rgb(colour), float)
  linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
  return float(linear @ np.array([0.2126, 0.7152, 0.0722]))


def text_colour(background) -> str:
  """``"white"`` or ``"black"``, whichever contrasts more with ``background`` (WCAG contrast
  ratio ``(L1 + 0.05) / (L2 + 0.05)``: white wins below a luminance of about 0.18)."""
  lum = relative_luminance(background)
  return "white" if (1.05 / (lum + 0.05)) > ((lum + 0.05) / 0.05) else "black"


def plot_gridworld(world: GridWorld, values=None, policy=None, *, ax=None, title: str | None = None,
                   cmap: str = "RdYlGn"):
  """Draws a grid world: cells coloured by value, the policy as arrows, walls and exits marked.

  Args:
    world: the :class:`~jaxrl.mdp.GridWorld`.
    values: optional ``[S]`` values (cell colour and text).
    policy: optional int ``[S]`` actions (0 up, 1 right, 2 down, 3 left), drawn as arrows.
    ax: a matplotlib axes (a new figure when None).
    title: axes title.
    cmap: colour map of the values, centred on 0 (``[-max|v|, max|v|]``); with ``values`` a
      colour bar labelled "state value" is drawn beside the grid.

  Returns:
    The axes.
  """
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

  values, policy = _checked(world, values, policy)
  if ax is None:
    _, ax = plt.subplots(figsize=(1.2 * world.shape[1] + 1.8, 1.2 * world.shape[0] + 0.6))
  rows, cols = world.shape
  finite = values[np.isfinite(values)] if values is not None else np.zeros(0)
  scale = max(float(np.max(np.abs(finite))), 1e-9) if finite.size else 1.0
  colormap = plt.get_cmap(cmap)
  for r in range(rows):
    for c in range(cols):
      _draw_cell(ax, world, (r, c), values, policy, colormap, scale)
  if values is not None:
    from matplotlib.cm import ScalarMappable  # pylint: disable=import-outside-toplevel
    from matplotlib.colors import Normalize  # pylint: disable=import-outside-toplevel
    bar = ax.figure.colorbar(ScalarMappable(Normalize(-scale, scale), colormap), ax=ax,
                             fraction=0.046, pad=0.04)
    bar.set_label("state value")
  ax.set_xlim(0, cols)
  ax.set_ylim(0, rows)
  ax.set_aspect("equal")
  ax.set_xticks([])
  ax.set_yticks([])
  if title:
    ax.set_title(title)
  return ax


def _checked(world: GridWorld, values, policy):
  """``values`` as float ``[S]`` and ``policy`` as int ``[S]`` in 0..3 (None stays None);
  ValueError naming the argument, its shape and what it should be."""
  n = world.num_states
  if values is not None:
    values = np.asarray(values, float)
    if values.shape != (n,):
      raise ValueError(f"values has shape {values.shape}; give one value per state, shape "
                       f"({n},) for this {world.shape[0]}x{world.shape[1]} grid world.")
  if policy is not None:
    policy = np.asarray(policy)
    if policy.shape != (n,):
      raise ValueError(f"policy has shape {policy.shape}; give one action per state, shape "
                       f"({n},) for this {world.shape[0]}x{world.shape[1]} grid world.")
    if not np.isin(policy, list(_ARROW_XY)).all():
      bad = sorted({x.item() for x in policy.reshape(-1) if x.item() not in _ARROW_XY})
      raise ValueError(f"policy holds {bad}; grid world actions are 0 up, 1 right, 2 down, "
                       "3 left.")
  return values, policy


def _draw_cell(ax, world: GridWorld, rc, values, policy, colormap, scale) -> None:
  """One cell: a wall, an exit with its reward, or an open cell with its value and arrow, the
  text and arrow in the colour that reads on the cell (:func:`text_colour`)."""
  from matplotlib.patches import Rectangle  # pylint: disable=import-outside-toplevel
  r, c = rc
  y = world.shape[0] - 1 - r
  s = int(world._index[r, c])  # pylint: disable=protected-access
  if s < 0:
    ax.add_patch(Rectangle((c, y), 1, 1, facecolor="0.25", edgecolor="black"))
    return
  if s in world.exits:
    reward = world.exits[s]
    colour = colormap(0.5 + 0.5 * np.sign(reward))
    ax.add_patch(Rectangle((c, y), 1, 1, facecolor=colour, edgecolor="black", lw=1.5))
    ax.text(c + 0.5, y + 0.5, f"{reward:+g}", ha="center", va="center", fontsize=12,
            weight="bold", color=text_colour(colour))
    return
  colour = "white" if values is None else colormap(0.5 + 0.5 * values[s] / scale)
  ink = text_colour(colour)
  ax.add_patch(Rectangle((c, y), 1, 1, facecolor=colour, edgecolor="black"))
  if values is not None:
    ax.text(c + 0.5, y + 0.18, f"{values[s]:.3f}", ha="center", va="center", fontsize=8,
            color=ink)
  if policy is not None:
    dx, dy = _ARROW_XY[int(policy[s])]
    ax.arrow(c + 0.5 - dx / 2, y + 0.55 - dy / 2, dx, dy, head_width=0.12,
             length_includes_head=True, color=ink)
  if world.start == s:
    ax.text(c + 0.08, y + 0.85, "S", fontsize=8, weight="bold", color=ink)
