# Reference values for issue 15's diagnostics, computed with R metafor 3.8.1:
# - case-deletion influence of meta-regressions (influence.rma.uni with moderators) and the
#   leave-one-out refits behind it (coefficients, se, tau2, QE without each study);
# - cluster-wise deletion of three-level models (rma.mv(random = ~ 1 | cluster/effect)):
#   cooks.distance, dfbetas and rstudent with cluster =, and the refits without each cluster.
#
# Run from this directory:  Rscript make_diagnostics15_fixtures.R  -> diagnostics15.json
# (every input is written into the JSON; CI never runs R).
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
tight <- list(threshold = 1e-13, maxiter = 100000, tol = 1e-13)
mvtight <- list(rel.tol = 1e-10, iter.max = 10000, eval.max = 10000)
num <- function(x) unname(as.numeric(x))
out <- list(generated_by = "tests/reference/make_diagnostics15_fixtures.R",
            metafor_version = as.character(packageVersion("metafor")))

# ---- meta-regressions -----------------------------------------------------------------
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
kon <- dat.konstantopoulos2011
lip <- data.frame(yi = c(-0.33, 0.32, 0.39, 0.31, 0.17, 0.64, -0.33, 0.15, -0.02, 0.00),
                  vi = c(0.084, 0.035, 0.017, 0.034, 0.072, 0.117, 0.102, 0.093, 0.012, 0.067),
                  random = c(0, 0, 0, 0, 0, 0, 1, 1, 1, 1),
                  intensity = c(7, 3, 7, 5, 7, 7, 4, 4, 5, 6))
cases <- list(
  list(name = "bcg_ablat_REML", yi = bcg$yi, vi = bcg$vi, X = cbind(bcg$ablat), method = "REML", test = "z"),
  list(name = "bcg_ablat_year_DL_knha", yi = bcg$yi, vi = bcg$vi, X = cbind(bcg$ablat, bcg$year), method = "DL", test = "knha"),
  list(name = "lipsey_FE", yi = lip$yi, vi = lip$vi, X = cbind(lip$random, lip$intensity), method = "FE", test = "z"),
  list(name = "konstantopoulos_year_ML", yi = kon$yi, vi = kon$vi, X = cbind(kon$year - mean(kon$year)), method = "ML", test = "z")
)
regressions <- list()
for (cs in cases) {
  res <- rma(cs$yi, cs$vi, mods = cs$X, method = cs$method, test = cs$test, control = tight)
  inf <- influence(res)
  k <- length(cs$yi)
  loo <- lapply(seq_len(k), function(i)
    rma(cs$yi[-i], cs$vi[-i], mods = cs$X[-i, , drop = FALSE], method = cs$method, test = cs$test, control = tight))
  regressions[[cs$name]] <- list(
    yi = num(cs$yi), vi = num(cs$vi), X = unname(cs$X), method = cs$method, test = cs$test,
    rstudent = num(inf$inf$rstudent), dffits = num(inf$inf$dffits), cook_d = num(inf$inf$cook.d),
    cov_r = num(inf$inf$cov.r), tau2_del = num(inf$inf$tau2.del), QE_del = num(inf$inf$QE.del),
    hat = num(inf$inf$hat), weight = num(inf$inf$weight), inf = as.logical(inf$is.infl),
    dfbetas = unname(as.matrix(inf$dfbs)),
    loo_beta = t(sapply(loo, function(r) num(r$beta))), loo_se = t(sapply(loo, function(r) num(r$se))),
    loo_tau2 = sapply(loo, function(r) r$tau2), loo_QE = sapply(loo, function(r) r$QE),
    loo_QM = sapply(loo, function(r) r$QM), loo_QMp = sapply(loo, function(r) r$QMp))
}
out$regressions <- regressions

# ---- three-level models, cluster-wise deletion ------------------------------------------
ass <- dat.assink2016
mlcases <- list(
  list(name = "konstantopoulos", yi = kon$yi, vi = kon$vi, cluster = kon$district, X = NULL),
  list(name = "konstantopoulos_year", yi = kon$yi, vi = kon$vi, cluster = kon$district, X = cbind(kon$year - mean(kon$year))),
  list(name = "assink", yi = ass$yi, vi = ass$vi, cluster = ass$study, X = NULL)
)
multilevel <- list()
for (cs in mlcases) {
  d <- data.frame(yi = cs$yi, vi = cs$vi, cluster = cs$cluster, effect = seq_along(cs$yi))
  if (is.null(cs$X)) {
    res <- rma.mv(yi, vi, random = ~ 1 | cluster/effect, data = d, control = mvtight)
  } else {
    d$x <- cs$X[, 1]
    res <- rma.mv(yi, vi, mods = ~ x, random = ~ 1 | cluster/effect, data = d, control = mvtight)
  }
  cd <- cooks.distance(res, cluster = d$cluster)
  dfb <- dfbetas(res, cluster = d$cluster)
  rs <- rstudent(res, cluster = d$cluster)
  levels <- unique(d$cluster)
  refits <- lapply(levels, function(cl) {
    keep <- d$cluster != cl
    if (is.null(cs$X)) rma.mv(yi, vi, random = ~ 1 | cluster/effect, data = d, subset = keep, control = mvtight)
    else rma.mv(yi, vi, mods = ~ x, random = ~ 1 | cluster/effect, data = d, subset = keep, control = mvtight)
  })
  multilevel[[cs$name]] <- list(
    yi = num(cs$yi), vi = num(cs$vi), cluster = as.character(cs$cluster),
    X = if (is.null(cs$X)) NULL else unname(cs$X),
    clusters = as.character(levels),
    full = list(beta = num(res$beta), se = num(res$se), sigma2 = num(res$sigma2),
                loglik = as.numeric(logLik(res))),
    cook_d = num(cd), dfbetas = unname(as.matrix(dfb)),
    rstudent_obs = list(resid = num(rs$obs$resid), se = num(rs$obs$se), z = num(rs$obs$z)),
    rstudent_cluster = list(X2 = num(rs$cluster$X2), k = num(rs$cluster$k)),
    del_beta = t(sapply(refits, function(r) num(r$beta))), del_se = t(sapply(refits, function(r) num(r$se))),
    del_sigma2 = t(sapply(refits, function(r) num(r$sigma2))),
    del_loglik = sapply(refits, function(r) as.numeric(logLik(r))))
}
out$multilevel <- multilevel
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE),
           "diagnostics15.json")
