"""Hydra search-path plugin: NeuralGraph's shared ``conf/`` and every family folder's ``conf/``."""
