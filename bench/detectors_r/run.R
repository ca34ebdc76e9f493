# R side of bench/detectors.py: the same detectors with R `surveillance` on the same data.
#
#     Rscript bench/detectors_r/run.R <data_dir> <out_dir>
#
# <data_dir> (written by bench/detectors.py):
#   daily.bin   int32 little-endian, the daily counts series after series (series × days
#               row-major in NumPy, i.e. a days × series matrix in R's column-major order)
#   weekly.bin  int32, the same aggregated to weeks (series × weeks)
#   params.txt  "key value" lines: series, days, weeks, ears_series, cusum_series,
#               farrington_series (how many series, from the first, R runs each method on),
#               baseline, cusum_from, cusum_years, cusum_k, cusum_h, farrington_b,
#               farrington_w,
#               farrington_from (1-based positions, as R)
# <out_dir> receives, per method (ears_C1, ears_C2, ears_C3, cusum, farrington):
#   <method>_upper.bin  float64, upper bounds over the method's range (series × range)
#   <method>_alarm.bin  int32, alarms (1/0, NA as R's NA_integer_)
# and timings.txt: "method series elapsed_seconds cpu_seconds" lines, the time of the
# surveillance call only (reading the data and writing the results are not timed).

suppressPackageStartupMessages(library(surveillance))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 2) stop("usage: Rscript run.R <data_dir> <out_dir>")
data_dir <- args[1]
out_dir <- args[2]

params_lines <- strsplit(readLines(file.path(data_dir, "params.txt")), " ", fixed = TRUE)
params <- setNames(
  lapply(params_lines, function(p) as.numeric(p[2])),
  vapply(params_lines, `[`, "", 1)
)

read_counts <- function(name, rows) {
  path <- file.path(data_dir, name)
  n <- rows * params$series
  values <- readBin(path, what = "integer", n = n, size = 4, endian = "little")
  stopifnot(length(values) == n)
  matrix(values, nrow = rows)  # time in rows, one column per series
}
daily <- read_counts("daily.bin", params$days)
weekly <- read_counts("weekly.bin", params$weeks)

timings <- character()
timed <- function(method, series, expr) {
  gc()
  start <- proc.time()
  result <- suppressWarnings(expr)  # glm convergence warnings, as R prints them by default
  used <- proc.time() - start
  cpu <- used[["user.self"]] + used[["sys.self"]]
  cat(sprintf("R %-11s %5d series  %8.2f s (cpu %.2f s)\n", method, series,
              used[["elapsed"]], cpu))
  timings <<- c(timings, sprintf("%s %d %.6f %.6f", method, series, used[["elapsed"]], cpu))
  result
}

write_matrices <- function(method, upper, alarm) {
  # range × series matrices, written column after column.
  writeBin(as.vector(upper), file.path(out_dir, paste0(method, "_upper.bin")), size = 8,
           endian = "little")
  writeBin(as.integer(as.vector(alarm)), file.path(out_dir, paste0(method, "_alarm.bin")),
           size = 4, endian = "little")
}
write_result <- function(method, fitted) write_matrices(method, upperbound(fitted), alarms(fitted))

cat(sprintf("%s, surveillance %s\n", R.version.string, packageVersion("surveillance")))

# EARS C1, C2, C3 over each method's default range (baseline + 1, + 3, + 5 .. end).
n_ears <- params$ears_series
daily_sts <- sts(observed = daily[, seq_len(n_ears), drop = FALSE], frequency = 365)
for (method in c("C1", "C2", "C3")) {
  fitted <- timed(paste0("ears_", method), n_ears,
                  earsC(daily_sts, control = list(method = method, baseline = params$baseline)))
  write_result(paste0("ears_", method), fitted)
}

# CUSUM: algo.cusum on each series, as the sts wrapper `cusum()` (wrap.algo) does, but without
# its `sts[, k]`, which copies the series × series neighbourhood matrix for every series (0.9 s
# a call at 5,000 series: over an hour in all). The in-control mean m(t) is seasonal: the mean
# count over the 7 days centred on the same day 1, 2, ... `cusum_years` years (of 365 days)
# before, computed inside the timed block.
n_cusum <- params$cusum_series
cusum_counts <- daily[, seq_len(n_cusum), drop = FALSE]
cusum_range <- params$cusum_from:params$days
seasonal_mean <- function(counts) {
  total <- 0
  for (year in seq_len(params$cusum_years)) {
    for (shift in -3:3) {
      total <- total + counts[cusum_range - 365 * year + shift, , drop = FALSE]
    }
  }
  total / (7 * params$cusum_years)
}
fitted <- timed("cusum", n_cusum, {
  m <- seasonal_mean(cusum_counts)
  upper <- matrix(NA_real_, length(cusum_range), n_cusum)
  alarm <- matrix(NA, length(cusum_range), n_cusum)
  for (k in seq_len(n_cusum)) {
    series <- sts2disProg(sts(observed = cusum_counts[, k, drop = FALSE], frequency = 365))
    control <- list(range = cusum_range, k = params$cusum_k, h = params$cusum_h, m = m[, k],
                    trans = "standard")
    survres <- algo.cusum(series, control = control)
    upper[, k] <- survres$upperbound
    alarm[, k] <- survres$alarm
  }
  list(upper = upper, alarm = alarm)
})
write_matrices("cusum", fitted$upper, fitted$alarm)

# Farrington flexible on weekly counts (freq 52, weeks numbered, not dated), other settings
# R's defaults.
n_farrington <- params$farrington_series
weekly_sts <- sts(observed = weekly[, seq_len(n_farrington), drop = FALSE], frequency = 52)
farrington_control <- list(range = params$farrington_from:params$weeks,
                           b = params$farrington_b, w = params$farrington_w)
fitted <- timed("farrington", n_farrington,
                farringtonFlexible(weekly_sts, control = farrington_control))
write_result("farrington", fitted)

writeLines(timings, file.path(out_dir, "timings.txt"))
