# The bench suite's results as one table (markdown), hmmdev against
# test_hmm from the same VM, each ratio against its goal.  Input: the
# console log of ./run-vm.sh --test --suite bench (images/plot.sh runs it).
#   awk -f images/bench-table.awk console.log
function num(s) { gsub(/[^0-9.]/, "", s); return s + 0 }
# the number after @label in @s ("p50 147 us" -> 147)
function val(s, label) {
	if (!match(s, label " [0-9.]+")) return 0
	return substr(s, RSTART + length(label) + 1, RLENGTH - length(label) - 1) + 0
}
# the median of a[1..n] (sorts a)
function median(a, n,    i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
# the median over driver @d's rounds of kind @k, step @i (hmmdev-bench --round)
function round_median(d, k, i,    l, m) {
	for (l = 1; l <= rounds[d, k]; l++) m[l] = rnd[d, k, i, l]
	return median(m, rounds[d, k])
}
# 64 MiB migrations of driver @d, kind @k, step @i: the median of the
# rounds where both drivers have rounds, else the warm median
function mig_value(d, k, i) {
	if (rounds["hmmdev", k] && rounds["test_hmm", k]) return round_median(d, k, i)
	return mig[d, k, i]
}
function mig_how(k) {
	if (rounds["hmmdev", k] && rounds["test_hmm", k])
		return sprintf("median of %d rounds; hmmdev's and test_hmm's in turn", rounds["hmmdev", k])
	return "median of " mig_reps
}
# hmmdev's against test_hmm's for kind @k, step @i: with rounds, the median
# of each round's own ratio (a round's two runs met the same host; the
# range goes to rrange), else the ratio of the warm medians
function mig_ratio(k, i, h, t,    l, n, r, m) {
	rrange = ""
	n = rounds["hmmdev", k] < rounds["test_hmm", k] ? rounds["hmmdev", k] : rounds["test_hmm", k]
	if (!n) return t ? h / t : 0
	for (l = 1; l <= n; l++)
		r[l] = rnd["test_hmm", k, i, l] ? rnd["hmmdev", k, i, l] / rnd["test_hmm", k, i, l] : 0
	m = median(r, n)	# and r sorted
	rrange = sprintf(" (rounds %.1f-%.1fx)", r[1], r[n])
	return m
}
function row(what, h, t, ratio, goal, ok) {
	printf "| %s | %s | %s | %s | %s | %s |\n", what, h, t, ratio, goal,
	       goal == "reported" ? "-" : ok ? "met" : "**not met**"
}
{ sub(/^# (note: )?/, "") }
/^HMMDEV-NOTE bench: hmm-tests benchmark_thp_migration on/ { drv = $NF }
# one line per process (@p of @n) of each module load; a load's first
# process starts a new load
/^bench: [a-z_]+ cold process [0-9]+ of [0-9]+:/ {
	d = $2; p = $5; n = split($0, f, ",")
	if (p == 1) loads[d]++
	if (p > procs[d]) procs[d] = p
	cv[d, loads[d], p, 1] = num(substr(f[1], index(f[1], "READ")))
	for (i = 2; i <= 4; i++) cv[d, loads[d], p, i] = num(f[i])
}
# hmmdev-bench --warm: the same steps in a process that did them before
/^bench: [a-z_]+ warm process, time [0-9]+ of [0-9]+:/ {
	d = $2; n = ++warms[d]; split($0, f, ",")
	wv[d, 1, n] = num(substr(f[2], index(f[2], "READ")))
	for (i = 2; i <= 4; i++) wv[d, i, n] = num(f[i + 1])
}
/^bench: [a-z_]+ cold process [0-9]+ of [0-9]+, open\(\):/ {
	ov[$2, loads[$2], $5] = num($(NF - 1))
}
/^bench: [a-z_]+ migration 64 MiB of .*, median of/ {
	d = $2; kind = ($0 ~ /of THPs/) ? "THP" : "4 KiB"
	split($0, f, ":"); split(f[3], g, ",")
	for (i = 1; i <= 3; i++) mig[d, kind, i] = num(g[i])
	kinds[kind] = 1
	match($0, /median of [0-9]+/); mig_reps = substr($0, RSTART + 10, RLENGTH - 10)
}
# hmmdev-bench --round: one migration of each kind, hmmdev and test_hmm in
# turn (images/init); the rows below take the median of the rounds
/^bench: [a-z_]+ round: migration 64 MiB of / {
	d = $2; kind = ($0 ~ /of THPs/) ? "THP" : "4 KiB"
	n = ++rounds[d, kind]; kinds[kind] = 1
	split($0, f, ":"); split(f[4], g, ",")
	for (i = 1; i <= 3; i++) rnd[d, kind, i, n] = num(g[i])
}
/^bench: hmmdev migration time per 4 KiB of .*\(us\):/ {
	nph++
	phkind[nph] = ($0 ~ / of THPs/) ? "THP" : "4 KiB"
	match($0, /, (to device|back by ioctl|back by CPU faults) \(us\)/)
	phstep[nph] = substr($0, RSTART + 2, RLENGTH - 7)
	split("setup,alloc,copy,pages,finalize,map,in all,measured", phname, ",")
	for (i = 1; i <= 8; i++) phv[nph, i] = val($0, phname[i])
}
/^bench: hmmdev fault round trip, fault-around 1 page/ {
	fp50 = val($0, "p50"); fp99 = val($0, "p99")
}
/^bench: hmmdev floor: interrupt round trip/ {
	ip50 = val($0, "p50")
}
/^bench: hmmdev floor: empty command-queue round trip/ {
	sp50 = val($0, "p50")
}
/^bench: hmmdev concurrent faults, [0-9]+ context/ {
	c = num($5); match($0, /\([0-9.]+ per pass\)/)
	pass[c] = num(substr($0, RSTART, RLENGTH)); match($0, /[0-9]+ faults\/s/)
	rate[c] = num(substr($0, RSTART, RLENGTH)); if (c > cmax) cmax = c
}
/=== .*\(256\.0 MB\) ===/ { big = 1; next }
/^=== / { big = 0 }
big && /S->D Throughput/ { split($0, f, "|"); s2d[drv] = num(f[2]) }
big && /D->S Throughput/ { split($0, f, "|"); d2s[drv] = num(f[2]) }
END {
	# -v csv=1: only migration-64m.csv's rows (images/plot.sh), the
	# values of the table's migration rows
	if (csv) {
		print "driver,pages,to_device,back_by_ioctl,back_by_cpu_fault,values"
		split("THP,4 KiB", kindlist, ",")
		for (l = 1; l <= 2; l++)
			for (j = 1; j <= 2 && ((k = kindlist[l]) in kinds); j++) {
				d = j == 1 ? "hmmdev" : "test_hmm"
				printf "%s,%s,%.0f,%.0f,%.0f,%s\n", d, k == "THP" ? "THP" : "4KiB",
				       mig_value(d, k, 1), mig_value(d, k, 2), mig_value(d, k, 3), mig_how(k)
			}
		exit
	}
	print "| measurement | hmmdev | test_hmm | ratio | goal | |"
	print "|---|---|---|---|---|---|"
	split("READ,READ again,MIGRATE_TO_DEV,MIGRATE_TO_SYS", step, ",")
	# each process (the first, second, ... after a load): its median
	# over the loads; worst and best of those
	for (d in loads)
		for (i = 1; i <= 4; i++)
			for (p = 1; p <= procs[d]; p++) {
				for (l = 1; l <= loads[d]; l++) {
					m[l] = x = cv[d, l, p, i]
					if (!((d, i) in lo) || x < lo[d, i]) lo[d, i] = x
					if (!((d, i) in hi) || x > hi[d, i]) hi[d, i] = x
				}
				x = median(m, loads[d])
				if (!((d, i) in best) || x > best[d, i]) best[d, i] = x
				if (!((d, i) in worst) || x < worst[d, i]) worst[d, i] = x
			}
	for (i = 1; i <= 4; i++) {
		if (!(("hmmdev", i) in best)) continue
		w = worst["hmmdev", i] / best["hmmdev", i]
		row(sprintf("cold processes after a module load (each the median of %d loads), %s: worst / best", loads["hmmdev"], step[i]),
		    sprintf("%.0f / %.0f MiB/s (%.0f%%; single runs %.0f-%.0f)", worst["hmmdev", i], best["hmmdev", i], 100 * w,
			    lo["hmmdev", i], hi["hmmdev", i]),
		    sprintf("%.0f / %.0f MiB/s", worst["test_hmm", i], best["test_hmm", i]),
		    sprintf("%.0f%%", 100 * w), "within 20% of the best", w >= 0.8)
		if (warms["hmmdev"]) {
			for (d in warms) {
				for (l = 1; l <= warms[d]; l++) m[l] = wv[d, i, l]
				warm[d] = median(m, warms[d])
			}
			w = worst["hmmdev", i] / warm["hmmdev"]
			row(sprintf("cold against warm, %s: the worst cold process / a warm process doing the same (median of %d)", step[i], warms["hmmdev"]),
			    sprintf("%.0f / %.0f MiB/s", worst["hmmdev", i], warm["hmmdev"]),
			    warms["test_hmm"] ? sprintf("%.0f / %.0f MiB/s", worst["test_hmm", i], warm["test_hmm"]) : "-",
			    sprintf("%.0f%%", 100 * w), "within 20% of warm", w >= 0.8)
		}
		r = best["test_hmm", i] ? worst["hmmdev", i] / best["test_hmm", i] : 0
		row("cold processes, " step[i] ": hmmdev's worst against test_hmm's best",
		    sprintf("%.0f MiB/s", worst["hmmdev", i]), sprintf("%.0f MiB/s", best["test_hmm", i]),
		    sprintf("%.1fx", r), ">= 1.5x", r >= 1.5)
	}
	for (d in loads)
		for (p = 1; p <= procs[d]; p++) {
			for (l = 1; l <= loads[d]; l++) m[l] = ov[d, l, p]
			opens[d] = opens[d] (p > 1 ? " / " : "") sprintf("%.1f", median(m, loads[d]))
		}
	if (opens["hmmdev"] != "")
		row("cold processes: open() of /dev/hmm_dmirror0, each process, median of the loads (ms; hmmdev's first after a load runs the driver's self-test)",
		    opens["hmmdev"], opens["test_hmm"], "-", "reported", 1)
	split("to the device,back by ioctl,back by CPU faults", dir, ",")
	split("THP,4 KiB", kindlist, ",")
	for (j = 1; j <= 2; j++)
		for (i = 1; i <= 3 && ((k = kindlist[j]) in kinds); i++) {
			h = mig_value("hmmdev", k, i); t = mig_value("test_hmm", k, i)
			r = mig_ratio(k, i, h, t)
			row("migration 64 MiB of " k ", " dir[i] " (" mig_how(k) \
			    (rrange != "" ? "; ratio: the median of the rounds' own" : "") ")",
			    h " MiB/s", t " MiB/s", sprintf("%.1fx", r) rrange, ">= 2x", r >= 2)
		}
	if (s2d["test_hmm"]) {
		r = s2d["hmmdev"] / s2d["test_hmm"]
		row("hmm-tests benchmark_thp_migration 256 MiB THP, sys->dev", s2d["hmmdev"] " GB/s", s2d["test_hmm"] " GB/s", sprintf("%.1fx", r), ">= 2x", r >= 2)
		r = d2s["hmmdev"] / d2s["test_hmm"]
		row("hmm-tests benchmark_thp_migration 256 MiB THP, dev->sys", d2s["hmmdev"] " GB/s", d2s["test_hmm"] " GB/s", sprintf("%.1fx", r), ">= 2x", r >= 2)
	}
	if (ip50 + sp50 > 0) {
		r = fp50 / (ip50 + sp50)
		row("device fault round trip, one page: p50 (p99) against the floor: IRQ_TEST p50 + SYNC p50",
		    sprintf("%d us (%d us) vs %d + %d us", fp50, fp99, ip50, sp50), "-",
		    sprintf("%.2fx", r), "<= 2x", r <= 2)
	}
	if (cmax > 1)
		row(sprintf("concurrent faults: %d contexts at once against 1 (faults per pass of the fault work; faults/s)", cmax),
		    sprintf("%.1f vs %.1f per pass; %d vs %d faults/s", pass[cmax], pass[1], rate[cmax], rate[1]), "-",
		    sprintf("%.1fx", rate[1] ? rate[cmax] / rate[1] : 0), "batched (> 1 per pass)", pass[cmax] > 1)
	if (nph) {
		print ""
		print "Where hmmdev's migration time goes, us per 4 KiB moved (the driver's migrate_time; measured: the step's median wall time per 4 KiB).  The kernel's calls: setup + pages + finalize, the time spent in migrate_vma_setup(), _pages() and _finalize(); ceiling: test_hmm's time per 4 KiB over the kernel's calls, the ratio hmmdev would reach if the rest of its time were nothing and one task did it all.  The way back by ioctl is moved by two tasks at once (the caller and a helper, hmmdev_migrate_split()): its phases add up both tasks' time, more than the wall time, and its ceiling is twice the one shown:"
		print ""
		print "| migration | setup | alloc | copy | pages | finalize | map | in all | measured | the kernel's calls | ceiling against test_hmm |"
		print "|---|---|---|---|---|---|---|---|---|---|---|"
		split("to device,back by ioctl,back by CPU faults", stepname, ",")
		for (i = 1; i <= nph; i++) {
			kc = phv[i, 1] + phv[i, 4] + phv[i, 5]; t = 0
			for (s = 1; s <= 3; s++)
				if (stepname[s] == phstep[i]) t = mig["test_hmm", phkind[i], s]
			# test_hmm's us per 4 KiB: 4096 bytes at t MiB/s
			ceil = t && kc ? sprintf("%.1fx", 1e6 * 4096 / (t * 1048576) / kc) : "-"
			printf "| %s, %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %s |\n",
			       phkind[i], phstep[i], phv[i, 1], phv[i, 2], phv[i, 3], phv[i, 4],
			       phv[i, 5], phv[i, 6], phv[i, 7], phv[i, 8], kc, ceil
		}
	}
}
