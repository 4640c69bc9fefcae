# Global maximum of the ML / REML profile log-likelihood of the random-effects model
# (intercept only) over tau2 >= 0, found by a fine grid and refined, independently of any
# optimiser's starting value. Sourced by make_engine_trust_fixtures.R and
# make_global_max_fixtures.R (issue 11).
#
# For a given tau2: w = 1/(vi + tau2), mu = sum(w y)/sum(w), r = y - mu,
#   ML   ll = -0.5 * (k log(2 pi) + sum(log(vi + tau2)) + sum(w r^2))
#   REML ll = -0.5 * ((k-1) log(2 pi) + sum(log(vi + tau2)) + log(sum(w)) + sum(w r^2))
#             + 0.5 * log(k)
# The last term is metafor's 0.5 * log|X'X| (rma(control = list(REMLf = TRUE)), the
# default), so both equal logLik(rma(...)) exactly; it does not depend on tau2.
# Score (d ll / d tau2):
#   ML   0.5 * (sum(w^2 r^2) - sum(w))
#   REML 0.5 * (sum(w^2 r^2) - sum(w) + sum(w^2) / sum(w))

profile_ll <- function(tau2, yi, vi, method) {
  # vectorised over tau2
  k <- length(yi)
  W <- 1 / outer(tau2, vi, "+")                 # length(tau2) x k
  sw <- rowSums(W)
  mu <- as.vector(W %*% yi) / sw
  rss <- rowSums(W * (matrix(yi, nrow(W), k, byrow = TRUE) - mu)^2)
  sl <- rowSums(log(outer(tau2, vi, "+")))
  if (method == "ML") -0.5 * (k * log(2 * pi) + sl + rss)
  else -0.5 * ((k - 1) * log(2 * pi) + sl + log(sw) + rss) + 0.5 * log(k)
}

profile_score <- function(tau2, yi, vi, method) {
  w <- 1 / (vi + tau2)
  mu <- sum(w * yi) / sum(w)
  s <- sum(w^2 * (yi - mu)^2) - sum(w)
  if (method == "REML") s <- s + sum(w^2) / sum(w)
  0.5 * s
}

at_tau2 <- function(tau2, yi, vi, method) {
  w <- 1 / (vi + tau2)
  list(tau2 = tau2, estimate = sum(w * yi) / sum(w), se = sqrt(1 / sum(w)),
       ll = profile_ll(tau2, yi, vi, method))
}

# Grid: 0 plus `per_decade` log-spaced points per decade from 1e-8 to
# upper = 100 * max(var(y), max(vi)). Every grid local maximum is refined with
# optimize(tol = 1e-14) on its two neighbouring grid cells and then polished by uniroot()
# on the analytic score, which changes sign there: near a maximum the log-likelihood is
# flat to rounding over a relative width ~1e-8 (more where the curvature is small), so
# optimize() alone fixes tau2 only to ~1e-8..1e-5 relative while the score root is good
# to ~1e-15. The score root is used whenever the bracket holds (always, in practice);
# `optimize_rel_diff` reports how far optimize() was from it.
# Returns the global maximum, all local maxima (the boundary tau2 = 0 counts as one when
# the score there is <= 0), their number, and `ll_gap`: the best log-likelihood minus the
# second best peak's (Inf with one peak), so near-ties can be told apart.
global_max <- function(yi, vi, method, per_decade = 400) {
  upper <- 100 * max(if (length(yi) > 1) var(yi) else 0, max(vi))
  lg <- log10(upper)
  grid <- c(0, 10^seq(-8, lg, length.out = max(2, ceiling((lg + 8) * per_decade))))
  v <- profile_ll(grid, yi, vi, method)
  n <- length(grid)
  peaks <- list()
  boundary <- profile_score(0, yi, vi, method) <= 0
  if (boundary) peaks[[1]] <- c(at_tau2(0, yi, vi, method),
                                list(where = "boundary", optimize_rel_diff = 0))
  interior <- which(v[2:(n - 1)] >= v[1:(n - 2)] & v[2:(n - 1)] > v[3:n]) + 1
  if (v[n] > v[n - 1]) stop("profile likelihood still rising at the grid's upper end")
  for (i in interior) {
    lo <- grid[i - 1]; hi <- grid[i + 1]
    opt <- optimize(function(t) profile_ll(t, yi, vi, method), c(lo, hi), maximum = TRUE,
                    tol = 1e-14)$maximum
    s_lo <- profile_score(lo, yi, vi, method); s_hi <- profile_score(hi, yi, vi, method)
    t2 <- if (s_lo > 0 && s_hi < 0) {
      uniroot(function(t) profile_score(t, yi, vi, method), c(lo, hi), tol = 1e-300,
              maxiter = 10000)$root
    } else opt
    if (t2 <= 0) next      # a grid bump at the boundary: already counted above
    peaks[[length(peaks) + 1]] <- c(at_tau2(t2, yi, vi, method),
                                    list(where = "interior", optimize_rel_diff = abs(opt - t2) / t2))
  }
  lls <- vapply(peaks, function(p) p$ll, 0)
  o <- order(lls, decreasing = TRUE)
  list(best = peaks[[o[1]]], peaks = peaks,
       n_interior = sum(vapply(peaks, function(p) p$where == "interior", TRUE)),
       boundary_max = boundary,
       ll_gap = if (length(peaks) > 1) lls[o[1]] - lls[o[2]] else Inf)
}
