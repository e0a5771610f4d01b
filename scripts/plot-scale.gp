# Charts of a scale folder, run inside it by scripts/bench-scale.sh (gnuplot 5). Reads
# scale.dat (fanout-report --scale: one block per model, a line per step that ran:
# users rps_ratio p95_ratio memory_per_user_kib cpu_ms_per_page "model") and writes scale.svg
# and scale.png: RPS / bound, p95 / floor, memory per user and CPU per page against users, on a
# logarithmic axis of users. Memory is what the model costs, (PSS + kernel) / users
# (fanout-mem), not a sum of RSS, which counts shared pages once per process.

models = system("awk '/^# / { print $2 }' scale.dat")
nblocks = words(models)

set datafile missing "nan"
set grid xtics ytics lc rgb "#dddddd"
set border lc rgb "#555555"
set logscale x 10
set xlabel "users (log)"
set key top left opaque box lc rgb "#cccccc"
colors = "#08519c #e6550d #31a354 #756bb1 #636363 #d6616b"

panels = "set multiplot layout 2,2 title 'fanout at scale: the same offered rate on every step' font ',13'; \
  set ylabel 'RPS / bound'; set yrange [0:1.2]; \
  plot for [i=0:nblocks-1] 'scale.dat' index i u 1:2 w linespoints lw 2 pt 7 lc rgb word(colors, i+1) t word(models, i+1), \
       1 w lines dt 2 lc rgb '#777777' t 'bound'; \
  set ylabel 'p95 / floor'; set yrange [0.9:*]; set logscale y 2; \
  plot for [i=0:nblocks-1] 'scale.dat' index i u 1:3 w linespoints lw 2 pt 7 lc rgb word(colors, i+1) t word(models, i+1), \
       1.5 w lines dt 2 lc rgb '#cb181d' t 'break (1.5)'; \
  unset logscale y; set ylabel 'memory per user (KiB, PSS + kernel)'; set yrange [*:*]; set logscale y 10; \
  plot for [i=0:nblocks-1] 'scale.dat' index i u 1:4 w linespoints lw 2 pt 7 lc rgb word(colors, i+1) t word(models, i+1); \
  unset logscale y; set ylabel 'server CPU per page (ms)'; set yrange [0:*]; \
  plot for [i=0:nblocks-1] 'scale.dat' index i u 1:5 w linespoints lw 2 pt 7 lc rgb word(colors, i+1) t word(models, i+1); \
  unset multiplot"

set terminal svg size 1200,900 dynamic font "sans,11" background rgb "white"
set output "scale.svg"
eval panels
set terminal pngcairo size 1200,900 font "sans,10" background rgb "white"
set output "scale.png"
eval panels
