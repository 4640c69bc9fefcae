# Reference values for evidence/stats/multivariate.py, evidence/stats/vcalc.py and
# evidence/stats/selection.py, computed with R metafor 3.8 (rma.mv, vcalc, confint,
# anova, fitstats, selmodel).
#
# Run from this directory:  Rscript make_multivariate_fixtures.R
# Writes multivariate_fixtures.json and selection_fixtures.json next to this script. CI
# never runs R: the JSON is committed. Every input (yi, V or vi, design matrix, random
# factors) is written into the JSON, so the Python tests need nothing but these files.
#
# Each model is fitted with metafor's default optimiser settings ("default") and with
# several tightened ones (nlminb rel.tol = 1e-12, optim BFGS and Nelder-Mead with
# reltol = 1e-15, the last two started from the best fit so far); the fit with the
# highest log-likelihood is metafor's optimum and is what the tests compare with. The
# default fit's log-likelihood and estimates are kept so that the tests can show where
# metafor's default stops short of that optimum.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})
# Optional argument: "multivariate" or "selection" to write only that file.
part <- commandArgs(trailingOnly = TRUE)
run_mv <- !length(part) || part[1] == "multivariate"
run_sel <- !length(part) || part[1] == "selection"

num <- function(x) unname(as.numeric(x))
write_fixture <- function(x, file) {
  x$generated_by <- "tests/reference/make_multivariate_fixtures.R"
  x$metafor_version <- as.character(packageVersion("metafor"))
  writeLines(toJSON(x, auto_unbox = TRUE, digits = NA, null = "null", na = "null",
                    pretty = TRUE, matrix = "rowmajor"), file)
}

tight_mv <- list(rel.tol = 1e-12, eval.max = 10000, iter.max = 10000)

# The best of several optimiser settings (highest log-likelihood); fit_fun(control).
best_fit <- function(fit_fun, quick = FALSE) {
  fits <- list(try(fit_fun(list()), silent = TRUE), try(fit_fun(tight_mv), silent = TRUE))
  ok <- function(f) !inherits(f, "try-error")
  best <- function() {
    good <- Filter(ok, fits)
    if (!length(good)) stop("no fit converged")
    good[[which.max(sapply(good, function(f) as.numeric(logLik(f))))]]
  }
  init <- function(f) {
    x <- list()
    if (f$withS) x$sigma2.init <- pmax(f$sigma2, 1e-6)
    if (f$withG) {
      x$tau2.init <- pmax(f$tau2, 1e-6)
      if (length(f$rho) && !all(f$vc.fix$rho)) x$rho.init <- pmin(pmax(f$rho, -0.99), 0.99)
    }
    x
  }
  # Restarts from the best fit so far; BFGS (numerical gradient) is left out for large
  # data ("quick"), where it fails, but Nelder-Mead is what gets the five-level McCurdy
  # model to its optimum.
  restarts <- list(list(optimizer = "optim", optmethod = "BFGS", reltol = 1e-15,
                        maxit = 10000),
                   list(optimizer = "optim", optmethod = "Nelder-Mead", reltol = 1e-15,
                        maxit = 100000),
                   tight_mv)
  if (quick) restarts <- restarts[2]
  for (ctrl in restarts) {
    fits[[length(fits) + 1]] <- try(fit_fun(c(ctrl, init(best()))), silent = TRUE)
  }
  best()
}

