# Reference values for the pooling engine (evidence/effects.py, pooling.py, moderators.py),
# produced by R metafor 3.8 on metadat datasets. Run from this directory:
#     Rscript make_fixtures.R
# Writes pooling_fixtures.json. CI never runs R: the JSON is committed.
#
# Convergence is tightened so the fixtures are exact to well below 1e-6 relative:
# rma(control = list(threshold = 1e-12, tol = 1e-12)) (Fisher scoring and uniroot for PM)
# and confint(control = list(tol = 1e-12)) (uniroot; the default tol is ~1e-4). The tau2
# interval is the profile-likelihood one (type = "PL") for ML and REML, which contains
# their estimate, and the Q-profile one (type = "QP", metafor's default) for the other
# estimators (issue 18 item 11).

suppressMessages(library(metafor))
library(jsonlite)

CONTROL <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
METHODS <- c("FE", "DL", "HE", "HS", "SJ", "PM", "EB", "ML", "REML")
TESTS <- c("z", "knha")

num <- function(x) if (is.null(x) || length(x) == 0 || all(is.na(x))) NULL else unname(as.numeric(x))

fit_record <- function(res, method, test) {
  pred <- predict(res)
  out <- list(
    method = method, test = test, k = res$k,
    estimate = num(res$b[1]), se = num(res$se[1]), statistic = num(res$zval[1]),
    df = if (test == "knha") num(res$ddf) else NULL, p = num(res$pval[1]),
    ci = num(c(res$ci.lb[1], res$ci.ub[1])),
    pi = if (method == "FE") NULL else num(c(pred$pi.lb, pred$pi.ub)),
    tau2 = num(res$tau2), i2 = num(res$I2), h2 = num(res$H2),
    q = num(res$QE), q_df = res$k - res$p, q_p = num(res$QEp)
  )
  if (method != "FE" && res$k > 1) {
    type <- if (method %in% c("ML", "REML")) "PL" else "QP"
    ci <- confint(res, type = type, control = list(tol = 1e-12))$random
    out$tau2_ci <- num(ci["tau^2", 2:3])
    out$tau_ci <- num(ci["tau", 2:3])
    out$i2_ci <- num(ci["I^2(%)", 2:3])
    out$h2_ci <- num(ci["H^2", 2:3])
  }
  out
}

all_fits <- function(yi, vi) {
  fits <- list()
  for (method in METHODS) for (test in TESTS) {
    res <- tryCatch(
      suppressWarnings(rma(yi, vi, method = method, test = test, control = CONTROL)),
      error = function(e) NULL)
    if (!is.null(res)) fits[[length(fits) + 1]] <- fit_record(res, method, test)
  }
  fits
}

regression_record <- function(res, mods_desc, method, test) {
  list(
    mods = mods_desc, method = method, test = test, k = res$k,
    names = rownames(res$b), estimate = num(res$b), se = num(res$se),
    statistic = num(res$zval), p = num(res$pval),
    ci_lower = num(res$ci.lb), ci_upper = num(res$ci.ub),
    qm = num(res$QM), qm_df = num(res$QMdf[1]),
    qm_df_denominator = if (test == "knha") num(res$QMdf[2]) else NULL,
    qm_p = num(res$QMp), r2 = num(res$R2), tau2 = num(res$tau2),
    i2 = num(res$I2), h2 = num(res$H2), qe = num(res$QE), qe_p = num(res$QEp)
  )
}

regressions <- function(data, formula, moderators) {
  out <- list()
  for (method in METHODS) for (test in TESTS) {
    res <- tryCatch(suppressWarnings(rma(yi, vi, mods = formula, data = data, method = method,
                                         test = test, control = CONTROL)),
                    error = function(e) NULL)
    if (!is.null(res)) out[[length(out) + 1]] <- regression_record(res, moderators, method, test)
  }
  out
}

