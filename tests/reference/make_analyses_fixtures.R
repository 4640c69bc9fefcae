# Reference values for the shipped analyses (tests/test_analyses_corpus.py), from metafor 3.8.
# Run from tests/reference/:  Rscript make_analyses_fixtures.R
# Reads the frozen effect tables in snapshots/ (<id>-effects.csv, taken at commit aa75a9d:
# see snapshots/README.md) and writes analyses_fixtures.json. The corpus in studies/ can
# grow without moving these numbers: nothing here reads studies/ or outside the repository.
# Each effect is recomputed here from the numbers as printed (value and CI, or a log odds
# ratio and its SE), so the test checks the harmonised yi and vi as well as the fits.
# Each block mirrors the frozen spec in snapshots/analyses/<id>.yaml.
suppressMessages(library(metafor))
library(jsonlite)
ctrl <- list(threshold = 1e-10)

snapshot <- function(id) {
  d <- read.csv(file.path("snapshots", paste0(id, "-effects.csv")), stringsAsFactors = FALSE,
                colClasses = "character")
  d <- d[d$included == "true", ]
  value <- as.numeric(d$value)
  sign <- ifelse(d$flipped == "true", -1, 1)
  ratio <- d$measure_reported %in% c("HR", "RR", "OR", "IRR", "MRR")
  yi <- ifelse(ratio, sign * log(value), sign * value)
  sei <- ifelse(ratio,
                (log(as.numeric(d$hi)) - log(as.numeric(d$lo))) / (2 * qnorm(0.975)),
                as.numeric(d$sei))
  data.frame(study = d$study, effect = d$effect, cluster = d$cluster, yi = yi, vi = sei^2,
             stringsAsFactors = FALSE)
}

pooled <- function(fit, pred, d) list(
  estimate = as.numeric(fit$beta), se = fit$se, ci = c(fit$ci.lb, fit$ci.ub),
  pi = c(pred$pi.lb, pred$pi.ub), tau2 = fit$tau2, i2 = fit$I2, q = fit$QE, k = fit$k,
  effects = paste(d$study, d$effect), yi = d$yi, vi = d$vi)

# holtlunstad2010-partial: lnOR of survival and its SE as printed; REML, z test.
hl <- snapshot("holtlunstad2010-partial")
fit_hl <- rma(yi = hl$yi, vi = hl$vi, method = "REML", test = "z", control = ctrl)

# isolation-cancer-mortality: ratio and 95% CI -> log ratio and SE; REML, Knapp-Hartung.
cancer <- snapshot("isolation-cancer-mortality")
fit_cancer <- rma(yi = cancer$yi, vi = cancer$vi, method = "REML", test = "knha", control = ctrl)

# Three-level models (dependence: multilevel, a cohort holding several effects):
# rma.mv(yi, vi, random = ~ 1 | cluster/effect), REML; the specs ask for Knapp-Hartung, and
# rma.mv's small-sample option is test = "t", with containment df (clusters - 1 for the
# intercept; issue 11) for CI, test and PI; weights are the row sums that make the estimate.
three_level <- function(d) {
  d$row <- seq_len(nrow(d))
  fit <- rma.mv(yi, vi, random = ~ 1 | cluster / row, data = d, method = "REML",
                control = list(rel.tol = 1e-10))
  fit_t <- rma.mv(yi, vi, random = ~ 1 | cluster / row, data = d, method = "REML",
                  test = "t", dfs = "contain", control = list(rel.tol = 1e-10))
  pred_t <- predict(fit_t)
  list(estimate = as.numeric(fit$beta), se = fit$se, ci = c(fit$ci.lb, fit$ci.ub),
       sigma2 = fit$sigma2, q = fit$QE, k = fit$k,
       weights = as.numeric(weights(fit, type = "rowsum")),
       effects = paste(d$study, d$effect), yi = d$yi, vi = d$vi,
       t_test = list(ci = c(fit_t$ci.lb, fit_t$ci.ub), pi = c(pred_t$pi.lb, pred_t$pi.ub),
                     statistic = fit_t$zval, p = fit_t$pval, df = fit_t$ddf))
}

out <- list(
  metafor_version = as.character(packageVersion("metafor")),
  "holtlunstad2010-partial" = pooled(fit_hl, predict(fit_hl), hl),
  "isolation-cancer-mortality" = pooled(fit_cancer, predict(fit_cancer), cancer),
  "isolation-mortality" = three_level(snapshot("isolation-mortality")),
  "isolation-chd-stroke" = three_level(snapshot("isolation-chd-stroke")),
  "loneliness-mortality" = three_level(snapshot("loneliness-mortality"))
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "analyses_fixtures.json")
