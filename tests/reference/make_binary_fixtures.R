# Reference values for the sparse binary-data models (evidence/stats/mantel_haenszel.py,
# peto.py, glmm.py), produced by R metafor 3.8 (rma.mh, rma.peto, rma.glmm) on metadat
# datasets. Run from this directory:
#     Rscript make_binary_fixtures.R
# Writes binary_fixtures.json. CI never runs R: the JSON is committed.
#
# rma.glmm needs lme4 (models UM.FS and PLO) and BiasedUrn (model CM.EL); on Debian:
# apt-get install r-cran-lme4 r-cran-biasedurn.
#
# Convergence. rma.glmm fits UM.FS/PLO with lme4::glmer (nAGQ = 7: adaptive Gauss-Hermite
# quadrature). glmer's default second-stage optimizer (Nelder-Mead, FtolAbs = 1e-5) stops
# far from the optimum on these data (e.g. dat.nielweise2007: log OR off by 3e-4 relative,
# "failed to converge" warning), so the fixtures use glmer's BOBYQA (nloptr) with tight
# tolerances: the same model and likelihood, at its maximum. The default fit is recorded
# too ("default") to show the gap. CM.EL (integrate + nlminb + numDeriv) runs with
# metafor's defaults.

suppressMessages(library(metafor))
library(jsonlite)
suppressMessages(library(BiasedUrn))

num <- function(x) if (is.null(x) || length(x) == 0 || all(is.na(x))) NULL else unname(as.numeric(x))

GLMER_TIGHT <- list(glmerCtrl = list(
  optimizer = c("bobyqa", "nloptwrap"),
  optCtrl = list(algorithm = "NLOPT_LN_BOBYQA", ftol_abs = 0, ftol_rel = 1e-15,
                 xtol_abs = 1e-13, xtol_rel = 1e-13, maxeval = 1e6)))

tables <- function(ai, bi, ci, di) list(ai = ai, bi = bi, ci = ci, di = di)

yusuf <- dat.yusuf1985[dat.yusuf1985$table == "6" & !is.na(dat.yusuf1985$ai), ]
bcg <- dat.bcg
niel <- dat.nielweise2007
li <- dat.li2007
DATA2X2 <- list(
  bcg = tables(bcg$tpos, bcg$tneg, bcg$cpos, bcg$cneg),
  nielweise2007 = tables(niel$ai, niel$n1i - niel$ai, niel$ci, niel$n2i - niel$ci),
  li2007 = tables(li$ai, li$n1i - li$ai, li$ci, li$n2i - li$ci),
  yusuf1985_table6 = tables(yusuf$ai, yusuf$n1i - yusuf$ai, yusuf$ci, yusuf$n2i - yusuf$ci)
)
hart <- dat.hart1999
niel8 <- dat.nielweise2008
DATARATES <- list(
  hart1999 = list(x1i = hart$x1i, t1i = hart$t1i, x2i = hart$x2i, t2i = hart$t2i),
  nielweise2008 = list(x1i = niel8$x1i, t1i = niel8$t1i, x2i = niel8$x2i, t2i = niel8$t2i)
)
pritz <- dat.pritz1997
DATAPROP <- list(
  pritz1997 = list(xi = pritz$xi, ni = pritz$ni),
  nielweise2007_group1 = list(xi = niel$ai, ni = niel$n1i)
)

mh_record <- function(res) list(
  k = res$k, k_yi = res$k.yi, estimate = num(res$beta), se = num(res$se),
  statistic = num(res$zval), p = num(res$pval), ci = num(c(res$ci.lb, res$ci.ub)),
  q = num(res$QE), q_p = num(res$QEp), i2 = num(res$I2), h2 = num(res$H2),
  cmh = num(res$MH), cmh_p = num(res$MHp), breslow_day = num(res$BD),
  breslow_day_p = num(res$BDp), tarone = num(res$TA), tarone_p = num(res$TAp),
  cochran = num(res$CO), cochran_p = num(res$COp),
  k_pos = num(res$k.pos))