subgroup_record <- function(data, group, method = "REML", test = "z") {
  levels <- sort(unique(as.character(data[[group]])))
  fits <- lapply(levels, function(l) rma(yi, vi, data = data[data[[group]] == l, ],
                                         method = method, test = test, control = CONTROL))
  est <- sapply(fits, function(f) f$b[1])
  se <- sapply(fits, function(f) f$se)
  between <- rma(est, sei = se, method = "FE")
  preds <- lapply(fits, predict)
  list(group = group, method = method, test = test, levels = levels,
       estimate = num(est), se = num(se), tau2 = num(sapply(fits, function(f) f$tau2)),
       ci_lb = num(sapply(fits, function(f) f$ci.lb)),
       ci_ub = num(sapply(fits, function(f) f$ci.ub)),
       pi_lb = num(sapply(preds, function(p) p$pi.lb)),
       pi_ub = num(sapply(preds, function(p) p$pi.ub)),
       p = num(sapply(fits, function(f) f$pval)), q = num(sapply(fits, function(f) f$QE)),
       i2 = num(sapply(fits, function(f) f$I2)), k = sapply(fits, function(f) f$k),
       q_between = num(between$QE), q_between_df = length(levels) - 1,
       q_between_p = num(between$QEp))
}

# Small-study-effect tests on every dataset (issue 4 asks for them on each): regtest()
# (default mixed-effects model, sei as predictor; z and knha), ranktest(), trimfill() with
# L0 and R0, all from the REML fit. NULL where metafor refuses (e.g. k = 2).
bias_record <- function(yi, vi) {
  fit <- rma(yi, vi, method = "REML", control = CONTROL)
  fit_knha <- rma(yi, vi, method = "REML", test = "knha", control = CONTROL)
  safe <- function(expr) tryCatch(suppressWarnings(expr), error = function(e) NULL)
  reg <- function(r) if (is.null(r)) NULL else
    list(statistic = num(r$zval), p = num(r$pval), df = num(r$dfs),
         limit_estimate = num(r$est), limit_ci = num(c(r$ci.lb, r$ci.ub)))
  tf <- function(r) if (is.null(r)) NULL else
    list(k0 = num(r$k0), side = r$side, estimate = num(r$beta), se = num(r$se),
         ci = num(c(r$ci.lb, r$ci.ub)), tau2 = num(r$tau2),
         filled_yi = num(r$yi[r$fill]), filled_vi = num(r$vi[r$fill]))
  rank <- safe(ranktest(fit))
  # trimfill() passes control on to its refits (the default threshold is 1e-5).
  list(regtest = reg(safe(regtest(fit))), regtest_knha = reg(safe(regtest(fit_knha))),
       ranktest = if (is.null(rank)) NULL else list(tau = num(rank$tau), p = num(rank$pval)),
       trimfill_L0 = tf(safe(trimfill(fit, estimator = "L0", control = CONTROL))),
       trimfill_R0 = tf(safe(trimfill(fit, estimator = "R0", control = CONTROL))))
}

dataset <- function(name, paper, measure, escalc_args, raw_columns, data,
                    formula = NULL, moderators = NULL, subgroup = NULL, extra = list()) {
  dat <- do.call(escalc, c(list(measure = measure, data = data), escalc_args))
  keep <- !is.na(dat$yi)
  dat <- dat[keep, ]
  inputs <- lapply(raw_columns, function(col) num(data[[col]]))
  names(inputs) <- raw_columns
  rec <- list(name = name, paper = paper, measure = measure, inputs = inputs,
              escalc = list(yi = num(dat$yi), vi = num(dat$vi)), kept = which(keep),
              fits = all_fits(dat$yi, dat$vi), bias = bias_record(dat$yi, dat$vi))
  if (!is.null(formula)) rec$regressions <- regressions(dat, formula, moderators)
  if (!is.null(subgroup)) rec$subgroups <- list(subgroup_record(dat, subgroup),
                                                subgroup_record(dat, subgroup, "DL", "knha"))
  if (!is.null(moderators)) {
    rec$moderators <- lapply(moderators, function(m) {
      v <- dat[[m]]
      if (is.numeric(v)) num(v) else as.character(v)
    })
    names(rec$moderators) <- moderators
  }
  c(rec, extra)
}

