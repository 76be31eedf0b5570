"""The built-in systems, one sub-package each (see :mod:`neuralgraph.family` for the interface).

Every sub-package here is discovered: ``config.py`` (schemas), ``simulate.py`` (ground truth),
``model.py`` (the GNN), ``family.py`` (``FAMILY``, the glue), ``plots.py`` and read-outs beside them.
"""
