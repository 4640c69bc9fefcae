# Differential test data for issue 11: the GLOBAL maximum of the ML and REML
# (restricted) log-likelihood of the random-effects model on thousands of small random
# datasets, found by a fine grid plus refinement (global_max_helpers.R), not where an
# optimiser stops; beside it what metafor's rma() returns, and EB and PM from metafor.
#
# Run from this directory:  Rscript make_global_max_fixtures.R      (about 10 minutes)
# Writes (CI never runs R; the files are committed):
#   global_max_inputs.csv   dataset,yi,vi (long format; inputs with 6 significant digits,
#                           read back from this file before anything is computed, so
#                           Python parsing the CSV sees exactly the same doubles)
#   global_max.json         per dataset (columnar): k, group, and for ML and REML the
#                           global maximum (tau2, estimate, se = sqrt(1/sum(w)), ll), the
#                           number of interior local maxima, whether tau2 = 0 is a local
#                           maximum, ll_gap (best minus second-best peak) and the other
#                           peak's tau2
#   global_max_metafor.json per dataset: metafor rma() for ML and REML (tight control and
#                           default control: tau2, ll, whether it is the global maximum),
#                           EB and PM (tau2, estimate, se); a summary of the counts
#   global_max_loo.json     leave-one-out on 300 of the datasets (every dataset with two
#                           interior maxima first, then other two-peak ones, then single-peak
#                           ones): the global maximum of each deletion fit, ML and REML
#
# Datasets 1..3000 are random (set.seed(11)); k is 3 to 10; every third one has one
# imprecise, far-off study (variance 3 to 100 times the largest other one, 2 to 8 of its
# standard errors from the others' mean), which is what gives the likelihood two peaks.
# Datasets 3001.. are fixed edge cases (see `special`).
#
# Log-likelihoods follow metafor (REML includes +0.5 log k, metafor's REMLf = TRUE); the
# script stops unless the closed form equals logLik(rma()) at metafor's own solution.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})
source("global_max_helpers.R")

N_RANDOM <- 3000
N_LOO <- 300
TIGHT <- list(threshold = 1e-10, maxiter = 1000)
EXACT <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000, tau2.max = 1e6)  # EB (iterated), PM (uniroot up to tau2.max)

# ---------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------
set.seed(11)
random_dataset <- function(outlier) {
  k <- sample(3:10, 1)
  scale <- 10^runif(1, -1, 0.5)                        # log ratios .. standardised scales
  vi <- if (runif(1) < 0.5) (0.05 * rchisq(k, df = 2) / 2 + 0.001) * scale
        else runif(k, 0.002, 0.1) * scale
  tau2 <- if (runif(1) < 0.3) 0 else rexp(1, 1 / 0.03) * scale
  mu <- rnorm(1, 0, 0.5)
  yi <- mu + rnorm(k, 0, sqrt(vi + tau2))
  if (outlier) {
    j <- sample(k, 1)
    vi[j] <- max(vi[-j]) * exp(runif(1, log(3), log(100)))
    yi[j] <- mean(yi[-j]) + sample(c(-1, 1), 1) * runif(1, 2, 8) * sqrt(vi[j])
  }
  list(yi = signif(yi, 6), vi = signif(vi, 6),
       group = if (outlier) "outlier" else "random")
}
datasets <- lapply(seq_len(N_RANDOM), function(i) random_dataset(i %% 3 == 0))

osc <- read.csv("oscillating_reml.csv")
special <- list(
  # issue 11: ties-mi-survival without Hakulinen 2018 (boundary and interior REML peaks)
  list(yi = c(0.300105, 0.636577, 0.072571, 0.127833),
       vi = c(0.033681, 0.053448, 0.005504, 0.004446)),
  list(yi = c(0.2, 0.2, 0.2), vi = c(0.01, 0.02, 0.04)),              # identical effects
  list(yi = c(0.1, 0.5, -0.2, 0.3, 0.0), vi = rep(0.02, 5)),          # equal variances
  list(yi = c(-3, 0.5, 4, 1, -1.5), vi = c(0.001, 0.002, 0.001, 0.003, 0.002)),  # huge tau2
  list(yi = c(0.01, 0.02, 2.5), vi = c(0.0001, 0.0001, 0.5)),         # one far-off study, k = 3
  list(yi = signif(osc$yi, 6), vi = signif(osc$vi, 6)))               # oscillating_reml.csv (k = 20)
