# bench/verify.gp - the chart of bench/run: requests/s of the reference
# (baseline, or /verify solo for the flood case) next to jwtgate's, and the
# ratio against its target. Variables: datafile, outfile, subtitle.
# datafile columns: label reference_rps jwtgate_rps ratio target
set terminal pngcairo size 1100,800 font "sans,10"
set output outfile
set multiplot layout 2,1 title "jwtgate /verify against the libmicrohttpd ceiling\n".subtitle

set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set xtics noenhanced
set key top left
set ylabel "requests/s (median)"
set yrange [0:*]
plot datafile using 2:xtic(1) title "reference (baseline; solo for flood)" lc rgb "#999999", \
     '' using 3 title "jwtgate" lc rgb "#1f77b4"

set ylabel "ratio to reference"
set yrange [0:1.2]
set key top left
plot datafile using 4:xtic(1) title "jwtgate / reference" lc rgb "#1f77b4", \
     '' using 0:5 with points pt 9 ps 2 lc rgb "#d62728" title "target"
unset multiplot
