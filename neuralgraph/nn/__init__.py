"""Building blocks shared by the families' models: the MLP and the SIREN."""

from neuralgraph.nn.mlp import MLP
from neuralgraph.nn.siren import Siren

__all__ = ["MLP", "Siren"]
