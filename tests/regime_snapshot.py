"""Dump the composed config of every regime, resolved, as JSON: ``{regime: config}``.

The config layer's moves and renames (``neuralgraph.config.vocabulary``) must leave every value of
every regime unchanged. ``tests/data/regime_configs.json`` holds the configs as composed before
those changes; ``tests/test_regimes.py`` composes each regime today, maps the recorded config's
keys through the renames and compares. To record it again from an older commit:

    git worktree add /tmp/old <commit>
    PYTHONPATH=/tmp/old python tests/regime_snapshot.py tests/data/regime_configs.json

``cache_dir`` (it names the user's home) is left out.
"""

from __future__ import annotations

import json
import sys


def composed(regime: str) -> dict:
    from omegaconf import OmegaConf

    from neuralgraph.launch import compose_regime

    cfg = OmegaConf.to_container(compose_regime(regime), resolve=True)
    cfg.pop("cache_dir", None)
    return cfg


def snapshot() -> dict:
    from neuralgraph import resources

    return {name: composed(name) for name in resources.regime_names()}


if __name__ == "__main__":
    out = json.dumps(snapshot(), indent=1, sort_keys=True, default=str)
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            f.write(out + "\n")
    else:
        print(out)
