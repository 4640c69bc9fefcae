# Reference values for issue 11 ("Engine trust: the global likelihood maximum, one-study
# cases, few clusters and honest weights"), from R metafor 3.8 and clubSandwich.
#
# Run from this directory:  Rscript make_engine_trust_fixtures.R
# Reads the frozen effect tables in snapshots/ (never the live corpus) and writes
# engine_trust.json. CI never runs R: the JSON is committed, and every input (yi, vi,
# labels, subgroup and cluster columns) is written into it, so the Python tests need
# nothing but this file.
#
# Sections (the letters follow the brief of issue 11):
#   a  two REML peaks: ties-mi-survival without Hakulinen 2018 and the full
#      ties-mi-survival table with leave1out() and influence()
#   b  k = 1: a single study, subgroup tests by separate fits, cumul() step 1,
#      leave1out() at k = 2
#   c  trimfill() under Knapp-Hartung with k0 = 0
#   d  three-level weights: weights(type = "rowsum") and "diagonal"
#   e  three-level t inference: dfs = "contain" vs "residual"; CR2 (clubSandwich)
#   f  modified Knapp-Hartung (test = "adhoc") vs "knha"
#
# Every univariate ML/REML fit carries `global`: the global maximum of its (restricted)
# log-likelihood over tau2 >= 0 from global_max_helpers.R (grid + refinement), and
# `at_global` = TRUE when metafor's tau2 is that maximum (|diff| <= 1e-6 relative, or
# both below 1e-8). metafor's Fisher scoring can stop at the lower peak; where it does
# the tests must follow `global`, not metafor.

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(clubSandwich)
  library(jsonlite)
})
source("global_max_helpers.R")

CONTROL <- list(threshold = 1e-12, maxiter = 10000)   # rma.uni: Fisher scoring to 1e-12
MV_CONTROL <- list(rel.tol = 1e-10, iter.max = 10000, eval.max = 10000)  # rma.mv (nlminb)
num <- function(x) if (is.null(x) || length(x) == 0) NULL else unname(as.numeric(x))

snapshot <- function(id) {
  d <- read.csv(file.path("snapshots", paste0(id, "-effects.csv")), check.names = FALSE,
                stringsAsFactors = FALSE, na.strings = "")
  d <- d[d$included %in% c(TRUE, "true", "True"), ]
  rownames(d) <- NULL
  d
}

global_record <- function(yi, vi, method) {
  if (length(yi) < 2 || !(method %in% c("ML", "REML"))) return(NULL)
  g <- global_max(yi, vi, method)
  peak <- function(p) list(where = p$where, tau2 = p$tau2, estimate = p$estimate, se = p$se,
                           ll = p$ll)
  list(tau2 = g$best$tau2, estimate = g$best$estimate, se = g$best$se, ll = g$best$ll,
       n_interior_maxima = g$n_interior, boundary_is_local_max = g$boundary_max,
       peaks = lapply(g$peaks, peak))
}

same_tau2 <- function(a, b) (a < 1e-8 && b < 1e-8) || abs(a - b) <= 1e-6 * max(abs(a), abs(b))

# An rma.uni fit as the engine reports it. `test_used` is metafor's (k = 1 turns knha
# into z, with a warning that is recorded).
uni_record <- function(res, warnings = character()) {
  pred <- predict(res)
  out <- list(
    method = res$method, test_used = res$test, k = res$k,
    estimate = num(res$b[1]), se = num(res$se), statistic = num(res$zval),
    df = if (res$test %in% c("knha", "adhoc", "t")) num(res$ddf) else NULL,
    p = num(res$pval), ci = num(c(res$ci.lb, res$ci.ub)),
    pi = num(c(pred$pi.lb, pred$pi.ub)),
    tau2 = num(res$tau2), i2 = num(res$I2), h2 = num(res$H2),
    q = num(res$QE), q_df = res$k - res$p, q_p = num(res$QEp),
    s2w = if (res$test %in% c("knha", "adhoc")) num(res$s2w) else NULL,
    loglik = num(logLik(res)), warnings = as.list(warnings))
  g <- global_record(as.numeric(res$yi), as.numeric(res$vi), res$method)
  if (!is.null(g)) {
    out$global <- g
    out$at_global <- same_tau2(res$tau2, g$tau2)
  }
  out
}

