"""Brax's own PPO, run with Brax's interpreter (``benchmarks/.venv-brax``); not part of jaxrl.

Called by ``brax_ppo_peer.brax_train`` with one JSON argument ``{"setting": {...}, "seeds":
[...], "num_evals": k, "run_evals": bool}``; trains one seed after another with
``brax_ppo_peer.brax_train_here`` and prints a JSON list, one result per seed, as its last line.
"""

from __future__ import annotations

import json
import sys

import brax_ppo_peer as peer  # same folder


def main():
  request = json.loads(sys.argv[1])
  setting = dict(request["setting"])
  setting["hidden_sizes"] = tuple(setting["hidden_sizes"])
  s = peer.Setting(**setting)
  out = [peer.brax_train_here(s, seed, num_evals=request["num_evals"],
                              run_evals=request["run_evals"],
                              brax_networks=request.get("brax_networks", False))
         for seed in request["seeds"]]
  print(json.dumps(out))


if __name__ == "__main__":
  main()
