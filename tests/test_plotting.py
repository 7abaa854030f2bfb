"""The grid world figure: a colour bar for the values, and text that reads on every cell."""

import matplotlib
import numpy as np
import pytest

from jaxrl.mdp import gridworld
from jaxrl.plotting import plot_gridworld, relative_luminance, text_colour

matplotlib.use("Agg")


def test_text_colour_contrasts_with_the_cell():
  assert text_colour("black") == "white" and text_colour("white") == "black"
  assert text_colour((0.65, 0.0, 0.15)) == "white"      # RdYlGn's darkest red
  assert text_colour((1.0, 1.0, 0.75)) == "black"       # its pale yellow middle
  assert relative_luminance("black") == 0.0 and relative_luminance("white") == pytest.approx(1.0)


def test_values_get_a_colour_bar_and_dark_cells_get_light_text():
  g = gridworld()
  values = np.linspace(-1.0, 1.0, g.num_states)
  ax = plot_gridworld(g, values, np.zeros(g.num_states, int))
  bar = ax.figure.axes[1]
  assert bar.get_ylabel() == "state value" and bar.get_ylim() == (-1.0, 1.0)
  colours = {t.get_text(): t.get_color() for t in ax.texts}
  assert colours["-1.000"] == "white"      # the darkest (lowest-value) cell
  assert colours["0.000"] == "black"       # a light cell
  dark_arrows = [p for p in ax.patches if type(p).__name__ == "FancyArrow"
                 and matplotlib.colors.to_hex(p.get_facecolor()) == "#ffffff"]
  assert dark_arrows                        # the arrow on a dark cell is light too
  matplotlib.pyplot.close(ax.figure)


def test_without_values_there_is_no_colour_bar():
  g = gridworld()
  ax = plot_gridworld(g, policy=np.ones(g.num_states, int))
  assert len(ax.figure.axes) == 1
  matplotlib.pyplot.close(ax.figure)


@pytest.mark.parametrize("kwargs, message", [
    (dict(values=np.zeros(3)), r"values has shape \(3,\); give one value per state, shape \(11,\)"),
    (dict(policy=np.zeros((11, 2), int)), r"policy has shape \(11, 2\); give one action per state"),
    (dict(policy=np.full(11, 4)), r"policy holds \[4\]; grid world actions are 0 up, 1 right"),
])
def test_bad_values_or_policy_are_refused(kwargs, message):
  with pytest.raises(ValueError, match=message):
    plot_gridworld(gridworld(), **kwargs)