fit_uni <- function(yi, vi, method = "REML", test = "knha", ...) {
  warn <- character()
  res <- withCallingHandlers(
    rma(yi, vi, method = method, test = test, control = CONTROL, ...),
    warning = function(w) { warn <<- c(warn, conditionMessage(w)); invokeRestart("muffleWarning") })
  list(res = res, record = uni_record(res, warn))
}

inputs <- function(d, extra = character()) {
  out <- list(label = d$label, yi = num(d$yi), vi = num(d$vi))
  for (col in extra) out[[col]] <- if (is.numeric(d[[col]])) num(d[[col]]) else d[[col]]
  out
}

# Leave-one-out and influence rows (metafor leave1out(), influence()), with the global
# maximum of every deletion fit beside metafor's.
l1o_record <- function(res) {
  l <- suppressWarnings(leave1out(res))
  out <- list(estimate = num(l$estimate), se = num(l$se),
              statistic = num(if (!is.null(l$zval)) l$zval else l$tval),
              p = num(l$pval), ci_lb = num(l$ci.lb), ci_ub = num(l$ci.ub), q = num(l$Q),
              q_p = num(l$Qp), tau2 = num(l$tau2), i2 = num(l$I2), h2 = num(l$H2))
  yi <- as.numeric(res$yi); vi <- as.numeric(res$vi)
  if (length(yi) > 2 && res$method %in% c("ML", "REML")) {
    gl <- lapply(seq_along(yi), function(i) global_max(yi[-i], vi[-i], res$method))
    out$global_tau2 <- vapply(gl, function(g) g$best$tau2, 0)
    out$global_estimate <- vapply(gl, function(g) g$best$estimate, 0)
    out$global_n_peaks <- vapply(gl, function(g) length(g$peaks), 0L)
    out$at_global <- mapply(same_tau2, out$tau2, out$global_tau2)
  }
  out
}

influence_record <- function(res) {
  inf <- influence(res)$inf
  list(rstudent = num(inf$rstudent), dffits = num(inf$dffits), cook_d = num(inf$cook.d),
       cov_r = num(inf$cov.r), tau2_del = num(inf$tau2.del), qe_del = num(inf$QE.del),
       hat = num(inf$hat), weight = num(inf$weight), influential = as.logical(inf$inf == "*"))
}

# ---------------------------------------------------------------------------------------
# a. Two REML peaks
# ---------------------------------------------------------------------------------------
sub_yi <- c(0.300105, 0.636577, 0.072571, 0.127833)
sub_vi <- c(0.033681, 0.053448, 0.005504, 0.004446)
sub <- fit_uni(sub_yi, sub_vi, "REML", "knha")
# The lower peak (tau2 = 0), i.e. what the engine returned before issue 11.
at_zero <- rma(sub_yi, sub_vi, tau2 = 0, method = "REML", test = "knha", control = CONTROL)
# metafor's REML iteration started at tau2 = 0 stays on the lower peak (as the engine did).
from_zero <- rma(sub_yi, sub_vi, method = "REML", test = "knha",
                 control = c(CONTROL, list(tau2.init = 0)))
sub_ml <- fit_uni(sub_yi, sub_vi, "ML", "knha")
ties_subset <- list(
  note = paste("ties-mi-survival without Hakulinen 2018 (inputs as in the issue, 6 decimals);",
               "REML has a boundary maximum at tau2 = 0 and a higher interior maximum."),
  yi = sub_yi, vi = sub_vi, reml_knha = sub$record,
  loglik_reml_at_tau2_0 = num(logLik(at_zero)),
  loglik_reml_at_tau2_0_closed_form = profile_ll(0, sub_yi, sub_vi, "REML"),
  fit_at_tau2_0 = uni_record(at_zero),
  metafor_from_tau2_init_0 = list(tau2 = num(from_zero$tau2), estimate = num(from_zero$b),
                                  loglik = num(logLik(from_zero))),
  ml_knha = sub_ml$record)

