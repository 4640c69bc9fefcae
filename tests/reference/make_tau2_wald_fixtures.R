# Wald-type confidence intervals for tau^2 (metafor confint.rma.uni, types "Wald",
# "Wald.log" and "Wald.sqrt") on two metadat datasets, for tests/test_tau2_wald.py:
#   cd tests/reference && Rscript make_tau2_wald_fixtures.R  -> tau2_wald_fixtures.json
# Fits use tight control so that tau2 and se(tau2) are at metafor's optimum.
# (The generalised-Q interval, type "GENQ", needs the CompQuadForm package, which is not
# available here; it is checked against Jackson et al. 2014 in tests/published.)
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
tight <- list(threshold = 1e-13, maxiter = 100000)
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
raud <- dat.raudenbush1985
cases <- list(
  bcg_ablat_REML = list(data = bcg, mods = TRUE, method = "REML"),
  bcg_ablat_ML = list(data = bcg, mods = TRUE, method = "ML"),
  bcg_DL = list(data = bcg, mods = FALSE, method = "DL"),
  raudenbush_REML = list(data = raud, mods = FALSE, method = "REML"),
  raudenbush_EB = list(data = raud, mods = FALSE, method = "EB")
)
out <- list()
for (name in names(cases)) {
  cs <- cases[[name]]
  d <- cs$data
  x <- if (cs$mods) if (is.null(d$ablat)) NULL else d$ablat else NULL
  r <- if (cs$mods) rma(yi, vi, mods = ~ ablat, data = d, method = cs$method, control = tight)
       else rma(yi, vi, data = d, method = cs$method, control = tight)
  entry <- list(yi = as.numeric(d$yi), vi = as.numeric(d$vi), mod = x, method = cs$method,
                tau2 = r$tau2, se_tau2 = r$se.tau2)
  for (type in c("Wald", "Wald.log", "Wald.sqrt")) {
    ci <- confint(r, type = type)$random
    entry[[type]] <- list(tau2 = as.numeric(ci[1, ]), i2 = as.numeric(ci[3, ]),
                          h2 = as.numeric(ci[4, ]))
  }
  out[[name]] <- entry
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, null = "null"),
           "tau2_wald_fixtures.json")
