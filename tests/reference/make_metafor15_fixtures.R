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
for (ms in c("AS", "PHI", "MPRD", "MPRR", "MPOR", "MPORC", "MPPETO")) {
  e <- escalc(ms, ai = tpos, bi = tneg, ci = cpos, di = cneg, data = b)
  m[[ms]] <- list(yi = as.numeric(e$yi), vi = as.numeric(e$vi))
}
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
out$inputs <- list(bcg = b[, c("tpos", "tneg", "cpos", "cneg", "ablat")],
                   normand = n[, c("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")],
                   molloy = mo[, c("ri", "ni")], pritz = pr[, c("xi", "ni")],
                   nielweise = nw[, c("x1i", "t1i", "x2i", "t2i")], morris = mc)
writeLines(toJSON(out, dataframe = "columns", digits = NA, auto_unbox = TRUE, pretty = TRUE), "metafor15_fixtures.json")