for (s in special) datasets[[length(datasets) + 1]] <- c(s, list(group = "special"))

inputs <- do.call(rbind, lapply(seq_along(datasets), function(i)
  data.frame(dataset = i, yi = datasets[[i]]$yi, vi = datasets[[i]]$vi)))
write.csv(inputs, "global_max_inputs.csv", row.names = FALSE, quote = FALSE)
back <- read.csv("global_max_inputs.csv")       # compute from exactly what is committed
stopifnot(nrow(back) == nrow(inputs))
groups <- vapply(datasets, function(d) d$group, "")
datasets <- lapply(split(back, back$dataset), function(d) list(yi = d$yi, vi = d$vi))
n <- length(datasets)

# ---------------------------------------------------------------------------------------
# Global maxima and metafor
# ---------------------------------------------------------------------------------------
try_rma <- function(yi, vi, method, control) {
  tryCatch(suppressWarnings(rma(yi, vi, method = method, control = control)),
           error = function(e) NULL)
}
# where metafor stopped relative to the global maximum:
#   "global"        tau2 within 1e-6 relative (both below 1e-8 count as equal)
#   "near_global"   closest to the global maximum's peak but not within 1e-6 (stopped early)
#   "lower_peak"    at (closest to) another local maximum, with a lower likelihood
#   "zero_not_max"  tau2 = 0 although 0 is not a local maximum (score > 0 there): metafor's
#                   ll0check replaces a lower interior peak by 0 when ll(0) is higher
#   "error"         rma() stopped with an error (e.g. Fisher scoring did not converge)
classify <- function(fit, g) {
  if (is.null(fit)) return("error")
  if (same_tau2(fit$tau2, g$best$tau2)) return("global")
  if (fit$tau2 == 0 && !g$boundary_max) return("zero_not_max")
  d <- vapply(g$peaks, function(p) abs(fit$tau2 - p$tau2), 0)
  if (identical(g$peaks[[which.min(d)]], g$best)) "near_global" else "lower_peak"
}
WHERE <- c("global", "near_global", "lower_peak", "zero_not_max", "error")
same_tau2 <- function(a, b) (a < 1e-8 && b < 1e-8) || abs(a - b) <= 1e-6 * max(abs(a), abs(b))

col <- function() vector("list", n)
G <- list(REML = list(), ML = list())
M <- list(REML = list(), ML = list(), EB = list(), PM = list())
selftest <- c(REML = 0, ML = 0)
max_opt_diff <- 0
for (i in seq_len(n)) {
  yi <- datasets[[i]]$yi; vi <- datasets[[i]]$vi
  for (m in c("REML", "ML")) {
    g <- global_max(yi, vi, m)
    max_opt_diff <- max(max_opt_diff, vapply(g$peaks, function(p) p$optimize_rel_diff, 0))
    other <- Filter(function(p) !identical(p, g$best), g$peaks)
    G[[m]][[i]] <- list(tau2 = g$best$tau2, estimate = g$best$estimate, se = g$best$se,
                        ll = g$best$ll, n_interior = g$n_interior,
                        boundary = g$boundary_max, n_peaks = length(g$peaks),
                        ll_gap = if (is.finite(g$ll_gap)) g$ll_gap else NA,
                        other_tau2 = if (length(other)) other[[1]]$tau2 else NA)
    tight <- try_rma(yi, vi, m, TIGHT)
    default <- try_rma(yi, vi, m, list())
    iter <- try_rma(yi, vi, m, c(TIGHT, list(ll0check = FALSE)))
    for (f in list(tight, default, iter)) if (!is.null(f)) {
      # self-test: the closed form is metafor's log-likelihood
      d <- abs(profile_ll(f$tau2, yi, vi, m) - as.numeric(logLik(f)))
      selftest[m] <- max(selftest[m], d)
      # and the grid's maximum is never below metafor's solution
      if (as.numeric(logLik(f)) > g$best$ll + 1e-10)
        stop(sprintf("dataset %d %s: metafor ll %.15g above the grid maximum %.15g",
                     i, m, as.numeric(logLik(f)), g$best$ll))
    }
    M[[m]][[i]] <- list(
      tau2 = if (is.null(tight)) NA else tight$tau2,
      ll = if (is.null(tight)) NA else as.numeric(logLik(tight)),
      where = classify(tight, g),
      tau2_default = if (is.null(default)) NA else default$tau2,
      where_default = classify(default, g),
      tau2_iteration = if (is.null(iter)) NA else iter$tau2,
      where_iteration = classify(iter, g))
  }
  for (m in c("EB", "PM")) {
    f <- try_rma(yi, vi, m, EXACT)
    M[[m]][[i]] <- if (is.null(f)) list(tau2 = NA, estimate = NA, se = NA)
                   else list(tau2 = f$tau2, estimate = as.numeric(f$b), se = f$se)
  }
}
stopifnot(selftest < 1e-9)