ties <- snapshot("ties-mi-survival")
ties_fit <- fit_uni(ties$yi, ties$vi, "REML", "knha")
ties_full <- list(
  note = "ties-mi-survival snapshot, included rows, univariate REML with Knapp-Hartung",
  inputs = inputs(ties, c("cluster", "exposure.construct")), reml_knha = ties_fit$record,
  leave1out = l1o_record(ties_fit$res), influence = influence_record(ties_fit$res))

# ---------------------------------------------------------------------------------------
# b. k = 1
# ---------------------------------------------------------------------------------------
chd <- snapshot("isolation-chd-stroke")
one <- chd[chd$exposure.construct == "social-integration", ]
single_study <- list(
  note = paste("rma() on one study (Chang 2017, isolation-chd-stroke): metafor returns the",
               "study itself, se = sqrt(vi), tau2 = 0, Q = 0 (df 0), and a z test and CI",
               "even when test = 'knha' is asked for (it warns and sets test = 'z')."),
  label = one$label, yi = num(one$yi), vi = num(one$vi),
  fits = lapply(c("z", "knha"), function(test) {
    r <- fit_uni(one$yi, one$vi, "REML", test)$record
    c(list(test_requested = test), r)
  }))

# Subgroups by separate fits, then a fixed-effect (Wald-type) test of the level estimates:
# rma(estimate, sei = se, method = "FE"); Q_between = its QE on levels - 1 df.
subgroup_record <- function(d, col, test) {
  levels <- sort(unique(as.character(d[[col]])))
  fits <- lapply(levels, function(l) {
    rows <- d[[col]] == l
    c(list(level = l, rows = which(rows) - 1L), fit_uni(d$yi[rows], d$vi[rows], "REML", test)$record)
  })
  est <- vapply(fits, function(f) f$estimate, 0)
  se <- vapply(fits, function(f) f$se, 0)
  between <- rma(est, sei = se, method = "FE")
  # metafor's other route: one model with the grouping as a moderator (a common tau2), its
  # omnibus test under the same test (chi-square QM for z; F(m, k - p) for knha/adhoc).
  group <- factor(d[[col]], levels = levels)
  mods <- rma(d$yi, d$vi, mods = ~ group, method = "REML", test = test, control = CONTROL)
  list(column = col, test_requested = test, method = "REML", levels = levels,
       estimate = est, se = se, k = vapply(fits, function(f) f$k, 0L),
       q_between = num(between$QE), q_between_df = length(levels) - 1,
       q_between_p = num(between$QEp), fits = fits,
       moderator_test = list(statistic = num(mods$QM), df = num(mods$QMdf[1]),
                             df_denominator = if (test == "z") NULL else num(mods$QMdf[2]),
                             p = num(mods$QMp), tau2 = num(mods$tau2)))
}
subgroup_case <- function(id, col) {
  d <- snapshot(id)
  list(analysis = id, column = col, inputs = inputs(d, col),
       knha = subgroup_record(d, col, "knha"), adhoc = subgroup_record(d, col, "adhoc"),
       z = subgroup_record(d, col, "z"))
}
subgroups <- list(
  note = paste("Row indices (rows) are zero-based into inputs. 'knha' is the analyses' spec",
               "(REML, Knapp-Hartung), 'adhoc' the modified Knapp-Hartung the issue makes the",
               "default; a one-effect level is the study itself with a z CI.",
               "The issue's Q = 13.93 (df 2), p = 0.0009 for isolation-chd-stroke is the knha",
               "version; its loneliness level has a Knapp-Hartung se far below the z se",
               "(s2w < 1), which inflates Q_between."),
  "isolation-chd-stroke" = subgroup_case("isolation-chd-stroke", "exposure.construct"),
  "loneliness-mortality" = subgroup_case("loneliness-mortality", "sex"),
  "ties-mi-survival" = subgroup_case("ties-mi-survival", "exposure.construct"))

