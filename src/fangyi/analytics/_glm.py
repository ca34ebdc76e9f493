"""Quasi-Poisson regression with log link fitted by iteratively reweighted least squares,
following R's `glm.fit` step for step (start μ = y + 0.1, convergence when the relative
change in deviance is below 1e-8, at most 25 iterations) so that results agree with R."""

from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

EPSILON = 1e-8
MAX_ITERATIONS = 25


@dataclass(frozen=True)
class QuasiPoissonFit:
    """A converged fit. `dispersion` is R's `summary.glm` estimate, Pearson χ² / residual
    degrees of freedom, *not* floored at 1."""

    coefficients: np.ndarray
    fitted: np.ndarray
    cov_unscaled: np.ndarray  # (Xᵀ W X)⁻¹ with the working weights W of the last iteration
    hat: np.ndarray
    dispersion: float
    df_residual: int

    def predict_link(
        self, x_new: np.ndarray, offset_new: float, dispersion: float
    ) -> tuple[float, float]:
        """Linear predictor at `x_new` and its standard error for the given dispersion (R's
        `predict.glm(se.fit = TRUE)`)."""
        eta = float(x_new @ self.coefficients) + offset_new
        se = float(np.sqrt(x_new @ self.cov_unscaled @ x_new * dispersion))
        return eta, se

    def p_value(self, column: int, dispersion: float) -> float:
        """Two-sided t-test of one coefficient, as R's `summary.glm` for a quasi family."""
        se = np.sqrt(dispersion * self.cov_unscaled[column, column])
        return float(2 * student_t.sf(abs(self.coefficients[column] / se), self.df_residual))


def fit_quasipoisson(
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None = None,
    offset: np.ndarray | None = None,
) -> QuasiPoissonFit | None:
    """Fit log E(y) = X β + offset with prior `weights`; None if IRLS does not converge."""
    weights = np.ones_like(y) if weights is None else weights
    offset = np.zeros_like(y) if offset is None else offset
    mu = y + 0.1
    eta = np.log(mu)
    deviance = _deviance(y, mu, weights)
    for _ in range(MAX_ITERATIONS):
        working_weights = weights * mu
        working_response = eta - offset + (y - mu) / mu
        root_w = np.sqrt(working_weights)
        q, r = np.linalg.qr(x * root_w[:, None])
        try:
            coefficients = np.linalg.solve(r, q.T @ (working_response * root_w))
        except np.linalg.LinAlgError:  # collinear design or fitted means underflowing to 0
            return None
        eta = x @ coefficients + offset
        mu = np.exp(eta)
        previous, deviance = deviance, _deviance(y, mu, weights)
        if abs(deviance - previous) / (abs(deviance) + 0.1) < EPSILON:
            break
    else:
        return None
    r_inverse = np.linalg.inv(r)
    df_residual = len(y) - x.shape[1]
    pearson = np.sum(working_weights * ((y - mu) / mu) ** 2)
    return QuasiPoissonFit(
        coefficients=coefficients,
        fitted=mu,
        cov_unscaled=r_inverse @ r_inverse.T,
        hat=np.sum(q**2, axis=1),
        dispersion=pearson / df_residual if df_residual > 0 else np.nan,
        df_residual=df_residual,
    )


def _deviance(y: np.ndarray, mu: np.ndarray, weights: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.where(y > 0, y * np.log(y / mu), 0.0)
    return float(2 * np.sum(weights * (log_ratio - (y - mu))))
