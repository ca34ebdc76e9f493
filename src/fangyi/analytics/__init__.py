"""Surveillance analytics on plain NumPy arrays (no Django): what the early-warning,
epidemic-curve and laboratory pages compute, checked against the reference implementations
(R `surveillance` 1.20.3, `EpiEstim` 2.2-4, SaTScan 10.3) in tests/analytics.

Aberration detection, each on one series (1-D) or many (2-D, one series per row):
- `ears`: EARS C1, C2, C3 (R `earsC`).
- `farrington_flexible`, `farrington_threshold`: improved Farrington (R `farringtonFlexible`).
- `cusum`, `glr_poisson`: CUSUM (R `algo.cusum`) and Poisson (G)LR CUSUM (R `algo.glrpois`).
- `moving_percentile`, `fixed_threshold`: CIDARS's moving percentile and single-case models.

Clusters: `space_time_permutation_scan`, prospective space-time permutation scan (SaTScan).

Transmission: `discretise_si`, `estimate_rt` (Cori 2013, EpiEstim `estimate_R`);
`doubling_time` (log-linear growth).

Laboratory: `positivity_rate` (Wilson interval), `dorfman_expected_tests`,
`optimal_pool_size` (Dorfman pooling).

Results are frozen dataclasses of arrays aligned with the input: NaN / False where a method
cannot compute (e.g. inside the baseline).
"""

from fangyi.analytics.cidars import ThresholdResult, fixed_threshold, moving_percentile
from fangyi.analytics.cusum import CusumResult, GlrResult, cusum, glr_poisson
from fangyi.analytics.ears import EarsResult, ears
from fangyi.analytics.farrington import (
    FarringtonResult,
    Threshold,
    farrington_flexible,
    farrington_threshold,
)
from fangyi.analytics.growth import DoublingTime, doubling_time
from fangyi.analytics.lab import (
    PoolSize,
    Proportion,
    dorfman_expected_tests,
    optimal_pool_size,
    positivity_rate,
)
from fangyi.analytics.rt import RtResult, discretise_si, estimate_rt
from fangyi.analytics.scan import Cluster, ScanResult, space_time_permutation_scan

__all__ = [
    "Cluster",
    "CusumResult",
    "DoublingTime",
    "EarsResult",
    "FarringtonResult",
    "GlrResult",
    "PoolSize",
    "Proportion",
    "RtResult",
    "ScanResult",
    "Threshold",
    "ThresholdResult",
    "cusum",
    "discretise_si",
    "dorfman_expected_tests",
    "doubling_time",
    "ears",
    "estimate_rt",
    "farrington_flexible",
    "farrington_threshold",
    "fixed_threshold",
    "glr_poisson",
    "moving_percentile",
    "optimal_pool_size",
    "positivity_rate",
    "space_time_permutation_scan",
]