bcg <- dat.bcg
hine <- dat.hine1989
yusuf6 <- dat.yusuf1985[dat.yusuf1985$table == "6", ]
datasets <- list(
  # Colditz et al. (1994) JAMA 271:698, BCG vaccine trials: log risk ratio, moderators.
  dataset("dat.bcg", "Colditz 1994", "RR", list(ai = quote(tpos), bi = quote(tneg),
          ci = quote(cpos), di = quote(cneg)), c("tpos", "tneg", "cpos", "cneg"), bcg,
          formula = ~ ablat + alloc, moderators = c("ablat", "alloc"), subgroup = "alloc"),
  dataset("dat.bcg", "Colditz 1994", "OR", list(ai = quote(tpos), bi = quote(tneg),
          ci = quote(cpos), di = quote(cneg)), c("tpos", "tneg", "cpos", "cneg"), bcg,
          formula = ~ ablat, moderators = c("ablat")),
  # k = 2: the first two BCG trials.
  dataset("dat.bcg[1:2]", "Colditz 1994 (trials 1-2)", "RR", list(ai = quote(tpos),
          bi = quote(tneg), ci = quote(cpos), di = quote(cneg)),
          c("tpos", "tneg", "cpos", "cneg"), bcg[1:2, ]),
  # Normand (1999) Stat Med 18:321, length of hospital stay: MD and SMD.
  dataset("dat.normand1999", "Normand 1999", "MD", list(m1i = quote(m1i), sd1i = quote(sd1i),
          n1i = quote(n1i), m2i = quote(m2i), sd2i = quote(sd2i), n2i = quote(n2i)),
          c("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"), dat.normand1999),
  dataset("dat.normand1999", "Normand 1999", "SMD", list(m1i = quote(m1i), sd1i = quote(sd1i),
          n1i = quote(n1i), m2i = quote(m2i), sd2i = quote(sd2i), n2i = quote(n2i)),
          c("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"), dat.normand1999),
  # Molloy et al. (2014) conscientiousness and medication adherence: correlations.
  dataset("dat.molloy2014", "Molloy 2014", "ZCOR", list(ri = quote(ri), ni = quote(ni)),
          c("ri", "ni"), dat.molloy2014, formula = ~ meanage, moderators = c("meanage")),
  dataset("dat.molloy2014", "Molloy 2014", "COR", list(ri = quote(ri), ni = quote(ni)),
          c("ri", "ni"), dat.molloy2014),
  # Niel-Weise et al. (2007) anti-infective catheters: zero cells (one double zero).
  dataset("dat.nielweise2007", "Niel-Weise 2007", "OR", list(ai = quote(ai), n1i = quote(n1i),
          ci = quote(ci), n2i = quote(n2i)), c("ai", "n1i", "ci", "n2i"), dat.nielweise2007),
  dataset("dat.nielweise2007 to=all", "Niel-Weise 2007", "OR", list(ai = quote(ai),
          n1i = quote(n1i), ci = quote(ci), n2i = quote(n2i), to = "all"),
          c("ai", "n1i", "ci", "n2i"), dat.nielweise2007, extra = list(to = "all")),
  # Yusuf et al. (1985) beta blockers, table 6: zero and double-zero cells, kept and dropped.
  dataset("dat.yusuf1985 table 6", "Yusuf 1985", "OR", list(ai = quote(ai), n1i = quote(n1i),
          ci = quote(ci), n2i = quote(n2i)), c("ai", "n1i", "ci", "n2i"), yusuf6),
  dataset("dat.yusuf1985 table 6 drop00", "Yusuf 1985", "RR", list(ai = quote(ai),
          n1i = quote(n1i), ci = quote(ci), n2i = quote(n2i), drop00 = TRUE),
          c("ai", "n1i", "ci", "n2i"), yusuf6, extra = list(drop00 = TRUE)),
  # Hine et al. (1989) lidocaine after MI: risk differences, homogeneous (tau2 = 0).
  dataset("dat.hine1989", "Hine 1989", "RD", list(ai = quote(ai), n1i = quote(n1i),
          ci = quote(ci), n2i = quote(n2i)), c("ai", "n1i", "ci", "n2i"), hine),
  # Curtis et al. (1998) CO2 and plant mass: log ratio of means, k = 102 > 60.
  dataset("dat.curtis1998", "Curtis 1998", "ROM", list(m1i = quote(m1i), sd1i = quote(sd1i),
          n1i = quote(n1i), m2i = quote(m2i), sd2i = quote(sd2i), n2i = quote(n2i)),
          c("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"), dat.curtis1998,
          formula = ~ time + fungrp, moderators = c("time", "fungrp"), subgroup = "fungrp"),
  # Pritz (1997) proportions: PR and logit.
  dataset("dat.pritz1997", "Pritz 1997", "PLO", list(xi = quote(xi), ni = quote(ni)),
          c("xi", "ni"), dat.pritz1997),
  dataset("dat.pritz1997", "Pritz 1997", "PR", list(xi = quote(xi), ni = quote(ni)),
          c("xi", "ni"), dat.pritz1997),
  # Hart et al. (1999) warfarin and stroke: incidence rate ratios.
  dataset("dat.hart1999", "Hart 1999", "IRR", list(x1i = quote(x1i), t1i = quote(t1i),
          x2i = quote(x2i), t2i = quote(t2i)), c("x1i", "t1i", "x2i", "t2i"), dat.hart1999),
  # Raudenbush (1985) teacher expectancy: precomputed yi/vi, moderator weeks.
  dataset("dat.raudenbush1985", "Raudenbush 1985", "GEN", list(yi = quote(yi), vi = quote(vi)),
          c("yi", "vi"), dat.raudenbush1985, formula = ~ weeks, moderators = c("weeks"))
)