mh <- list()
MH_OPTIONS <- list(
  default = list(),
  uncorrected = list(correct = FALSE),
  add_both = list(add = c(1/2, 1/2), to = c("only0", "only0"), drop00 = c(TRUE, TRUE)),
  level90 = list(level = 90))
for (name in names(DATA2X2)) for (measure in c("OR", "RR", "RD")) {
  opts <- if (name == "nielweise2007") names(MH_OPTIONS) else if (name == "bcg") c("default", "level90") else "default"
  if (name == "yusuf1985_table6" && measure != "OR") next
  for (o in opts) {
    args <- c(DATA2X2[[name]], list(measure = measure), MH_OPTIONS[[o]])
    res <- suppressWarnings(do.call(rma.mh, args))
    mh[[length(mh) + 1]] <- list(dataset = name, measure = measure, options = o,
                                 options_values = MH_OPTIONS[[o]], expected = mh_record(res))
  }
}
for (name in names(DATARATES)) for (measure in c("IRR", "IRD")) for (o in c("default", "uncorrected")) {
  args <- c(DATARATES[[name]], list(measure = measure), MH_OPTIONS[[o]])
  res <- suppressWarnings(do.call(rma.mh, args))
  mh[[length(mh) + 1]] <- list(dataset = name, measure = measure, options = o,
                               options_values = MH_OPTIONS[[o]], expected = mh_record(res))
}

peto <- list()
for (name in names(DATA2X2)) for (o in c("default", "add_both", "level90")) {
  if (o != "default" && name != "nielweise2007") next
  opts <- MH_OPTIONS[[o]]
  res <- suppressWarnings(do.call(rma.peto, c(DATA2X2[[name]], opts)))
  peto[[length(peto) + 1]] <- list(dataset = name, options = o, options_values = opts,
    expected = list(k = res$k, k_yi = res$k.yi, k_pos = res$k.pos, estimate = num(res$beta),
      se = num(res$se), statistic = num(res$zval), p = num(res$pval),
      ci = num(c(res$ci.lb, res$ci.ub)), q = num(res$QE), q_p = num(res$QEp),
      i2 = num(res$I2), h2 = num(res$H2)))
}

glmm_record <- function(res) list(
  k = res$k, estimate = num(res$beta), se = num(res$se), statistic = num(res$zval),
  p = num(res$pval), ci = num(c(res$ci.lb, res$ci.ub)), tau2 = num(res$tau2),
  se_tau2 = num(res$se.tau2), loglik = num(logLik(res)), q_wald = num(res$QE.Wld),
  q_wald_p = num(res$QEp.Wld), q_lrt = num(res$QE.LRT), q_lrt_p = num(res$QEp.LRT),
  q_df = num(res$QE.df), i2 = num(res$I2), h2 = num(res$H2))

glmm <- list()
fit_glmm <- function(args, tight) {
  if (tight) args$control <- GLMER_TIGHT
  suppressWarnings(suppressMessages(do.call(rma.glmm, args)))
}
for (name in c("nielweise2007", "bcg", "li2007")) {
  for (model in c("UM.FS", "CM.EL")) {
    args <- c(DATA2X2[[name]], list(measure = "OR", model = model))
    rec <- list(dataset = name, measure = "OR", model = model)
    if (model == "UM.FS") {
      rec$expected <- glmm_record(fit_glmm(args, TRUE))
      rec$default <- glmm_record(fit_glmm(args, FALSE))
    } else {
      rec$expected <- glmm_record(fit_glmm(args, FALSE))
    }
    glmm[[length(glmm) + 1]] <- rec
  }
}
for (name in names(DATARATES)) {
  args <- c(DATARATES[[name]], list(measure = "IRR", model = "UM.FS"))
  glmm[[length(glmm) + 1]] <- list(dataset = name, measure = "IRR", model = "UM.FS",
    expected = glmm_record(fit_glmm(args, TRUE)), default = glmm_record(fit_glmm(args, FALSE)))
}
for (name in names(DATAPROP)) {
  args <- c(DATAPROP[[name]], list(measure = "PLO"))
  glmm[[length(glmm) + 1]] <- list(dataset = name, measure = "PLO", model = "UM.FS",
    expected = glmm_record(fit_glmm(args, TRUE)), default = glmm_record(fit_glmm(args, FALSE)))
}
# Further models (issue 15): CM.AL for OR, CM.EL for IRR, IRLN (Poisson-normal), and every
# model with method = "EE" (for CM.EL of OR also the exact se from BiasedUrn's moments).
DATARATE <- list(nielweise2008_group2 = list(xi = niel8$x2i, ti = niel8$t2i),
                 hart1999_group1 = list(xi = hart$x1i, ti = hart$t1i))
