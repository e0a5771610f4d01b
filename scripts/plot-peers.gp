# The chart of a peers folder, run inside it by bench/peers.sh (gnuplot 5). Reads peers.dat
# (bench/peers-report.py: "# columns: ..." naming the columns measured, then a line per server:
# "name" kind pages_per_s cpu_us_per_page syscalls_per_page pss_kib_per_user p95_floor, nan
# where not measured) and writes peers.svg and peers.png: a panel per figure measured, a bar per
# server, the models blue and the peers orange.

cols = system("awk '/^# columns:/ { $1 = $2 = \"\"; print; exit }' peers.dat")
titles = "x x 'pages/s at /0/, 100 users (more is better)' 'server CPU per page (µs)' \
  'system calls per page' 'memory per user at scale (KiB, PSS + kernel)' 'p95 / floor at scale'"

set datafile missing "nan"
set style fill solid 0.85 border lc rgb "#555555"
set boxwidth 0.7
set grid ytics lc rgb "#dddddd"
set border lc rgb "#555555"
set xtics rotate by -35 nomirror
set key off
set yrange [0:*]
kindcolor(k) = (strcol(k) eq "peer") ? 0xe6550d : 0x08519c

panels = "set multiplot layout 2,3 title 'the models (blue) beside their peers (orange)' font ',13'; \
  do for [c in cols] { set title word(titles, int(c)); \
    plot 'peers.dat' u 0:int(c):(kindcolor(2)):xtic(1) w boxes lc rgb variable }; \
  unset multiplot"

set terminal svg size 1500,900 dynamic font "sans,11" background rgb "white"
set output "peers.svg"
eval panels
set terminal pngcairo size 1500,900 font "sans,10" background rgb "white"
set output "peers.png"
eval panels