# cumul(): the order is the one the runner used (publication year, then label), read from
# the frozen results JSON so that the fixture and the engine add the studies alike.
cumul_case <- function(id) {
  d <- snapshot(id)
  old <- fromJSON(file.path("snapshots", paste0(id, ".json")), simplifyVector = FALSE)
  added <- vapply(old$cumulative, function(r) r$added, "")
  order <- match(added, d$label)
  stopifnot(!anyNA(order), sort(order) == seq_len(nrow(d)))
  fit <- rma(d$yi, d$vi, method = "REML", test = "knha", control = CONTROL)
  # metafor 3.8's cumul() sorts by `order` (a sort key), so pass each row's rank in the
  # runner's order: the row added first gets key 1.
  key <- integer(length(order)); key[order] <- seq_along(order)
  cm <- suppressWarnings(cumul(fit, order = key))
  stopifnot(isTRUE(all.equal(cm$estimate[1], d$yi[order[1]])))
  steps <- lapply(seq_along(order), function(j) {
    rows <- order[seq_len(j)]
    fit_uni(d$yi[rows], d$vi[rows], "REML", "knha")$record
  })
  list(analysis = id, inputs = inputs(d), order = order - 1L,
       cumul = list(estimate = num(cm$estimate), se = num(cm$se), p = num(cm$pval),
                    ci_lb = num(cm$ci.lb), ci_ub = num(cm$ci.ub), q = num(cm$Q),
                    tau2 = num(cm$tau2), i2 = num(cm$I2)),
       step1 = steps[[1]], steps = steps)
}
cumulative <- list(
  note = paste("metafor cumul() in the runner's order (order: zero-based rows of inputs).",
               "Step 1 is one study: z test and CI, tau2 = 0, Q = 0 (heterogeneity",
               "undefined). steps[j] is the separate rma() fit on the first j studies."),
  "loneliness-mortality" = cumul_case("loneliness-mortality"),
  "relationship-quality-health" = cumul_case("relationship-quality-health"),
  "isolation-mortality" = cumul_case("isolation-mortality"))

k2_case <- function(d, what) {
  f <- fit_uni(d$yi, d$vi, "REML", "knha")
  list(what = what, inputs = inputs(d), reml_knha = f$record, leave1out = l1o_record(f$res),
       influence = influence_record(f$res))
}
leave1out_k2 <- list(
  note = paste("leave1out() at k = 2: each deletion fit is one study; metafor then uses a z",
               "test (the column is still called tval), tau2 = 0, Q = 0. influence() at",
               "k = 2 as metafor computes it."),
  "isolation-cancer-mortality" = k2_case(snapshot("isolation-cancer-mortality"),
                                         "isolation-cancer-mortality, all included rows"),
  "isolation-chd-stroke loneliness" = k2_case(chd[chd$exposure.construct == "loneliness", ],
                                              "isolation-chd-stroke, loneliness subgroup"))

# ---------------------------------------------------------------------------------------
# c. trimfill() under Knapp-Hartung with k0 = 0
# ---------------------------------------------------------------------------------------
rqh <- snapshot("relationship-quality-health")
rqh_fit <- fit_uni(rqh$yi, rqh$vi, "REML", "knha")
tf <- trimfill(rqh_fit$res, control = CONTROL)
rqh_z <- fit_uni(rqh$yi, rqh$vi, "REML", "z")
rqh_adhoc <- fit_uni(rqh$yi, rqh$vi, "REML", "adhoc")
tf_adhoc <- trimfill(rqh_adhoc$res, control = CONTROL)
tf_record <- function(tf) list(
  k0 = num(tf$k0), se_k0 = num(tf$se.k0), side = tf$side, estimator = "L0", test = tf$test,
  estimate = num(tf$b), se = num(tf$se), statistic = num(tf$zval), df = num(tf$ddf),
  p = num(tf$pval), ci = num(c(tf$ci.lb, tf$ci.ub)), tau2 = num(tf$tau2))
