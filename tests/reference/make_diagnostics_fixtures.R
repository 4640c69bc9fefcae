# Reference values for evidence.stats.sensitivity, evidence.stats.bias, evidence.stats.dependence and
# evidence.stats.permutation, computed with R metafor 3.8 and clubSandwich.
#
# Run from this directory:  Rscript make_diagnostics_fixtures.R
# Writes diagnostics_sensitivity.json, diagnostics_bias.json, diagnostics_dependence.json
# and diagnostics_permutation.json next to this script. CI never runs R: the JSON is
# committed. Every input (yi, vi, clusters, moderators) is written into the JSON too, so
# the Python tests need nothing but these files.

suppressPackageStartupMessages({
  library(metafor)
  library(clubSandwich)
  library(jsonlite)
})

source("global_max_helpers.R")
tight <- list(threshold = 1e-10, maxiter = 1000)

# The global maximum of the ML/REML likelihood (global_max_helpers.R) of every cumulative
# step and every leave-one-out fit: metafor's Fisher scoring can stop at a lower peak
# (issue 11), and the engine returns the global one. One-study steps are the study itself.
global_fits <- function(yi, vi, method, subsets) {
  if (!(method %in% c("ML", "REML"))) return(NULL)
  g <- lapply(subsets, function(rows) {
    if (length(rows) < 2) return(list(tau2 = 0, estimate = yi[rows], se = sqrt(vi[rows])))
    global_max(yi[rows], vi[rows], method)$best
  })
  list(tau2 = vapply(g, function(x) x$tau2, 0), estimate = vapply(g, function(x) x$estimate, 0),
       se_z = vapply(g, function(x) x$se, 0))
}
cumul_subsets <- function(key) {
  ord <- order(key)
  lapply(seq_along(ord), function(j) ord[seq_len(j)])
}
l1o_subsets <- function(n) lapply(seq_len(n), function(i) setdiff(seq_len(n), i))
write_fixture <- function(x, file) {
  x$generated_by <- "tests/reference/make_diagnostics_fixtures.R"
  x$metafor_version <- as.character(packageVersion("metafor"))
  x$clubSandwich_version <- as.character(packageVersion("clubSandwich"))
  writeLines(toJSON(x, auto_unbox = TRUE, digits = NA, null = "null", na = "null",
                    pretty = TRUE), file)
}
num <- function(x) unname(as.numeric(x))

# ---------------------------------------------------------------------------------------
# Univariate datasets: name, paper, yi, vi, a sort key for the cumulative meta-analysis
# (publication year; ties keep input order). The JSON stores the zero-based order used.
# ---------------------------------------------------------------------------------------
univariate <- list()

bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
univariate$bcg <- list(paper = "Colditz 1994 (BCG vaccine trials)", yi = num(bcg$yi),
                       vi = num(bcg$vi), key = bcg$year, year = bcg$year,
                       ablat = bcg$ablat)

hack <- dat.hackshaw1998
univariate$hackshaw1998 <- list(paper = "Hackshaw 1998 (passive smoking and lung cancer)",
                                yi = num(hack$yi), vi = num(hack$vi),
                                key = hack$year, year = hack$year)

mol <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
univariate$molloy2014 <- list(paper = "Molloy 2014 (conscientiousness and adherence)",
                              yi = num(mol$yi), vi = num(mol$vi),
                              key = mol$year, year = mol$year,
                              meanage = mol$meanage)

nor <- escalc(measure = "MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i,
              n2i = n2i, data = dat.normand1999)
univariate$normand1999 <- list(paper = "Normand 1999 (stroke length of stay, k = 9)",
                               yi = num(nor$yi), vi = num(nor$vi),
                               key = rev(seq_len(nrow(nor))))

rau <- dat.raudenbush1985
univariate$raudenbush1985 <- list(paper = "Raudenbush 1985 (teacher expectancy)",
                                  yi = num(rau$yi), vi = num(rau$vi),
                                  key = rau$year, year = rau$year)

bd <- dat.bangertdrowns2004
univariate$bangertdrowns2004 <- list(paper = "Bangert-Drowns 2004 (writing-to-learn)",
                                     yi = num(bd$yi), vi = num(bd$vi),
                                     key = bd$year, year = bd$year)