columns <- function(rows) {     # list of records -> record of columns (arrays)
  keys <- names(rows[[1]])
  out <- lapply(keys, function(key) {
    v <- lapply(rows, function(r) r[[key]])
    if (all(lengths(v) == 1)) unlist(v) else v
  })
  names(out) <- keys
  out
}
k <- vapply(datasets, function(d) length(d$yi), 0L)
two_interior <- function(m) vapply(G[[m]], function(r) r$n_interior >= 2, TRUE)
two_peaks <- function(m) vapply(G[[m]], function(r) r$n_peaks >= 2, TRUE)
count_where <- function(m, key) as.list(table(factor(vapply(M[[m]], function(r) r[[key]], ""),
  levels = WHERE)))

summary <- list(
  n_datasets = n, n_random = N_RANDOM, n_special = n - N_RANDOM,
  two_interior_maxima = list(REML = sum(two_interior("REML")), ML = sum(two_interior("ML"))),
  two_or_more_peaks_incl_boundary = list(REML = sum(two_peaks("REML")),
                                         ML = sum(two_peaks("ML"))),
  metafor_tight = list(REML = count_where("REML", "where"), ML = count_where("ML", "where")),
  metafor_default = list(REML = count_where("REML", "where_default"),
                         ML = count_where("ML", "where_default")),
  metafor_iteration_without_ll0check = list(REML = count_where("REML", "where_iteration"),
                                            ML = count_where("ML", "where_iteration")),
  selftest_max_abs_ll_diff = as.list(selftest),
  optimize_vs_score_root_max_rel_diff = max_opt_diff,
  eb_pm = list(
    note = paste("for the intercept-only model metafor's EB and PM solve the same equation",
                 "(generalised Q = k - 1); counted: datasets where they differ beyond 1e-6",
                 "relative (absolute below 1e-8), and where either fails"),
    differ = sum(mapply(function(a, b) !is.na(a) && !is.na(b) && !same_tau2(a, b),
                        sapply(M$EB, `[[`, "tau2"), sapply(M$PM, `[[`, "tau2"))),
    eb_errors = sum(is.na(sapply(M$EB, `[[`, "tau2"))),
    pm_errors = sum(is.na(sapply(M$PM, `[[`, "tau2")))))

meta <- list(
  generated_by = "tests/reference/make_global_max_fixtures.R",
  metafor_version = as.character(packageVersion("metafor")),
  inputs = "global_max_inputs.csv (dataset is 1-based; rows in order)",
  grid = paste("0 plus 400 log-spaced points per decade from 1e-8 to",
               "100 * max(var(yi), max(vi)); each grid local maximum refined by optimize()",
               "(tol 1e-14) and polished by uniroot() on the analytic score"),
  loglik_convention = paste("metafor's: ML ll = -0.5 (k log 2pi + sum log(vi+tau2) +",
    "sum w r^2); REML ll = -0.5 ((k-1) log 2pi + sum log(vi+tau2) + log sum w + sum w r^2)",
    "+ 0.5 log k"),
  compare = paste("tau2 to 1e-6 relative, or absolutely when below 1e-8; where ll_gap is",
                  "below ~1e-9 the two peaks tie and either is a global maximum"))

writeLines(toJSON(c(meta, list(
  summary = summary, k = k, group = groups,
  REML = columns(G$REML), ML = columns(G$ML))),
  auto_unbox = TRUE, digits = NA, na = "null"), "global_max.json")
