# Fixtures for issue 15 (predictions, BLUPs, tau2 estimators and intervals, Henmi-Copas,
# new escalc measures): Rscript make_metafor15_fixtures.R  -> metafor15_fixtures.json
# metafor 3.8.1 at its optimum: every iterative search is run with tight tolerances.
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
tight <- list(threshold = 1e-13, maxiter = 100000, tol = 1e-13)
out <- list()

datasets <- list(
  bcg = within(escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg),
               { mod <- ablat }),
  raudenbush = within(dat.raudenbush1985, { mod <- ifelse(weeks > 3, 3, weeks) })
)
methods <- c("HS", "HSk", "HE", "DL", "DLIT", "SJ", "SJIT", "PM", "PMM", "ML", "REML", "EB")
for (name in names(datasets)) {
  d <- datasets[[name]]
  entry <- list(yi = as.numeric(d$yi), vi = as.numeric(d$vi), mod = as.numeric(d$mod))
  est <- list()
  for (m in methods) {
    r <- rma(yi, vi, mods = ~ mod, data = d, method = m, control = tight)
    est[[m]] <- list(tau2 = r$tau2, se_tau2 = r$se.tau2, beta = as.numeric(r$beta), se = r$se)
  }
  r <- rma(yi, vi, mods = ~ mod, data = d, method = "GENQ", weights = 1 / sqrt(vi), control = tight)
  est[["GENQ"]] <- list(tau2 = r$tau2, se_tau2 = r$se.tau2, beta = as.numeric(r$beta), se = r$se)
  entry$estimators <- est
  for (m in c("REML", "ML")) {
    r <- rma(yi, vi, mods = ~ mod, data = d, method = m, control = tight)
    newx <- range(d$mod)
    p <- predict(r, newmods = newx)
    b <- blup(r); u <- ranef(r)
    qp <- confint(r, type = "QP", control = list(tol = 1e-13))$random[1, ]
    pl <- confint(r, type = "PL", control = list(tol = 1e-13))$random[1, ]
    entry[[m]] <- list(
      tau2 = r$tau2, loglik = as.numeric(logLik(r)), newmods = newx,
      predict = list(pred = p$pred, se = p$se, ci_lb = p$ci.lb, ci_ub = p$ci.ub,
                     pi_lb = p$pi.lb, pi_ub = p$pi.ub),
      fitted = as.numeric(fitted(r)),
      blup = list(pred = b$pred, se = b$se, pi_lb = b$pi.lb, pi_ub = b$pi.ub),
      ranef = list(pred = u$pred, se = u$se, pi_lb = u$pi.lb, pi_ub = u$pi.ub),
      qp = as.numeric(qp), pl = as.numeric(pl))
  }
  r <- rma(yi, vi, mods = ~ mod, data = d, method = "REML", test = "knha", control = tight)
  p <- predict(r, newmods = range(d$mod))
  entry$knha_predict <- list(pred = p$pred, ci_lb = p$ci.lb, ci_ub = p$ci.ub, pi_lb = p$pi.lb, pi_ub = p$pi.ub)
  h <- hc(rma(yi, vi, data = d, method = "DL"), control = list(tol = 1e-13))
  entry$hc <- list(beta = h$beta, se = h$se, ci_lb = h$ci.lb, ci_ub = h$ci.ub, tau2 = h$tau2)
  out[[name]] <- entry
}

# escalc measures on metadat data
b <- dat.bcg
m <- list()
for (ms in c("AS", "PHI", "MPRD", "MPRR", "MPOR", "MPORC", "MPPETO", "PETO")) {
  e <- escalc(ms, ai = tpos, bi = tneg, ci = cpos, di = cneg, data = b)
  m[[ms]] <- list(yi = as.numeric(e$yi), vi = as.numeric(e$vi))
}
nw7 <- dat.nielweise2007
e <- escalc("PETO", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = nw7)
m$PETO_zero <- list(yi = as.numeric(e$yi), vi = as.numeric(e$vi))
n <- dat.normand1999
for (ms in c("RPB", "RBIS")) {
  e <- escalc(ms, m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = n)
  m[[ms]] <- list(yi = as.numeric(e$yi), vi = as.numeric(e$vi))
}
mo <- dat.molloy2014
e <- escalc("UCOR", ri = ri, ni = ni, data = mo); m$UCOR <- list(yi = as.numeric(e$yi), vi = as.numeric(e$vi))
pr <- dat.pritz1997
e <- escalc("PFT", xi = xi, ni = ni, data = pr); m$PFT <- list(yi = as.numeric(e$yi), vi = as.numeric(e$vi))
r <- rma(yi, vi, data = e, method = "REML", control = tight)
pp <- predict(r, transf = transf.ipft.hm, targs = list(ni = pr$ni))
m$PFT_pooled <- list(pred = pp$pred, ci_lb = pp$ci.lb, ci_ub = pp$ci.ub, pi_lb = pp$pi.lb, pi_ub = pp$pi.ub)
nw <- dat.nielweise2008
e <- escalc("IRD", x1i = x1i, t1i = t1i, x2i = x2i, t2i = t2i, data = nw); m$IRD <- list(yi = as.numeric(e$yi), vi = as.numeric(e$vi))
mc <- dat.morris2008 <- data.frame(m_pre = c(30.6, 23.5, 0.5, 53.4, 35.6), m_post = c(38.5, 26.8, 0.7, 75.9, 36.0),
  sd_pre = c(15.0, 3.1, 0.1, 14.5, 4.7), sd_post = c(11.6, 4.1, 0.1, 4.4, 4.6), ni = c(20, 50, 9, 10, 14), ri = c(.47, .64, .77, .89, .44))
