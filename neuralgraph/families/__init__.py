"""One :class:`Family` per simulated system; :func:`get_family` finds it by name."""

from neuralgraph.families.base import Family, get_family, register_family

__all__ = ["Family", "get_family", "register_family"]
