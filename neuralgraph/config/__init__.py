"""Typed structured configs, registered in Hydra's ConfigStore.

Every YAML file under ``conf/`` starts from one of these schemas, so a misspelt key or a wrong
type fails at composition with a message that names the key.
"""

from neuralgraph.config.base import Device, RunConfig, TrainingBase
from neuralgraph.config.store import register_configs

__all__ = ["Device", "RunConfig", "TrainingBase", "register_configs"]