e <- escalc("SMCR", m1i = m_post, m2i = m_pre, sd1i = sd_pre, ni = ni, ri = ri, data = mc); m$SMCR <- list(yi = as.numeric(e$yi), vi = as.numeric(e$vi))
e <- escalc("SMCC", m1i = m_post, m2i = m_pre, sd1i = sd_post, sd2i = sd_pre, ni = ni, ri = ri, data = mc); m$SMCC <- list(yi = as.numeric(e$yi), vi = as.numeric(e$vi))
out$measures <- m
# The evidence pool command on dat.bcg (tests/test_pool_metafor15.py): a meta-regression
# on a numeric and a text moderator, predictions, the PL interval and influence flags
bc <- escalc("OR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
rb <- rma(yi, vi, mods = ~ ablat + alloc, data = bc, control = tight)
at <- rbind(c(20, 1, 0), c(50, 0, 1))
cp <- predict(rb, newmods = at); ce <- predict(rb, newmods = at, transf = exp)
cpl <- confint(rb, type = "PL", control = list(tol = 1e-12))
out$cli_bcg <- list(
  predict = lapply(list(pred = cp$pred, se = cp$se, ci_lb = cp$ci.lb, ci_ub = cp$ci.ub,
                        pi_lb = cp$pi.lb, pi_ub = cp$pi.ub), as.numeric),
  predict_exp = lapply(list(pred = ce$pred, ci_lb = ce$ci.lb, ci_ub = ce$ci.ub,
                            pi_lb = ce$pi.lb, pi_ub = ce$pi.ub), as.numeric),
  confint_pl = c(cpl$random[1, 2], cpl$random[1, 3]),
  influential = unname(as.logical(influence(rb)$is.infl)),
  data = data.frame(study = paste(dat.bcg$author, dat.bcg$year), ai = dat.bcg$tpos, bi = dat.bcg$tneg,
                    ci = dat.bcg$cpos, di = dat.bcg$cneg, ablat = dat.bcg$ablat, alloc = as.character(dat.bcg$alloc)))
# Exact Wald test of study-specific odds ratios for the CM.EL equal-effects model of
# Rothman et al. (2008) Table 15-5 (tests/published/test_rothman2008.py): per-table
# conditional MLEs and variances from BiasedUrn's moments (metafor's QE.Wld instead uses a
# numerical Hessian at its optimiser's stop)
suppressMessages(library(BiasedUrn))
t155 <- data.frame(ai = c(3, 1), bi = c(9, 3), ci = c(104, 5), di = c(1059, 86))
th <- w <- numeric(2)
for (i in 1:2) {
  a <- t155$ai[i]; n1 <- a + t155$bi[i]; n2 <- t155$ci[i] + t155$di[i]; m1 <- a + t155$ci[i]
  th[i] <- uniroot(function(t) meanFNCHypergeo(n1, n2, m1, exp(t), precision = 1e-12) - a,
                   c(-10, 10), tol = 1e-13)$root
  w[i] <- varFNCHypergeo(n1, n2, m1, exp(th[i]), precision = 1e-12)
}
wald <- (th[2] - th[1])^2 / (1 / w[1] + 1 / w[2])
out$cmel_ee_wald_rothman155 <- list(q_wald = wald, q_wald_p = pchisq(wald, 1, lower.tail = FALSE))
# CM.EL on dat.collins1985a (tests/published/test_vanhouwelingen1993.py): metafor's own fit
cm <- suppressWarnings(rma.glmm(measure = "OR", ai = b.xci, n1i = nci, ci = b.xti, n2i = nti,
                                data = dat.collins1985a, model = "CM.EL", method = "ML"))
out$cmel_collins1985a <- list(beta = as.numeric(cm$b), se = cm$se, ci_lb = cm$ci.lb,
                              ci_ub = cm$ci.ub, tau2 = cm$tau2, loglik = as.numeric(logLik(cm)))
out$inputs <- list(bcg = b[, c("tpos", "tneg", "cpos", "cneg", "ablat")],
                   normand = n[, c("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")],
                   molloy = mo[, c("ri", "ni")], pritz = pr[, c("xi", "ni")],
                   nielweise = nw[, c("x1i", "t1i", "x2i", "t2i")], morris = mc,
                   nielweise2007 = nw7[, c("ai", "n1i", "ci", "n2i")])
writeLines(toJSON(out, dataframe = "columns", digits = NA, auto_unbox = TRUE, pretty = TRUE), "metafor15_fixtures.json")