writeLines(toJSON(c(meta, list(
  control_tight = TIGHT, control_eb_pm = EXACT,
  note = paste("tau2/ll/where: rma(method, control = control_tight); *_default: rma() with",
               "metafor's default control; *_iteration: control_tight plus ll0check = FALSE,",
               "i.e. where the Fisher scoring itself stops before metafor compares with",
               "tau2 = 0. where: global, near_global, lower_peak, zero_not_max or error (see",
               "classify() in the script). EB and PM: control_eb_pm; estimate and se are",
               "the z-test ones (sqrt(1/sum(w)))."),
  summary = summary,
  REML = columns(M$REML), ML = columns(M$ML), EB = columns(M$EB), PM = columns(M$PM))),
  auto_unbox = TRUE, digits = NA, na = "null"), "global_max_metafor.json")

# ---------------------------------------------------------------------------------------
# Leave-one-out on N_LOO datasets
# ---------------------------------------------------------------------------------------
random_ids <- seq_len(N_RANDOM)
ti <- random_ids[two_interior("REML")[random_ids] | two_interior("ML")[random_ids]]
tp <- setdiff(random_ids[two_peaks("REML")[random_ids] | two_peaks("ML")[random_ids]], ti)
rest <- setdiff(random_ids, c(ti, tp))
n_single <- 50
pick <- c(ti, tp)[seq_len(min(length(ti) + length(tp), N_LOO - n_single))]
pick <- sort(c(pick, rest[seq_len(N_LOO - length(pick))]))

loo <- list(REML = list(), ML = list())
loo_where <- list(REML = character(), ML = character())
for (m in c("REML", "ML")) for (j in seq_along(pick)) {
  yi <- datasets[[pick[j]]]$yi; vi <- datasets[[pick[j]]]$vi
  gl <- lapply(seq_along(yi), function(i) global_max(yi[-i], vi[-i], m))
  full <- try_rma(yi, vi, m, TIGHT)
  l1o <- if (is.null(full)) NULL else suppressWarnings(leave1out(full))
  mt <- if (is.null(l1o)) rep(NA_real_, length(yi)) else as.numeric(l1o$tau2)
  loo_where[[m]] <- c(loo_where[[m]], vapply(seq_along(yi), function(i)
    classify(if (is.na(mt[i])) NULL else list(tau2 = mt[i]), gl[[i]]), ""))
  loo[[m]][[j]] <- list(
    tau2 = vapply(gl, function(g) g$best$tau2, 0),
    estimate = vapply(gl, function(g) g$best$estimate, 0),
    se = vapply(gl, function(g) g$best$se, 0),
    n_peaks = vapply(gl, function(g) length(g$peaks), 0L),
    ll_gap = vapply(gl, function(g) if (is.finite(g$ll_gap)) g$ll_gap else NA_real_, 0),
    metafor_tau2 = mt)
}
loo_summary <- list(
  n_datasets = length(pick), n_fits = sum(k[pick]),
  with_two_interior_maxima = sum(pick %in% ti), with_boundary_and_interior = sum(pick %in% tp),
  single_peak = sum(pick %in% rest),
  deletion_fits_with_two_peaks = lapply(loo, function(L) sum(unlist(lapply(L, `[[`, "n_peaks")) >= 2)),
  metafor_leave1out = lapply(loo_where, function(w) as.list(table(factor(w, levels = WHERE)))))
writeLines(toJSON(c(meta, list(
  note = paste("datasets: 1-based ids into global_max_inputs.csv; for each, and each method,",
               "arrays over the deleted row i (the fit without row i): global-maximum tau2,",
               "estimate, se, number of peaks, ll_gap, and metafor leave1out() tau2 (from",
               "rma(control = control_tight); null where metafor failed)."),
  control_tight = TIGHT, summary = loo_summary, datasets = pick,
  REML = columns(loo$REML), ML = columns(loo$ML))),
  auto_unbox = TRUE, digits = NA, na = "null"), "global_max_loo.json")

str(summary)
str(loo_summary)
cat("wrote global_max_inputs.csv, global_max.json, global_max_metafor.json, global_max_loo.json\n")
