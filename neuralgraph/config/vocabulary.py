"""One vocabulary of settings: the keys that were renamed or moved, and what replaced them.

A user (or an old sweep, notebook or instruction document) typing a former name gets one line
naming the new key instead of a bare "unknown key" (:func:`renamed_message`). The same map lets
``tests/test_regimes.py`` check that every regime composes to exactly the values it had before
the keys moved.
"""

from __future__ import annotations

from typing import Any, Iterable

#: ``{former dotted key: its name now}``. One name per concept across families: the learned input
#: field takes the seeds' SIREN names (``*_nnr_f``, ``omega_f``) and one learning rate, ``lr_field``;
#: the embeddings' rate is ``lr_embedding`` everywhere.
RENAMED: dict[str, str] = {
    "model.field_model": "model.field_type",
    "model.field_hidden_dim": "model.hidden_dim_nnr_f",
    "model.field_n_layers": "model.n_layers_nnr_f",
    "model.field_omega": "model.omega_f",
    "model.field_rank": "model.rank_nnr_f",
    "training.lr_NNR_f": "training.lr_field",
    "training.lr_siren": "training.lr_field",
    "training.lr_emb": "training.lr_embedding",
}

#: Keys that define how a metric is computed, moved from ``training`` to the frozen ``evaluation``
#: block (a sweep may not change them): ``{family: keys}``.
EVALUATION_KEYS: dict[str, tuple[str, ...]] = {
    "signal": ("n_rollout_frames", "rollout_every", "psi_norm_window", "cluster_threshold"),
    "flyvis": ("cluster_method", "n_clusters", "cluster_criterion", "n_clusters_min", "n_clusters_max",
               "cluster_embedding", "n_rollout_frames", "test_min_std"),
    "metabolism": ("test_window", "test_n_windows", "sparsity_threshold"),
}
RENAMED.update({f"training.{key}": f"evaluation.{key}" for keys in EVALUATION_KEYS.values() for key in keys})

#: ``{former dotted key: why it is gone}``: settings removed because they read the truth.
REMOVED: dict[str, str] = {
    "training.coeff_k_center": "it pulled the mean log k toward the centre of the simulation's true range, which "
                               "no experimenter knows (training.coeff_k_floor keeps log k above a floor set "
                               "from the data: training.k_floor_below_start)",
    "training.k_floor_threshold": "it was an absolute log10 k, the default simulation's true minimum; the floor is "
                                  "now training.k_floor_below_start, in dex below the initial log k (which is "
                                  "estimated from the data)",
}


def renamed_message(key: str) -> str | None:
    """``"training.lr_siren is now training.lr_field"`` for a former key (an override's key, with
    or without its ``+``/``~`` prefix), else ``None``."""
    bare = key.lstrip("+~")
    if bare in REMOVED:
        return f"{bare} is gone: {REMOVED[bare]}"
    return f"{bare} is now {RENAMED[bare]}" if bare in RENAMED else None


def renamed_keys(keys: Iterable[str]) -> list[str]:
    """The messages of :func:`renamed_message` for the former keys among ``keys``."""
    return [m for m in map(renamed_message, keys) if m is not None]


def rename_container(cfg: dict[str, Any]) -> dict[str, Any]:
    """A copy of a plain config dict (``OmegaConf.to_container``) with former keys under their new
    names and removed keys dropped: the config as it composes today, from one recorded before."""
    out = {block: dict(v) if isinstance(v, dict) else v for block, v in cfg.items()}
    for gone in REMOVED:
        block, key = gone.split(".", 1)
        if isinstance(out.get(block), dict):
            out[block].pop(key, None)
    for old, new in RENAMED.items():
        old_block, old_key = old.split(".", 1)
        new_block, new_key = new.split(".", 1)
        if isinstance(out.get(old_block), dict) and old_key in out[old_block]:
            out.setdefault(new_block, {})[new_key] = out[old_block].pop(old_key)
    for block in ("search_space",):  # search-space keys are dotted config keys
        if isinstance(out.get(block), dict):
            out[block] = {RENAMED.get(k, k): v for k, v in out[block].items()}
    return out