# Confidence level other than 95%: dat.bcg log RR, every tau2 estimator, level = 90.
bcg_rr <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
level90 <- list()
for (method in setdiff(METHODS, "FE")) for (test in TESTS) {
  res <- rma(yi, vi, data = bcg_rr, method = method, test = test, level = 90, control = CONTROL)
  pred <- predict(res)
  type <- if (method %in% c("ML", "REML")) "PL" else "QP"
  ci <- confint(res, type = type, control = list(tol = 1e-12))$random
  level90[[length(level90) + 1]] <- list(
    method = method, test = test, level = 90, ci = num(c(res$ci.lb, res$ci.ub)),
    pi = num(c(pred$pi.lb, pred$pi.ub)), tau2_ci = num(ci["tau^2", 2:3]),
    i2_ci = num(ci["I^2(%)", 2:3]))
}

out <- list(metafor_version = as.character(packageVersion("metafor")),
            control = CONTROL, datasets = datasets, level90 = level90)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null",
                  pretty = TRUE), "pooling_fixtures.json")
cat("wrote pooling_fixtures.json:", length(datasets), "datasets\n")

# A dataset where metafor's Fisher scoring oscillates and stops with an error
# (row 78 of the seed-2024 simulation in benchmarks/pooling.py, saved as
# oscillating_reml.csv) within its default maxiter = 100; halving the step (stepadj = 0.5) converges to the REML estimate.
osc <- read.csv("oscillating_reml.csv")
failed <- inherits(try(rma(yi, vi, data = osc, method = "REML", control = list(threshold = 1e-12)),
                       silent = TRUE), "try-error")
res <- rma(yi, vi, data = osc, method = "REML", control = c(CONTROL, list(stepadj = 0.5)))
writeLines(toJSON(list(default_fails = failed, tau2 = num(res$tau2), estimate = num(res$b),
                       se = num(res$se)), auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "oscillating_reml.json")