trimfill_knha <- list(
  note = paste("relationship-quality-health snapshot, included rows; REML knha fit,",
               "trimfill() default estimator L0 and side. With k0 = 0 metafor returns the",
               "original Knapp-Hartung fit (a z refit would give the 'z_fit' numbers). Here",
               "s2w = 0.986 < 1, so under test = 'adhoc' the answer is the adhoc fit",
               "(trimfill_adhoc), not the knha one."),
  inputs = inputs(rqh), fit = rqh_fit$record,
  trimfill = tf_record(tf), z_fit = rqh_z$record,
  adhoc_fit = rqh_adhoc$record, trimfill_adhoc = tf_record(tf_adhoc))

# ---------------------------------------------------------------------------------------
# d, e. Three-level models: weights and small-sample inference
# ---------------------------------------------------------------------------------------
three_level <- function(yi, vi, cluster, labels, name) {
  dat <- data.frame(yi = yi, vi = vi, cluster = cluster, effect = seq_along(yi))
  mv <- function(test = "z", dfs = "residual", sigma2 = NULL, control = MV_CONTROL)
    rma.mv(yi, vi, random = ~ 1 | cluster / effect, data = dat, method = "REML", test = test,
           dfs = dfs, sigma2 = sigma2, control = control)
  fit <- mv()
  # A variance component on the boundary (below 1e-8) is fixed at 0 and the other refitted
  # (nlminb cannot meet a tight rel.tol there); kept only if the likelihood is not lower.
  fixed <- NULL
  if (any(fit$sigma2 < 1e-8)) {
    s2 <- ifelse(fit$sigma2 < 1e-8, 0, NA)
    refit <- mv(sigma2 = s2, control = list(rel.tol = 1e-12, iter.max = 10000, eval.max = 10000))
    if (logLik(refit) >= logLik(fit) - 1e-12) { fit <- refit; fixed <- s2 }
  }
  # the boundary really is a maximum: moving the fixed component off 0 lowers the likelihood
  if (!is.null(fixed)) {
    off <- ifelse(is.na(fixed), fit$sigma2, 1e-6)
    stopifnot(logLik(mv(sigma2 = off)) < logLik(fit))
  }
  W <- chol2inv(chol(fit$M))
  X <- fit$X
  a <- as.vector(solve(crossprod(X, W %*% X), crossprod(X, W)))  # (X'WX)^-1 X'W, sums to 1
  uni <- rma(yi, vi, method = "REML", control = CONTROL)
  inference <- function(f) {
    pr <- predict(f)
    list(test = f$test, dfs = if (f$test == "t") f$dfs else NULL, estimate = num(f$b),
         se = num(f$se), statistic = num(f$zval),
         df = if (f$test == "t") num(f$ddf) else NULL, p = num(f$pval),
         ci = num(c(f$ci.lb, f$ci.ub)), pi = num(c(pr$pi.lb, pr$pi.ub)),
         sigma2 = num(f$sigma2), loglik = num(logLik(f)))
  }
  cr2 <- function(f) {
    ct <- coef_test(f, vcov = "CR2", test = "Satterthwaite", cluster = dat$cluster)
    ci <- conf_int(f, vcov = "CR2", test = "Satterthwaite", cluster = dat$cluster)
    list(estimate = num(ct$beta), se = num(ct$SE), statistic = num(ct$tstat),
         df = num(ct$df_Satt), p = num(ct$p_Satt), ci = num(c(ci$CI_L, ci$CI_U)))
  }
  f_res <- mv("t", "residual", fixed); f_con <- mv("t", "contain", fixed)
  list(name = name, label = labels, yi = num(yi), vi = num(vi), cluster = cluster,
       n_clusters = length(unique(cluster)),
       sigma2_fixed_at_0 = if (is.null(fixed)) NULL else !is.na(fixed),
       weights = list(
         rowsum = num(weights(fit, type = "rowsum")),
         diagonal = num(weights(fit, type = "diagonal")),
         rowsum_fraction = a,
         univariate_reml = num(weights(uni)),
         note = paste("percent, as metafor prints them. rowsum = rowSums(W)/sum(W)*100 with",
                      "W = M^-1 (the rows of (X'WX)^-1 X'W, which make the estimate:",
                      "sum(rowsum_fraction * yi) = estimate); diagonal = diag(W)/sum(diag(W))*100;",
                      "univariate_reml = weights() of rma(yi, vi, method = 'REML').")),
       check_rowsum_estimate = sum(a * yi),
       z = inference(fit), t_residual = inference(f_res), t_contain = inference(f_con),
       cr2 = cr2(f_con), cr2_from_residual_fit = cr2(f_res))
}
kon <- dat.konstantopoulos2011
three_level_cases <- list(
  note = paste("rma.mv(yi, vi, random = ~ 1 | cluster / effect, method = 'REML'),",
               "nlminb rel.tol 1e-12. t_residual: test = 't', dfs = 'residual' (k - p df);",
               "t_contain: dfs = 'contain' (clusters - 1 for the intercept); cr2:",
               "clubSandwich coef_test/conf_int(vcov = 'CR2', test = 'Satterthwaite',",
               "cluster = cluster); estimates are on the analysis (log) scale."),
  "isolation-chd-stroke" = three_level(chd$yi, chd$vi, chd$cluster, chd$label,
                                       "isolation-chd-stroke snapshot, included rows"),
  "dat.konstantopoulos2011" = three_level(kon$yi, kon$vi, as.character(kon$district),
                                          paste(kon$district, kon$school, sep = "/"),
                                          "Konstantopoulos 2011 (districts/schools)"))