if (run_mv) {
  # ---------------------------------------------------------------------------------------
  # rma.mv
  # ---------------------------------------------------------------------------------------
  fit_record <- function(fit) {
    fs <- fit$fit.stats
    list(beta = num(fit$beta), se = num(fit$se), zval = num(fit$zval), pval = num(fit$pval),
         ci_lb = num(fit$ci.lb), ci_ub = num(fit$ci.ub),
         sigma2 = if (fit$withS) num(fit$sigma2) else NULL,
         tau2 = if (fit$withG) num(fit$tau2) else NULL,
         rho = if (fit$withG) num(fit$rho) else NULL,
         QE = num(fit$QE), QEp = num(fit$QEp), QM = num(fit$QM), QMp = num(fit$QMp),
         QMdf = num(fit$QMdf), parms = fit$parms, k = fit$k, p = fit$p,
         fitstats_ML = num(fs$ML), fitstats_REML = num(fs$REML),
         loglik = num(logLik(fit)))
  }

  # Profile-likelihood CIs of the variance components. The refits inside confint() use the
  # fit's control; nlminb with rel.tol = 1e-10 is the tightest setting that converges for
  # every refit here (1e-12 fails on some), BFGS with reltol = 1e-15 is the fallback.
  profile_record <- function(fit) {
    ci <- NULL
    for (ctrl in list(list(rel.tol = 1e-10, eval.max = 10000, iter.max = 10000),
                      list(optimizer = "optim", optmethod = "BFGS", reltol = 1e-15,
                           maxit = 10000))) {
      fit$control <- ctrl
      ci <- withCallingHandlers(confint(fit, control = list(tol = 1e-12)),
                                warning = function(w) invokeRestart("muffleWarning"))
      parts <- if (!is.null(ci$random)) list(ci) else Filter(function(x) is.list(x), ci)
      if (all(sapply(parts, function(x) !anyNA(x$random[, 2:3])))) break
    }
    rows <- list()
    for (part in parts) {
      r <- part$random
      for (i in seq_len(nrow(r))) {
        rows[[length(rows) + 1]] <- list(name = rownames(r)[i], estimate = num(r[i, 1]),
                                         ci_lb = num(r[i, 2]), ci_ub = num(r[i, 3]),
                                         lb_sign = part$lb.sign, ub_sign = part$ub.sign)
      }
    }
    rows
  }

  mv_case <- function(description, yi, V, X, random, inner = NULL, outer = NULL,
                      struct = NULL, fit_fun, methods = c("REML", "ML"), tests = "z",
                      profile = TRUE, store_V = TRUE) {
    message("rma.mv: ", description)
    out <- list(description = description, yi = num(yi), X = unname(as.matrix(X)),
                random = random, inner = inner, outer = outer, struct = struct)
    if (is.matrix(V)) {
      out$V <- unname(V)
    } else {
      out$vi <- num(V)
    }
    out$fits <- list()
    for (method in methods) {
      for (test in tests) {
        fit <- best_fit(function(control) fit_fun(method, test, control),
                        quick = !profile && length(yi) > 1000)
        default <- fit_fun(method, test, list())
        rec <- fit_record(fit)
        rec$default <- list(loglik = num(logLik(default)), beta = num(default$beta),
                            sigma2 = if (default$withS) num(default$sigma2) else NULL,
                            tau2 = if (default$withG) num(default$tau2) else NULL,
                            rho = if (default$withG) num(default$rho) else NULL)
        if (profile && test == "z") rec$profile <- profile_record(fit)
        out$fits[[paste(method, test, sep = "_")]] <- rec
      }
    }
    out
  }

  cases <- list()

  # Berkey 1998: two outcomes per trial, known 2 x 2 sampling covariance, ~ outcome | trial.
  dat <- dat.berkey1998
  V <- bldiag(lapply(split(dat[c("v1i", "v2i")], dat$trial), as.matrix))
  X <- model.matrix(~ outcome - 1, data = dat)
  for (struct in c("UN", "CS", "HCS", "DIAG")) {
    cases[[paste0("berkey1998_", struct)]] <- mv_case(
      paste0("Berkey 1998 (periodontal surgery, PD and AL), struct = ", struct),
      dat$yi, V, X, random = list(), inner = as.character(dat$outcome),
      outer = as.character(dat$trial), struct = struct,
      fit_fun = function(method, test, control)
        rma.mv(yi, V, mods = ~ outcome - 1, random = ~ outcome | trial, struct = struct,
               data = dat, method = method, test = test, control = control))
  }
  # Berkey with a moderator (publication year, centred) and an intercept.
  Xm <- model.matrix(~ outcome + I(year - 1983), data = dat)
  cases$berkey1998_UN_year <- mv_case(
    "Berkey 1998, struct = UN, outcome + (year - 1983)",
    dat$yi, V, Xm, random = list(), inner = as.character(dat$outcome),
    outer = as.character(dat$trial), struct = "UN", tests = c("z", "t"), profile = FALSE,
    fit_fun = function(method, test, control)
      rma.mv(yi, V, mods = ~ outcome + I(year - 1983), random = ~ outcome | trial,
             struct = "UN", data = dat, method = method, test = test, control = control))

  # Kalaian & Raudenbush 1996: SAT verbal and math, V from vcalc with rho = 0.66.
  dat <- dat.kalaian1996
  Vk <- vcalc(vi, cluster = study, type = outcome, rho = 0.66, data = dat)
  Xk <- model.matrix(~ outcome - 1, data = dat)
  for (struct in c("UN", "CS", "HCS", "DIAG")) {
    cases[[paste0("kalaian1996_", struct)]] <- mv_case(
      paste0("Kalaian 1996 (SAT coaching, verbal and math), V = vcalc(rho = 0.66), struct = ",
             struct),
      dat$yi, Vk, Xk, random = list(), inner = as.character(dat$outcome),
      outer = as.character(dat$study), struct = struct,
      fit_fun = function(method, test, control)
        rma.mv(yi, Vk, mods = ~ outcome - 1, random = ~ outcome | study, struct = struct,
               data = dat, method = method, test = test, control = control))
  }

  # Konstantopoulos 2011: schools within districts (three levels), with and without year.
  dat <- dat.konstantopoulos2011
  dat$district_school <- paste(dat$district, dat$school, sep = "/")
  rk <- list(district = as.character(dat$district), `district/school` = dat$district_school)
  cases$konstantopoulos2011 <- mv_case(
    "Konstantopoulos 2011 (modified school calendars), ~ 1 | district/school",
    dat$yi, dat$vi, matrix(1, nrow(dat), 1), random = rk,
    fit_fun = function(method, test, control)
      rma.mv(yi, vi, random = ~ 1 | district/school, data = dat, method = method,
             test = test, control = control))
  cases$konstantopoulos2011_year <- mv_case(
    "Konstantopoulos 2011, ~ 1 | district/school, moderator year (centred at 1985)",
    dat$yi, dat$vi, model.matrix(~ I(year - 1985), data = dat), random = rk,
    tests = c("z", "t"),
    fit_fun = function(method, test, control)
      rma.mv(yi, vi, mods = ~ I(year - 1985), random = ~ 1 | district/school, data = dat,
             method = method, test = test, control = control))
  # Four levels: year / district / school (year is the outermost grouping here).
  dat$year_district <- paste(dat$year, dat$district, sep = "/")
  dat$year_district_school <- paste(dat$year, dat$district, dat$school, sep = "/")
  cases$konstantopoulos2011_4level <- mv_case(
    "Konstantopoulos 2011, ~ 1 | year/district/school (four levels)",
    dat$yi, dat$vi, matrix(1, nrow(dat), 1),
    random = list(year = as.character(dat$year), `year/district` = dat$year_district,
                  `year/district/school` = dat$year_district_school),
    fit_fun = function(method, test, control)
      rma.mv(yi, vi, random = ~ 1 | year/district/school, data = dat, method = method,
             test = test, control = control))

  # Assink & Wibbelink 2016: effects within studies (three levels), with deltype.
  dat <- dat.assink2016
  dat$study_esid <- paste(dat$study, dat$esid, sep = "/")
  ra <- list(study = as.character(dat$study), `study/esid` = dat$study_esid)
  cases$assink2016 <- mv_case(
    "Assink 2016 (delinquency and parental factors), ~ 1 | study/esid",
    dat$yi, dat$vi, matrix(1, nrow(dat), 1), random = ra,
    fit_fun = function(method, test, control)
      rma.mv(yi, vi, random = ~ 1 | study/esid, data = dat, method = method, test = test,
             control = control))
  cases$assink2016_deltype <- mv_case(
    "Assink 2016, ~ 1 | study/esid, moderator deltype",
    dat$yi, dat$vi, model.matrix(~ deltype, data = dat), random = ra, tests = c("z", "t"),
    profile = FALSE,
    fit_fun = function(method, test, control)
      rma.mv(yi, vi, mods = ~ deltype, random = ~ 1 | study/esid, data = dat,
             method = method, test = test, control = control))

  # McCurdy 2020: five levels (article / experiment / sample / effect), 1,653 effects.
  dat <- dat.mccurdy2020
  dat$ae <- paste(dat$article, dat$experiment, sep = "/")
  dat$aes <- paste(dat$ae, dat$sample, sep = "/")
  dat$aesi <- paste(dat$aes, dat$id, sep = "/")
  cases$mccurdy2020 <- mv_case(
    "McCurdy 2020 (generation effect), ~ 1 | article/experiment/sample/id",
    dat$yi, dat$vi, matrix(1, nrow(dat), 1),
    random = list(article = as.character(dat$article), `article/experiment` = dat$ae,
                  `article/experiment/sample` = dat$aes,
                  `article/experiment/sample/id` = dat$aesi),
    methods = "REML", profile = FALSE,
    fit_fun = function(method, test, control)
      rma.mv(yi, vi, random = ~ 1 | article/experiment/sample/id, data = dat,
             method = method, test = test, control = control, sparse = TRUE))

  # Crossed: Moura 2021 (assortative mating), Crustacea, study and species crossed.
  dat <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.moura2021$dat)
  dat <- droplevels(subset(dat, subphylum == "Crustacea"))
  cases$moura2021_crossed <- mv_case(
    "Moura 2021 (assortative mating, Crustacea), list(~ 1 | study, ~ 1 | species, ~ 1 | effect)",
    dat$yi, dat$vi, matrix(1, nrow(dat), 1),
    random = list(study = as.character(dat$study.id), species = as.character(dat$species),
                  effect = as.character(dat$effect.size.id)),
    fit_fun = function(method, test, control)
      rma.mv(yi, vi, random = list(~ 1 | study.id, ~ 1 | species, ~ 1 | effect.size.id),
             data = dat, method = method, test = test, control = control))

  # ---------------------------------------------------------------------------------------
  # vcalc: the V matrices used above and a few more forms
  # ---------------------------------------------------------------------------------------
  dat <- dat.kalaian1996
  vc <- list()
  vc$kalaian_type <- list(vi = num(dat$vi), cluster = as.character(dat$study),
                          type = as.character(dat$outcome), rho = 0.66,
                          V = unname(as.matrix(vcalc(vi, cluster = study, type = outcome,
                                                     rho = 0.66, data = dat))))
  vc$kalaian_obs <- list(vi = num(dat$vi), cluster = as.character(dat$study),
                         obs = as.character(dat$outcome), rho = 0.4,
                         V = unname(as.matrix(vcalc(vi, cluster = study, obs = outcome,
                                                    rho = 0.4, data = dat))))
  dat <- dat.assink2016
  vc$assink_obs <- list(vi = num(dat$vi), cluster = as.character(dat$study),
                        obs = as.character(dat$esid), rho = 0.6,
                        V = unname(as.matrix(vcalc(vi, cluster = study, obs = esid,
                                                   rho = 0.6, data = dat))))
  # type and obs together: rho = c(within-construct, between-construct).
  vc$assink_type_obs <- list(vi = num(dat$vi), cluster = as.character(dat$study),
                             obs = as.character(dat$esid),
                             type = as.character(dat$deltype), rho = c(0.7, 0.5),
                             V = unname(as.matrix(vcalc(vi, cluster = study, obs = esid,
                                                        type = deltype, rho = c(0.7, 0.5),
                                                        data = dat))))

  # ---------------------------------------------------------------------------------------
  # anova: likelihood-ratio tests between nested models
  # ---------------------------------------------------------------------------------------
  anova_record <- function(full, reduced) {
    a <- anova(full, reduced)
    list(LRT = num(a$LRT), pval = num(a$pval), parms_f = a$parms.f, parms_r = a$parms.r,
         fit_stats_f = num(a$fit.stats.f), fit_stats_r = num(a$fit.stats.r),
         QE_f = num(a$QE.f), QE_r = num(a$QE.r))
  }
  tests <- list()
  dat <- dat.berkey1998
  for (method in c("REML", "ML")) {
    un <- best_fit(function(control) rma.mv(
      yi, V, mods = ~ outcome - 1, random = ~ outcome | trial, struct = "UN",
                 data = dat, method = method, control = control))
    cs <- best_fit(function(control) rma.mv(
      yi, V, mods = ~ outcome - 1, random = ~ outcome | trial, struct = "CS",
                 data = dat, method = method, control = control))
    di <- best_fit(function(control) rma.mv(
      yi, V, mods = ~ outcome - 1, random = ~ outcome | trial, struct = "DIAG",
                 data = dat, method = method, control = control))
    tests[[paste0("berkey1998_UN_vs_CS_", method)]] <- c(
      list(full = "berkey1998_UN", reduced = "berkey1998_CS", method = method),
      anova_record(un, cs))
    tests[[paste0("berkey1998_UN_vs_DIAG_", method)]] <- c(
      list(full = "berkey1998_UN", reduced = "berkey1998_DIAG", method = method),
      anova_record(un, di))
  }
  dat <- dat.konstantopoulos2011
  for (method in c("REML", "ML")) {
    three <- best_fit(function(control)
      rma.mv(yi, vi, random = ~ 1 | district/school, data = dat, method = method,
             control = control))
    two <- best_fit(function(control) rma.mv(
      yi, vi, random = ~ 1 | district/school, data = dat, method = method,
                  sigma2 = c(0, NA), control = control))
    tests[[paste0("konstantopoulos2011_district_fixed_0_", method)]] <- c(
      list(full = "konstantopoulos2011", reduced = "konstantopoulos2011", fixed = c(0, NA),
           method = method),
      anova_record(three, two))
  }
  # ML comparison of models with different fixed effects.
  ml_full <- best_fit(function(control) rma.mv(
      yi, vi, mods = ~ I(year - 1985), random = ~ 1 | district/school,
                    data = dat, method = "ML", control = control))
  ml_red <- rma.mv(yi, vi, random = ~ 1 | district/school, data = dat, method = "ML",
                   control = tight_mv)
  tests$konstantopoulos2011_year_ML <- c(
    list(full = "konstantopoulos2011_year", reduced = "konstantopoulos2011", method = "ML"),
    anova_record(ml_full, ml_red))

  write_fixture(list(models = cases, vcalc = vc, anova = tests),
                "multivariate_fixtures.json")
}

