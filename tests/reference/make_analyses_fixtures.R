# Reference values for the shipped analyses (tests/test_analyses_corpus.py), from metafor 3.8.
# Run from tests/reference/:  Rscript make_analyses_fixtures.R
# Reads the shared data folder beside the repository (../../../shared/data) and writes
# analyses_fixtures.json. The numbers are those of the shared tables as printed; each block
# mirrors one shipped analysis spec (analyses/<id>.yaml).
suppressMessages(library(metafor))
library(jsonlite)
ctrl <- list(threshold = 1e-10)
data_dir <- file.path("..", "..", "..", "shared", "data")

# holtlunstad2010-partial: the first 21 rows of Holt-Lunstad 2010 Table 1, lnOR of survival
# and its SE as printed; REML, z test (analyses/holtlunstad2010-partial.yaml).
hl <- read.csv(file.path(data_dir, "holtlunstad2010_table1_partial.csv"))
fit_hl <- rma(yi = hl$lnOR, sei = hl$se_lnOR, method = "REML", test = "z", control = ctrl)
pred_hl <- predict(fit_hl)

# loneliness-mortality: Holwerda 2012 men and women (AMSTEL, nested), Lundby (crude),
# Perissinotto 2012, Steptoe 2013 loneliness; hazard ratios, log ratio and SE from the
# 95% CI (three-level below).
# Three-level models (analyses with dependence: multilevel and a cohort holding several
# effects): rma.mv(yi, vi, random = ~ 1 | cluster/effect), REML, z test. Effects as in the
# records (ratio and 95% CI -> log ratio and SE; "most vs least integrated" flipped).
from_ci <- function(ratio, lo, hi, sign = 1) list(
  yi = sign * log(ratio), vi = ((log(hi) - log(lo)) / (2 * qnorm(0.975)))^2)
three_level <- function(ratio, lo, hi, sign, cluster) {
  e <- from_ci(ratio, lo, hi, sign)
  fit <- rma.mv(e$yi, e$vi, random = ~ 1 | cluster / effect,
                data = data.frame(cluster = cluster, effect = seq_along(ratio)),
                method = "REML", control = list(rel.tol = 1e-10))
  # the specs ask for (modified) Knapp-Hartung; rma.mv has no such adjustment, and its
  # small-sample option is test = "t", here with containment df (clusters - 1 for the
  # intercept; issue 11) for the CI, the test and the prediction interval
  fit_t <- rma.mv(e$yi, e$vi, random = ~ 1 | cluster / effect,
                  data = data.frame(cluster = cluster, effect = seq_along(ratio)),
                  method = "REML", test = "t", dfs = "contain", control = list(rel.tol = 1e-10))
  pred_t <- predict(fit_t)
  list(estimate = as.numeric(fit$beta), se = fit$se, ci = c(fit$ci.lb, fit$ci.ub),
       sigma2 = fit$sigma2, q = fit$QE, k = fit$k,
       weights = as.numeric(weights(fit, type = "rowsum")),
       t_test = list(ci = c(fit_t$ci.lb, fit_t$ci.ub), pi = c(pred_t$pi.lb, pred_t$pi.ub),
                     statistic = fit_t$zval, p = fit_t$pval, df = fit_t$ddf))
}
# isolation-mortality (hazard ratios only, issue 13): Alcaraz 2019 (4 subgroups, CPS-II),
# Elovainio 2017 (fully adjusted), Steptoe 2013; in the order of the effects table.
fit_isolation <- three_level(
  c(2.34, 2.13, 1.60, 1.84, 1.26, 1.26),
  c(1.58, 1.44, 1.41, 1.68, 1.20, 1.08),
  c(3.46, 3.15, 1.82, 2.01, 1.33, 1.48), 1,
  c("cps-ii", "cps-ii", "cps-ii", "cps-ii", "uk-biobank", "elsa"))
# loneliness-mortality: Holwerda 2012 (men, women: AMSTEL), Lundby (crude), Perissinotto
# 2012, Steptoe 2013; in the order of the effects table.
fit_loneliness <- three_level(
  c(1.30, 1.04, 1.27, 1.45, 0.92), c(1.04, 0.90, 1.01, 1.11, 0.78), c(1.63, 1.24, 1.60, 1.88, 1.09), 1,
  c("amstel", "amstel", "lundby", "hrs", "elsa"))
# isolation-chd-stroke, coronary heart disease block (issue 13: one outcome family per
# estimate): Chang 2017 (most vs least integrated: flipped), Eng 2002 fatal CHD, Hakulinen
# 2018 isolation and acute MI (fully adjusted); three samples, REML, modified Knapp-Hartung
# (test = "adhoc", as the spec since issue 11).
chd <- from_ci(c(0.55, 1.82, 1.07), c(0.41, 1.02, 0.99), c(0.73, 3.23, 1.16), c(-1, 1, 1))
fit_chd <- rma(yi = chd$yi, vi = chd$vi, method = "REML", test = "adhoc", control = ctrl)

pooled <- function(fit, pred) list(
  estimate = as.numeric(fit$beta), se = fit$se, ci = c(fit$ci.lb, fit$ci.ub),
  pi = c(pred$pi.lb, pred$pi.ub), tau2 = fit$tau2, i2 = fit$I2, q = fit$QE, k = fit$k)

out <- list(
  metafor_version = as.character(packageVersion("metafor")),
  "holtlunstad2010-partial" = pooled(fit_hl, pred_hl),
  "isolation-mortality" = fit_isolation,
  "loneliness-mortality" = fit_loneliness,
  "isolation-chd-stroke/coronary heart disease" = pooled(fit_chd, predict(fit_chd))
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "analyses_fixtures.json")
