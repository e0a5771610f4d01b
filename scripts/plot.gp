# Charts for a results folder, run inside it by scripts/bench.sh (gnuplot 5).
# Reads what fanout-report wrote: configs.txt (the configurations' file names, in order),
# <name>.series.dat (one line a second: t users rps rps_locust failures p50_ms p95_ms, and in
# the open model offered sent late p99_ms service_p50_ms service_p95_ms service_p99_ms),
# summary.dat (one line a configuration: index "label" p95_ms max_rps bound_rps floor_ms
# memory_per_user_kib, the last (PSS + kernel) / users from fanout-mem, nan where not measured) and
# mode.dat ("open" or "closed"; missing in older folders: closed).
# Writes <name>.svg/.png (Locust's picture: RPS, response times, users over time; in the open
# model: offered, sent and completed per second, response and service time, late starts) and
# compare.svg/.png (p95 and Max RPS of every configuration against their limits, and what each
# costs in memory per user).

names = system("cat configs.txt")
mode = system("cat mode.dat 2>/dev/null")
floor_ms = real(system("awk 'NR == 1 { print $6 }' summary.dat"))

set datafile missing "nan"
set grid ytics lc rgb "#dddddd"
set key top left opaque box lc rgb "#cccccc"
set border lc rgb "#555555"

series_plot = "set multiplot layout 3,1 title title_of(n) font ',13'; \
  set offsets 0, 0, graph 0.25, 0; set key top left horizontal; \
  set lmargin 10; set rmargin 4; set tmargin 1.5; set bmargin 1.5; \
  set ylabel 'requests/s'; set format x ''; set yrange [0:*]; \
  plot n.'.series.dat' u 1:3 w steps lw 1 lc rgb '#9ecae1' t 'completed per second', \
       '' u 1:4 w lines lw 2 lc rgb '#08519c' t 'current RPS (Locust, 10 s window)', \
       '' u 1:5 w impulses lw 2 lc rgb '#cb181d' t 'failures per second'; \
  set ylabel 'response time (ms)'; set yrange [0:*]; \
  plot n.'.series.dat' u 1:6 w lines lw 2 lc rgb '#41ab5d' t 'p50', \
       '' u 1:7 w lines lw 2 lc rgb '#fd8d3c' t 'p95', \
       floor_ms w lines dt 2 lc rgb '#777777' t sprintf('floor %g ms', floor_ms); \
  set ylabel 'users'; set format x '%g'; set xlabel 'seconds'; set bmargin 3; \
  plot n.'.series.dat' u 1:2 w steps lw 2 lc rgb '#756bb1' t 'users'; \
  unset xlabel; unset multiplot; set offsets 0, 0, 0, 0"

# The open model: the queue shows as response time (from the intended arrival) leaving service
# time (from the send) behind.
open_plot = "set multiplot layout 3,1 title title_of(n) font ',13'; \
  set offsets 0, 0, graph 0.25, 0; set key top left horizontal; \
  set lmargin 10; set rmargin 4; set tmargin 1.5; set bmargin 1.5; \
  set ylabel 'requests/s'; set format x ''; set yrange [0:*]; \
  plot n.'.series.dat' u 1:8 w steps lw 2 dt 2 lc rgb '#777777' t 'offered', \
       '' u 1:9 w steps lw 1 lc rgb '#9ecae1' t 'sent', \
       '' u 1:3 w steps lw 2 lc rgb '#08519c' t 'completed', \
       '' u 1:5 w impulses lw 2 lc rgb '#cb181d' t 'failures per second'; \
  set ylabel 'time (ms)'; set yrange [0:*]; \
  plot n.'.series.dat' u 1:6 w lines lw 2 lc rgb '#41ab5d' t 'response p50', \
       '' u 1:7 w lines lw 2 lc rgb '#fd8d3c' t 'response p95', \
       '' u 1:12 w lines lw 1 dt 3 lc rgb '#41ab5d' t 'service p50', \
       '' u 1:13 w lines lw 1 dt 3 lc rgb '#fd8d3c' t 'service p95', \
       floor_ms w lines dt 2 lc rgb '#777777' t sprintf('floor %g ms', floor_ms); \
  set ylabel 'late starts'; set format x '%g'; set xlabel 'seconds'; set bmargin 3; \
  plot n.'.series.dat' u 1:10 w steps lw 2 lc rgb '#756bb1' t 'starts over 1 ms late, per second'; \
  unset xlabel; unset multiplot; set offsets 0, 0, 0, 0"
if (mode eq "open") { series_plot = open_plot }

title_of(n) = system("head -1 ".n.".series.dat | sed 's/^# *//'")

do for [n in names] {
    set terminal svg size 960,720 dynamic font "sans,11"
    set output n.".svg"
    eval series_plot
    set terminal pngcairo size 960,720 font "sans,10"
    set output n.".png"
    eval series_plot
}

compare_plot = "set multiplot layout 1,3 title 'Models compared (bars) against their limits (dots)' font ',13'; \
  set style data histograms; set style fill solid 0.85 border -1; set boxwidth 0.7; \
  set xtics rotate by -30 nomirror; set lmargin 12; set bmargin 6; \
  set key top center horizontal; set offsets 0.5, 0.5, graph 0.18, 0; \
  set logscale y; set ylabel 'p95 response time (ms, log scale)'; set yrange [*:*]; \
  plot 'summary.dat' u 3:xtic(2) lc rgb '#fd8d3c' t 'p95', \
       '' u 0:6 w points pt 7 ps 1.2 lc rgb '#333333' t 'floor (slowest call)'; \
  unset logscale y; set ylabel 'Max RPS (Locust current RPS peak)'; set yrange [0:*]; \
  plot 'summary.dat' u 4:xtic(2) lc rgb '#3182bd' t 'Max RPS', \
       '' u 0:5 w points pt 7 ps 1.2 lc rgb '#333333' t 'Little''s-law bound'; \
  set ylabel 'memory per user (KiB, PSS + kernel)'; set yrange [0:*]; \
  plot 'summary.dat' u 7:xtic(2) lc rgb '#31a354' t 'memory per user'; \
  unset multiplot; set offsets 0, 0, 0, 0"

set terminal svg size 1500,520 dynamic font "sans,11"
set output "compare.svg"
eval compare_plot
set terminal pngcairo size 1500,520 font "sans,10"
set output "compare.png"
eval compare_plot