if (run_sel) {
  # ---------------------------------------------------------------------------------------
  # selmodel
  # ---------------------------------------------------------------------------------------
  # optim's numerical gradient uses steps of 1e-3 by default (ndeps), which leaves BFGS
  # about 1e-6 (relative) short of the optimum here; steps of 1e-5 reach it.
  tight_sel <- function(npar) list(reltol = 1e-15, maxit = 10000, ndeps = rep(1e-5, npar))
  sel_record <- function(sel) {
    list(beta = num(sel$beta), se = num(sel$se), zval = num(sel$zval), pval = num(sel$pval),
         ci_lb = num(sel$ci.lb), ci_ub = num(sel$ci.ub), tau2 = num(sel$tau2),
         se_tau2 = num(sel$se.tau2), ci_lb_tau2 = num(sel$ci.lb.tau2),
         ci_ub_tau2 = num(sel$ci.ub.tau2), delta = num(sel$delta),
         se_delta = num(sel$se.delta), zval_delta = num(sel$zval.delta),
         pval_delta = num(sel$pval.delta), ci_lb_delta = num(sel$ci.lb.delta),
         ci_ub_delta = num(sel$ci.ub.delta), ll = num(sel$ll), ll0 = num(sel$ll0),
         LRT = num(sel$LRT), LRTdf = sel$LRTdf, LRTp = num(sel$LRTp),
         LRT_tau2 = num(sel$LRT.tau2), LRTp_tau2 = num(sel$LRTp.tau2),
         QM = num(sel$QM), QMp = num(sel$QMp), parms = sel$parms,
         fitstats = num(sel$fit.stats$ML), ptable = if (is.data.frame(sel$ptable))
           num(sel$ptable$k) else NULL)
  }
  sel_cases <- list()
  sel_case <- function(name, description, yi, vi, X, method, type, steps = NULL,
                       alternative = "greater", control = list()) {
    # X is an intercept column, possibly followed by moderators (metafor adds the intercept).
    tight_rma <- list(threshold = 1e-12, maxiter = 1000)
    base <- if (ncol(X) == 1) rma(yi, vi, method = method, control = tight_rma) else
      rma(yi, vi, mods = X[, -1], method = method, control = tight_rma)
    args <- list(base, type = type, alternative = alternative)
    if (!is.null(steps)) args$steps <- steps
    npar <- ncol(X) + 1 + if (type == "beta") 2 else length(steps)
    message("selmodel: ", name)
    # The tight settings first; if optim fails with them (it can with the beta model's
    # numerical integration), looser ones in turn. The JSON records which was used.
    settings <- list(c(tight_sel(npar), control), c(list(reltol = 1e-15, maxit = 10000), control),
                     control, tight_sel(npar), list())
    fit <- NULL
    for (used in seq_along(settings)) {
      fit <- try(do.call(selmodel, c(args, list(control = settings[[used]]))), silent = TRUE)
      if (!inherits(fit, "try-error")) break
    }
    if (inherits(fit, "try-error")) stop(fit)
    default <- try(do.call(selmodel, args), silent = TRUE)  # metafor's defaults throughout
    if (inherits(default, "try-error")) default <- list(ll = NA, beta = NA, tau2 = NA, delta = NA)
    rec <- sel_record(fit)
    rec$default <- list(ll = num(default$ll), beta = num(default$beta),
                        tau2 = num(default$tau2), delta = num(default$delta))
    rec$control_used <- c("reltol = 1e-15, ndeps = 1e-5, case control",
                          "reltol = 1e-15, case control", "case control",
                          "reltol = 1e-15, ndeps = 1e-5", "default")[used]
    sel_cases[[name]] <<- list(description = description, yi = num(yi), vi = num(vi),
                               X = unname(as.matrix(X)), method = method, type = type,
                               steps = if (is.null(steps)) NULL else num(steps),
                               alternative = alternative, base_tau2 = num(base$tau2),
                               fit = rec)
  }
  dat <- dat.hackshaw1998
  one <- matrix(1, nrow(dat), 1)
  sel_case("hackshaw1998_3psm", "Hackshaw 1998, ML, three-parameter model (one cut at .025)",
           dat$yi, dat$vi, one, "ML", "stepfun", steps = c(0.025, 1))
  sel_case("hackshaw1998_3psm_reml",
           "Hackshaw 1998, REML base fit (ll0 at the REML tau2), one cut at .025",
           dat$yi, dat$vi, one, "REML", "stepfun", steps = c(0.025, 1))
  sel_case("hackshaw1998_steps", "Hackshaw 1998, ML, steps .025, .10, .50, 1",
           dat$yi, dat$vi, one, "ML", "stepfun", steps = c(0.025, 0.10, 0.50, 1))
  sel_case("hackshaw1998_twosided", "Hackshaw 1998, ML, two-sided p, steps .05, .10, 1",
           dat$yi, dat$vi, one, "ML", "stepfun", steps = c(0.05, 0.10, 1),
           alternative = "two.sided")
  # The beta model integrates over the density with integrate(); its default settings
  # (-Inf to Inf, rel.tol 1.2e-4) move the estimates by ~1e-5 and the standard errors by
  # ~1e-2, and optim fails with a tighter rel.tol on the infinite range. On [-20, 20] (far
  # beyond every study's density here) with rel.tol 1e-12 it converges (with optim's
  # default settings); integrate() then still misses up to 1.4e-7 (relative) of the
  # integral of one study, which leaves the estimates ~1e-8 and the SEs ~3e-6 from the
  # exact optimum.
  sel_case("hackshaw1998_beta", "Hackshaw 1998, ML, beta selection model",
           dat$yi, dat$vi, one, "ML", "beta",
           control = list(intCtrl = list(lower = -20, upper = 20, rel.tol = 1e-12,
                                         subdivisions = 1000L)))
  dat <- dat.bangertdrowns2004
  sel_case("bangertdrowns2004_3psm", "Bangert-Drowns 2004, ML, one cut at .025",
           dat$yi, dat$vi, matrix(1, nrow(dat), 1), "ML", "stepfun", steps = c(0.025, 1))
  sel_case("bangertdrowns2004_steps", "Bangert-Drowns 2004, REML base fit, steps .025, .10, .50, 1",
           dat$yi, dat$vi, matrix(1, nrow(dat), 1), "REML", "stepfun",
           steps = c(0.025, 0.10, 0.50, 1))
  has_length <- !is.na(dat$length)
  sel_case("bangertdrowns2004_moderator",
           "Bangert-Drowns 2004, ML, moderator length (weeks of treatment), one cut at .025",
           dat$yi[has_length], dat$vi[has_length],
           model.matrix(~ length, data = dat[has_length, ]), "ML", "stepfun",
           steps = c(0.025, 1))
  write_fixture(list(models = sel_cases), "selection_fixtures.json")
}
