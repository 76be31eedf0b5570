"""Pure metric functions (numpy in, floats out), each tested against an independent computation."""

from neuralgraph.metrics.activity import effective_rank
from neuralgraph.metrics.identifiability import null_space_weight
from neuralgraph.metrics.regression import linear_fit, offset_gauge_r2, pearson, r2_score, trimmed_fit
from neuralgraph.metrics.traces import trace_pearson, trace_r2

__all__ = [
    "effective_rank", "linear_fit", "null_space_weight", "offset_gauge_r2", "pearson", "r2_score", "trace_pearson",
    "trace_r2", "trimmed_fit",
]