# ---------------------------------------------------------------------------------------
# f. Modified Knapp-Hartung (test = "adhoc": the scale factor s2w truncated below at 1)
# ---------------------------------------------------------------------------------------
adhoc_case <- function(yi, vi, labels, what) {
  rec <- lapply(c("knha", "adhoc", "z"), function(test) fit_uni(yi, vi, "REML", test)$record)
  names(rec) <- c("knha", "adhoc", "z")
  list(what = what, label = labels, yi = num(yi), vi = num(vi), reml = rec)
}
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
iso <- snapshot("isolation-mortality")
mixed <- iso[iso$sex == "mixed", ]
lon <- chd[chd$exposure.construct == "loneliness", ]
adhoc <- list(
  note = paste("REML; s2w is metafor's Knapp-Hartung scale factor",
               "sum(w (y - mu)^2) / (k - 1) with w = 1/(vi + tau2); adhoc uses max(1, s2w)."),
  "dat.bcg" = adhoc_case(bcg$yi, bcg$vi, paste(bcg$author, bcg$year), "dat.bcg, log risk ratio"),
  "isolation-mortality mixed" = adhoc_case(mixed$yi, mixed$vi, mixed$label,
    paste("isolation-mortality snapshot, sex == 'mixed' (two identical log ratios: knha se 0,",
          "CI of width 0, p 0; metafor's statistic is Inf, written as null)")),
  "isolation-chd-stroke loneliness" = adhoc_case(lon$yi, lon$vi, lon$label,
    "isolation-chd-stroke snapshot, exposure.construct == 'loneliness' (two close log ratios: s2w << 1)"),
  "ties-mi-survival" = adhoc_case(ties$yi, ties$vi, ties$label,
                                  "ties-mi-survival snapshot, included rows"),
  "relationship-quality-health" = adhoc_case(rqh$yi, rqh$vi, rqh$label,
                                             "relationship-quality-health snapshot, included rows"))

out <- list(
  generated_by = "tests/reference/make_engine_trust_fixtures.R",
  metafor_version = as.character(packageVersion("metafor")),
  clubSandwich_version = as.character(packageVersion("clubSandwich")),
  control = CONTROL, mv_control = MV_CONTROL,
  loglik_convention = paste("REML log-likelihoods are metafor's (REMLf = TRUE: includes",
                            "+0.5 log|X'X| = 0.5 log k for the intercept-only model)"),
  ties_subset = ties_subset, ties_full = ties_full,
  single_study = single_study, subgroups = subgroups, cumulative = cumulative,
  leave1out_k2 = leave1out_k2, trimfill_knha = trimfill_knha,
  three_level = three_level_cases, adhoc = adhoc)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null",
                  pretty = TRUE), "engine_trust.json")
cat("wrote engine_trust.json\n")
