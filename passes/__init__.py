"""Graph -> Graph transformations: autodiff, simplification, fusion, memory planning."""

from passes import quant_pool  # noqa: F401 (registers its rule in simplify's ALGEBRA table)
from passes.autodiff import differentiate
from passes.manager import CORE_PIPELINE, PipelineRun, run_pipeline
from passes.simplify import (
    eliminate_common_subexpressions,
    eliminate_dead_code,
    fold_constants,
    simplify,
    simplify_algebra,
)

__all__ = [
    "differentiate",
    "simplify",
    "fold_constants",
    "simplify_algebra",
    "eliminate_common_subexpressions",
    "eliminate_dead_code",
    "run_pipeline",
    "PipelineRun",
    "CORE_PIPELINE",
]