# ---------------------------------------------------------------------------------------
# Sensitivity: leave1out, cumul, influence, baujat (REML; z and Knapp-Hartung tests).
# ---------------------------------------------------------------------------------------
pooled_rows <- function(x) {
  list(estimate = num(x$estimate), se = num(x$se),
       statistic = num(if (!is.null(x$zval)) x$zval else x$tval),
       p = num(x$pval), ci_lb = num(x$ci.lb), ci_ub = num(x$ci.ub), q = num(x$Q),
       q_p = num(x$Qp), tau2 = num(x$tau2), i2 = num(x$I2), h2 = num(x$H2))
}
sensitivity <- list()
for (name in names(univariate)) {
  d <- univariate[[name]]
  for (test in c("z", "knha")) {
    fit <- rma(d$yi, d$vi, method = "REML", test = test, control = tight)
    inf <- influence(fit)
    pdf(NULL)
    bj <- baujat(fit)
    invisible(dev.off())
    cum <- cumul(fit, order = d$key)
    sensitivity[[paste0(name, "_", test)]] <- list(
      dataset = name, paper = d$paper, method = "REML", test = test,
      yi = d$yi, vi = d$vi, order = order(d$key) - 1L,
      fit = list(estimate = num(fit$beta), se = num(fit$se), tau2 = num(fit$tau2)),
      leave1out = pooled_rows(leave1out(fit)),
      leave1out_global = global_fits(d$yi, d$vi, "REML", l1o_subsets(length(d$yi))),
      cumul = pooled_rows(cum),
      cumul_global = global_fits(d$yi, d$vi, "REML", cumul_subsets(d$key)),
      influence = list(rstudent = num(inf$inf$rstudent), dffits = num(inf$inf$dffits),
                       cook_d = num(inf$inf$cook.d), cov_r = num(inf$inf$cov.r),
                       tau2_del = num(inf$inf$tau2.del), q_del = num(inf$inf$QE.del),
                       hat = num(inf$inf$hat), weight = num(inf$inf$weight),
                       dfbetas = num(inf$dfbs$intrcpt),
                       influential = as.logical(inf$is.infl)),
      baujat = list(x = num(bj$x), y = num(bj$y)))
  }
}
# Other estimators: DerSimonian-Laird on dat.bcg and dat.hackshaw1998; every other tau2
# estimator (ML, PM, HE, HS, SJ, EB) on dat.bcg (z test).
others <- list(c("bcg", "DL"), c("hackshaw1998", "DL"), c("bcg", "ML"), c("bcg", "PM"),
               c("bcg", "HE"), c("bcg", "HS"), c("bcg", "SJ"), c("bcg", "EB"))
for (pair in others) {
  name <- pair[1]
  method <- pair[2]
  d <- univariate[[name]]
  # tol: PM's uniroot tolerance (default ~1.2e-4), passed on to every deletion refit.
  fit <- rma(d$yi, d$vi, method = method, control = c(tight, list(tol = 1e-12)))
  inf <- influence(fit)
  pdf(NULL)
  bj <- baujat(fit)
  invisible(dev.off())
  sensitivity[[paste0(name, "_", method, "_z")]] <- list(
    dataset = name, paper = d$paper, method = method, test = "z",
    yi = d$yi, vi = d$vi, order = order(d$key) - 1L,
    fit = list(estimate = num(fit$beta), se = num(fit$se), tau2 = num(fit$tau2)),
    leave1out = pooled_rows(leave1out(fit)),
    leave1out_global = global_fits(d$yi, d$vi, method, l1o_subsets(length(d$yi))),
    cumul = pooled_rows(cumul(fit, order = d$key)),
    cumul_global = global_fits(d$yi, d$vi, method, cumul_subsets(d$key)),
    influence = list(rstudent = num(inf$inf$rstudent), dffits = num(inf$inf$dffits),
                     cook_d = num(inf$inf$cook.d), cov_r = num(inf$inf$cov.r),
                     tau2_del = num(inf$inf$tau2.del), q_del = num(inf$inf$QE.del),
                     hat = num(inf$inf$hat), weight = num(inf$inf$weight),
                     dfbetas = num(inf$dfbs$intrcpt),
                     influential = as.logical(inf$is.infl)),
    baujat = list(x = num(bj$x), y = num(bj$y)))
}
write_fixture(list(datasets = sensitivity), "diagnostics_sensitivity.json")

