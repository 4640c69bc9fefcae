# The metadat datasets the published-example tests (tests/published/) reproduce, as JSON:
# Rscript make_published_data.R -> ../published/metadat.json (public data, metadat 1.2);
# missing values are null.
suppressPackageStartupMessages({library(metadat); library(jsonlite)})
keep <- function(d, cols) d[, cols]
out <- list(
  bcg = keep(dat.bcg, c("tpos", "tneg", "cpos", "cneg", "ablat", "year")),
  raudenbush1985 = keep(dat.raudenbush1985, c("study", "weeks", "yi", "vi")),
  konstantopoulos2011 = keep(dat.konstantopoulos2011, c("district", "study", "year", "yi", "vi")),
  colditz1994 = keep(dat.colditz1994, c("tpos", "tneg", "cpos", "cneg", "ablat", "year")),
  collins1985b = keep(dat.collins1985b, c("pre.nti", "pre.nci", "pre.xti", "pre.xci")),
  lee2004 = keep(dat.lee2004, c("ai", "n1i", "ci", "n2i")),
  nielweise2007 = keep(dat.nielweise2007, c("ai", "n1i", "ci", "n2i")),
  nielweise2008 = keep(dat.nielweise2008, c("x1i", "t1i", "x2i", "t2i")),
  hine1989 = keep(dat.hine1989, c("n1i", "n2i", "ai", "ci")),
  normand1999 = keep(dat.normand1999, c("n1i", "m1i", "sd1i", "n2i", "m2i", "sd2i")),
  linde2005 = keep(dat.linde2005, c("ai", "n1i", "ci", "n2i", "dosage", "duration", "baseline")),
  yusuf1985 = keep(subset(dat.yusuf1985, table == "6"), c("ai", "n1i", "ci", "n2i")),
  collins1985a = keep(dat.collins1985a, c("b.xci", "nci", "b.xti", "nti")),
  berkey1998 = transform(keep(dat.berkey1998, c("trial", "outcome", "year", "yi", "v1i", "v2i")),
                         outcome = as.character(outcome)),
  ishak2007 = keep(dat.ishak2007, c("study", "y1i", "v1i", "y2i", "v2i", "y3i", "v3i", "y4i", "v4i"))
)
writeLines(toJSON(out, dataframe = "columns", digits = NA, na = "null", pretty = FALSE),
           "../published/metadat.json")
