"""The agents' optax chain: flattening the parameters changes no maths, only the op count."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxrl.agents import optimizers


@pytest.mark.parametrize("rectified", [False, True])
def test_flattened_chain_takes_the_same_steps(rectified):
  params = {"a": {"w": jnp.ones((3, 4)), "b": jnp.zeros(4)}, "c": jnp.arange(5.0)}
  kw = dict(max_grad_norm=0.5, anneal_steps=10, rectified=rectified)
  plain, flat = optimizers.adam(1e-2, **kw), optimizers.adam(1e-2, flatten=True, **kw)
  sp, sf = plain.init(params), flat.init(params)
  pp = pf = params
  for i in range(8):
    grads = jax.tree.map(lambda x, i=i: jnp.sin(x + i) * 3.0, pp)   # clipped: norm > 0.5
    up, sp = plain.update(grads, sp, pp)
    uf, sf = flat.update(grads, sf, pf)
    pp, pf = optax.apply_updates(pp, up), optax.apply_updates(pf, uf)
  jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-7), pp, pf)
  assert not np.allclose(pp["c"], params["c"])                          # it moved


def test_bad_arguments_are_refused():
  with pytest.raises(ValueError, match="max_grad_norm must be positive"):
    optimizers.adam(1e-3, max_grad_norm=0.0)
  with pytest.raises(ValueError, match="give group_scales and labels together"):
    optimizers.adam(1e-3, group_scales={"actor": 0.1})
