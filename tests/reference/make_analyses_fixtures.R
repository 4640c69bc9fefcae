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

# isolation-cancer-mortality: Fleisch Marcus 2017 HR 1.25 (1.01, 1.54); Kroenke 2006
# HR 2.14 (1.11, 4.12); log ratio and SE from the 95% CI; REML, Knapp-Hartung.
ratio <- c(1.25, 2.14); lo <- c(1.01, 1.11); hi <- c(1.54, 4.12)
yi <- log(ratio); sei <- (log(hi) - log(lo)) / (2 * qnorm(0.975))
fit_cancer <- rma(yi = yi, sei = sei, method = "REML", test = "knha", control = ctrl)

pooled <- function(fit, pred) list(
  estimate = as.numeric(fit$beta), se = fit$se, ci = c(fit$ci.lb, fit$ci.ub),
  pi = c(pred$pi.lb, pred$pi.ub), tau2 = fit$tau2, i2 = fit$I2, q = fit$QE, k = fit$k)

out <- list(
  metafor_version = as.character(packageVersion("metafor")),
  "holtlunstad2010-partial" = pooled(fit_hl, pred_hl),
  "isolation-cancer-mortality" = pooled(fit_cancer, predict(fit_cancer))
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "analyses_fixtures.json")