for (name in c("nielweise2007", "bcg", "li2007")) {
  args <- c(DATA2X2[[name]], list(measure = "OR", model = "CM.AL"))
  glmm[[length(glmm) + 1]] <- list(dataset = name, measure = "OR", model = "CM.AL",
    method = "ML", expected = glmm_record(fit_glmm(args, TRUE)))
  for (model in c("UM.FS", "CM.EL")) {
    args <- c(DATA2X2[[name]], list(measure = "OR", model = model, method = "EE"))
    rec <- list(dataset = name, measure = "OR", model = model, method = "EE",
                expected = glmm_record(fit_glmm(args, FALSE)))
    if (model == "CM.EL") {
      d <- DATA2X2[[name]]
      keep <- !((d$ai == 0 & d$ci == 0) | (d$bi == 0 & d$di == 0))
      b <- rec$expected$estimate
      v <- sum(mapply(function(a, bb, c, dd) varFNCHypergeo(a + bb, c + dd, a + c, exp(b), precision = 1e-12),
                      d$ai[keep], d$bi[keep], d$ci[keep], d$di[keep]))
      rec$se_exact <- 1 / sqrt(v)
    }
    glmm[[length(glmm) + 1]] <- rec
  }
}
for (name in names(DATARATES)) {
  args <- c(DATARATES[[name]], list(measure = "IRR", model = "CM.EL"))
  glmm[[length(glmm) + 1]] <- list(dataset = name, measure = "IRR", model = "CM.EL",
    method = "ML", expected = glmm_record(fit_glmm(args, TRUE)))
  for (model in c("UM.FS", "CM.EL")) {
    args <- c(DATARATES[[name]], list(measure = "IRR", model = model, method = "EE"))
    glmm[[length(glmm) + 1]] <- list(dataset = name, measure = "IRR", model = model,
      method = "EE", expected = glmm_record(fit_glmm(args, FALSE)))
  }
}
for (name in names(DATARATE)) {
  args <- c(DATARATE[[name]], list(measure = "IRLN"))
  glmm[[length(glmm) + 1]] <- list(dataset = name, measure = "IRLN", model = "UM.FS",
    method = "ML", expected = glmm_record(fit_glmm(args, TRUE)))
}
for (name in names(DATAPROP)) {
  args <- c(DATAPROP[[name]], list(measure = "PLO", method = "EE"))
  glmm[[length(glmm) + 1]] <- list(dataset = name, measure = "PLO", model = "UM.FS",
    method = "EE", expected = glmm_record(fit_glmm(args, FALSE)))
}

out <- list(
  generated_by = "tests/reference/make_binary_fixtures.R",
  metafor = as.character(packageVersion("metafor")),
  lme4 = as.character(packageVersion("lme4")),
  BiasedUrn = as.character(packageVersion("BiasedUrn")),
  glmer_tight_control = GLMER_TIGHT,
  data = list(tables = DATA2X2, rates = DATARATES, proportions = DATAPROP, rate = DATARATE),
  mantel_haenszel = mh, peto = peto, glmm = glmm)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", pretty = TRUE),
           "binary_fixtures.json")