# ---------------------------------------------------------------------------------------
# Small-study effects: regtest, ranktest, trimfill (L0, R0), fsn, PET-PEESE (lm, WLS).
# ---------------------------------------------------------------------------------------
trimfill_list <- function(tf) {
  list(k0 = num(tf$k0), side = tf$side, estimate = num(tf$beta), se = num(tf$se),
       ci_lb = num(tf$ci.lb), ci_ub = num(tf$ci.ub), tau2 = num(tf$tau2),
       filled_yi = num(tf$yi[tf$fill]), filled_vi = num(tf$vi[tf$fill]))
}
bias <- list()
for (name in names(univariate)) {
  d <- univariate[[name]]
  fit <- rma(d$yi, d$vi, method = "REML", control = tight)
  reg <- regtest(fit)
  reg_knha <- regtest(rma(d$yi, d$vi, method = "REML", test = "knha", control = tight))
  rank <- suppressWarnings(ranktest(fit))
  sei <- sqrt(d$vi)
  pet <- summary(lm(d$yi ~ sei, weights = 1 / d$vi))
  peese <- summary(lm(d$yi ~ d$vi, weights = 1 / d$vi))
  pet_ci <- confint(lm(d$yi ~ sei, weights = 1 / d$vi))[1, ]
  peese_ci <- confint(lm(d$yi ~ d$vi, weights = 1 / d$vi))[1, ]
  bias[[name]] <- list(
    dataset = name, paper = d$paper, yi = d$yi, vi = d$vi,
    regtest = list(statistic = num(reg$zval), p = num(reg$pval), limit_estimate = num(reg$est),
                   limit_ci_lb = num(reg$ci.lb), limit_ci_ub = num(reg$ci.ub)),
    regtest_knha = list(statistic = num(reg_knha$zval), p = num(reg_knha$pval),
                        df = num(reg_knha$dfs), limit_estimate = num(reg_knha$est),
                        limit_ci_lb = num(reg_knha$ci.lb), limit_ci_ub = num(reg_knha$ci.ub)),
    ranktest = list(tau = num(rank$tau), p = num(rank$pval)),
    trimfill_L0 = trimfill_list(trimfill(fit, estimator = "L0", control = tight)),
    trimfill_R0 = trimfill_list(trimfill(fit, estimator = "R0", control = tight)),
    fsn_rosenthal = num(fsn(d$yi, d$vi, type = "Rosenthal")$fsnum),
    fsn_orwin = num(fsn(d$yi, d$vi, type = "Orwin")$fsnum),
    fsn_orwin_weighted = num(fsn(d$yi, d$vi, type = "Orwin", weighted = TRUE)$fsnum),
    pet = list(intercept = num(pet$coefficients[1, 1]), se = num(pet$coefficients[1, 2]),
               t = num(pet$coefficients[1, 3]), p = num(pet$coefficients[1, 4]),
               ci_lb = num(pet_ci[1]), ci_ub = num(pet_ci[2])),
    peese = list(intercept = num(peese$coefficients[1, 1]),
                 se = num(peese$coefficients[1, 2]), t = num(peese$coefficients[1, 3]),
                 p = num(peese$coefficients[1, 4]), ci_lb = num(peese_ci[1]),
                 ci_ub = num(peese_ci[2])))
}
write_fixture(list(datasets = bias), "diagnostics_bias.json")

# ---------------------------------------------------------------------------------------
# Dependent effects: rma.mv three-level REML, CR2 + Satterthwaite (clubSandwich),
# aggregate() with rho under compound symmetry.
# ---------------------------------------------------------------------------------------
dependence <- list()
set.seed(1)  # simulated: no within-cluster heterogeneity, so sigma2_within is on its boundary
simulated <- data.frame(cluster = rep(1:15, each = 3), effect = 1:45,
                        vi = runif(45, 0.01, 0.05))
simulated$yi <- 0.3 + rnorm(15, 0, sqrt(0.05))[simulated$cluster] +
  rnorm(45, 0, sqrt(simulated$vi))
simulated$x <- round(runif(45, 0, 10), 1)
multilevel <- list(
  simulated_boundary = list(
    paper = "simulated in this script (seed 1): sigma2_within at its zero boundary",
    data = simulated, cluster = "cluster", effect = "effect", moderator = "x", rho = 0.3),
  konstantopoulos2011 = list(
    paper = "Konstantopoulos 2011 (modified school calendars; schools within districts)",
    data = dat.konstantopoulos2011, cluster = "district", effect = "school",
    moderator = "year", rho = 0.5),
  assink2016 = list(
    paper = "Assink 2016 (delinquency; effects within studies)",
    data = dat.assink2016, cluster = "study", effect = "esid", moderator = "year",
    rho = 0.6))
for (name in names(multilevel)) {
  spec <- multilevel[[name]]
  dat <- spec$data
  dat$cluster_ <- dat[[spec$cluster]]
  dat$effect_ <- dat[[spec$effect]]
  dat$moderator_ <- dat[[spec$moderator]]
  one <- function(fit) {
    rob <- robust(fit, cluster = dat$cluster_, clubSandwich = TRUE)
    list(beta = num(fit$beta), se = num(fit$se), statistic = num(fit$zval),
         p = num(fit$pval), ci_lb = num(fit$ci.lb), ci_ub = num(fit$ci.ub),
         sigma2 = num(fit$sigma2), q = num(fit$QE), q_p = num(fit$QEp),
         loglik = num(logLik(fit)),
         robust = list(beta = num(rob$beta), se = num(rob$se), statistic = num(rob$zval),
                       df = num(rob$dfs), p = num(rob$pval), ci_lb = num(rob$ci.lb),
                       ci_ub = num(rob$ci.ub)))
  }
  fit0 <- rma.mv(yi, vi, random = ~ 1 | cluster_ / effect_, data = dat, method = "REML",
                 control = list(rel.tol = 1e-10, iter.max = 10000, eval.max = 10000))
  fit1 <- rma.mv(yi, vi, mods = ~ moderator_, random = ~ 1 | cluster_ / effect_, data = dat,
                 method = "REML",
                 control = list(rel.tol = 1e-10, iter.max = 10000, eval.max = 10000))
  esc <- escalc(measure = "GEN", yi = yi, vi = vi, data = dat)
  agg <- aggregate(esc, cluster = esc$cluster_, rho = spec$rho, struct = "CS")
  dependence[[name]] <- list(
    dataset = name, paper = spec$paper, yi = num(dat$yi), vi = num(dat$vi),
    cluster = as.character(dat$cluster_), effect = as.character(dat$effect_),
    moderator = num(dat$moderator_), moderator_name = spec$moderator,
    intercept_only = one(fit0), with_moderator = one(fit1),
    aggregate = list(rho = spec$rho, cluster = as.character(agg$cluster_),
                     yi = num(agg$yi), vi = num(agg$vi)))
}
write_fixture(list(datasets = dependence), "diagnostics_dependence.json")

# ---------------------------------------------------------------------------------------
# Permutation tests (exact enumeration): permutest(..., exact = TRUE).
# ---------------------------------------------------------------------------------------
permutation <- list()
sub <- bcg[1:7, ]
fit <- rma(yi, vi, mods = ~ ablat, data = sub, method = "REML", control = tight)
pt <- permutest(fit, exact = TRUE)
permutation$bcg_first7_ablat <- list(
  paper = "Colditz 1994 (BCG), trials 1-7, absolute latitude", yi = num(sub$yi),
  vi = num(sub$vi), mods = list(ablat = num(sub$ablat)), test = "z",
  zval = num(fit$zval), qm = num(fit$QM), p = num(pt$pval), qm_p = num(pt$QMp))
fit <- rma(yi, vi, mods = ~ ablat + year, data = sub, method = "REML", test = "knha",
           control = tight)
pt <- permutest(fit, exact = TRUE)
permutation$bcg_first7_ablat_year_knha <- list(
  paper = "Colditz 1994 (BCG), trials 1-7, latitude and year, Knapp-Hartung",
  yi = num(sub$yi), vi = num(sub$vi),
  mods = list(ablat = num(sub$ablat), year = num(sub$year)), test = "knha",
  zval = num(fit$zval), qm = num(fit$QM), p = num(pt$pval), qm_p = num(pt$QMp))
fit <- rma(yi, vi, data = nor, method = "REML", control = tight)
pt <- permutest(fit, exact = TRUE)
permutation$normand1999_intercept <- list(
  paper = "Normand 1999, intercept only (sign flips)", yi = num(nor$yi), vi = num(nor$vi),
  mods = setNames(list(), character(0)), test = "z",
  zval = num(fit$zval), qm = num(fit$QM), p = num(pt$pval), qm_p = num(pt$QMp))
write_fixture(list(datasets = permutation), "diagnostics_permutation.json")
