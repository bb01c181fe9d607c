package dev.reuseport.examples.bench.harness;

import dev.reuseport.examples.bench.harness.ChangeTimeline.Change;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/** The report of a {@code bench soak} run ({@link SoakState}): per-change tables, figures, PASS/FAIL, RESULT. */
public final class SoakReport {
    private SoakReport() {
    }

    /**
     * Prints the tables, the figures and the RESULT line of a finished run.
     *
     * @param kinds the change kinds' labels, in order
     */
    public static void print(PrintWriter out, SoakState run, List<String> kinds, FdCensus before, FdCensus after,
            Map<String, Long> k0, Map<String, Long> k1, int seconds, int intervalMs) {
        List<Change> cs = run.changes;
        long connTotal = run.tcpLoad == null ? 0 : run.tcpLoad.attempted.sum();
        long connOk = run.tcpLoad == null ? 0 : run.tcpLoad.completed.sum();
        long connFailed = run.tcpLoad == null ? 0 : run.tcpLoad.failed.sum();
        long sent = run.udpLoad == null ? 0 : run.udpLoad.sent();
        long received = run.udpServer == null ? 0 : run.udpServer.received.sum();
        long kernelDropped = run.udpInErrors1 - run.udpInErrors0;
        long unexplained = sent - received - kernelDropped;

        // which datagrams are missing, placed on the change time line
        Map<Integer, Long> lostAfter = new TreeMap<>();
        List<String> lostExamples = new ArrayList<>();
        long missing = 0;
        if (run.udpLoad != null && run.udpServer != null) {
            long[] sentPer = run.udpLoad.seqs();
            for (int s = 0; s < sentPer.length; s++) {
                for (long q = 0; q < sentPer[s]; q++) {
                    if (!run.udpServer.seen(s, q)) {
                        missing++;
                        int ci = ChangeTimeline.changeOfSeq(cs, s, q);
                        lostAfter.merge(ci, 1L, Long::sum);
                        if (lostExamples.size() < 12) {
                            lostExamples.add(ChangeTimeline.describeLoss(cs, ci, s, q));
                        }
                    }
                }
            }
        }
        // TCP failures, placed on the same time line
        Map<Integer, Long> failedAfter = new TreeMap<>();
        if (run.tcpLoad != null) {
            for (PacedTcpLoad.Failure f : run.tcpLoad.failures) {
                failedAfter.merge(ChangeTimeline.changeAt(cs, f.started()), 1L, Long::sum);
            }
        }
        // kernel drops per change (from its start to the next change's start)
        Map<Integer, Long> dropsAfter = new TreeMap<>();
        for (int i = 0; i < cs.size(); i++) {
            long until = i + 1 < cs.size() ? cs.get(i + 1).udpInErrorsAtStart : run.udpInErrors1;
            long d = until - cs.get(i).udpInErrorsAtStart;
            if (d != 0) {
                dropsAfter.put(i, d);
            }
        }
        long dropsBeforeFirst = cs.isEmpty() ? kernelDropped : cs.get(0).udpInErrorsAtStart - run.udpInErrors0;

        out.println();
        out.println("per change kind (each change applied to the TCP group, then the UDP group); failures and losses "
                + "are placed on the change in force when the connection began / the datagram was sent:");
        out.printf("%-11s %8s %8s %9s %9s %10s %11s %12s%n", "kind", "changes", "failed", "median_ms", "max_ms",
                "conn_fail", "dgram_lost", "kernel_drop");
        for (String k : kinds) {
            ChangeTimeline.row(out, k, cs, c -> c.kind.equals(k), failedAfter, lostAfter, dropsAfter);
        }
        ChangeTimeline.row(out, "all", cs, c -> true, failedAfter, lostAfter, dropsAfter);
        out.printf("%-11s %8s %8s %9s %9s %10d %11d %12d%n", "(before 1st)", "", "", "", "",
                failedAfter.getOrDefault(-1, 0L), lostAfter.getOrDefault(-1, 0L), dropsBeforeFirst);

        out.println();
        out.println("per change detail (tcp_ms, udp_ms: median time the change took on each group; max_ms: both):");
        out.printf("%-40s %8s %8s %9s %9s %9s %10s %11s %12s%n", "change", "changes", "failed", "tcp_ms",
                "udp_ms", "max_ms", "conn_fail", "dgram_lost", "kernel_drop");
        Map<String, List<Change>> byDetail = new LinkedHashMap<>();
        for (String k : kinds) {
            for (Change c : cs) {
                if (c.kind.equals(k)) {
                    byDetail.computeIfAbsent(c.detail, d -> new ArrayList<>()).add(c);
                }
            }
        }
        for (Map.Entry<String, List<Change>> e : byDetail.entrySet()) {
            String d = e.getKey();
            ChangeTimeline.rowWide(out, d, cs, c -> c.detail.equals(d), failedAfter, lostAfter, dropsAfter);
        }

        out.println();
        double secs = run.changesEnd > run.start ? (run.changesEnd - run.start) / 1e9 : 0;
        out.printf(Locale.ROOT, "changes: %d in %.1f s (%d failed)%n", cs.size(), secs,
                cs.stream().filter(Change::failed).count());
        out.printf("TCP: %d connections attempted, %d completed, %d failed%n", connTotal, connOk, connFailed);
        if (run.tcpLoad != null && connFailed > 0) {
            out.println("  client failures by cause:");
            run.tcpLoad.reasonSnapshot().forEach((k, v) -> out.printf("    %6d  %s%n", v, k));
            List<PacedTcpLoad.Failure> fs = new ArrayList<>(run.tcpLoad.failures);
            fs.sort((a, b) -> Long.compare(a.started(), b.started()));
            for (PacedTcpLoad.Failure f : fs.subList(0, Math.min(8, fs.size()))) {
                int ci = ChangeTimeline.changeAt(cs, f.started());
                out.printf(Locale.ROOT, "    began %s; seen %.1f ms later: %s%n", ChangeTimeline.where(cs, ci, f.started()),
                        (f.seen() - f.started()) / 1e6, f.reason());
            }
        }
        if (run.tcpServer != null && !run.tcpServer.errorSnapshot().isEmpty()) {
            out.println("  TCP server-side errors: " + run.tcpServer.errorSnapshot());
        }
        out.printf("UDP: %d datagrams sent, %d received (unique), %d duplicates, %d malformed, %d send failures; "
                        + "receive count stood still after %d ms%n", sent, received,
                run.udpServer == null ? 0 : run.udpServer.duplicates.sum(),
                run.udpServer == null ? 0 : run.udpServer.malformed.sum(),
                run.udpLoad == null ? 0 : run.udpLoad.sendFailed.sum(), run.settleMillis);
        if (run.udpLoad != null && !run.udpLoad.sendErrors.isEmpty()) {
            run.udpLoad.sendErrors.forEach((k, v) -> out.printf("    send failure %6d  %s%n", v.sum(), k));
        }
        out.printf("  dropped by the kernel: %d (namespace /proc/net/snmp Udp: InErrors delta); per-socket SO_MEMINFO "
                        + "drops: %d (%d read from sockets just before changes closed them + %d on the live sockets; a "
                        + "lower bound)%n", kernelDropped, run.retiredSocketDrops + run.liveSocketDrops,
                run.retiredSocketDrops, run.liveSocketDrops);
        out.printf("  missing by sequence number: %d; sent - received - kernel_dropped = %d%n", missing, unexplained);
        if (!lostExamples.isEmpty()) {
            out.println("  first missing datagrams:");
            lostExamples.forEach(s -> out.println("    " + s));
        }
        if (run.udpServer != null && !run.udpServer.errorSnapshot().isEmpty()) {
            out.println("  UDP server-side errors: " + run.udpServer.errorSnapshot());
        }
        StringBuilder kc = new StringBuilder();
        for (String k : java.util.stream.Stream.concat(SoakState.UDP_KEYS.stream(), SoakState.TCP_KEYS.stream()).toList()) {
            if (k0.containsKey(k) && k1.containsKey(k)) {
                kc.append(kc.length() == 0 ? "" : ", ").append(k).append(' ').append(k1.get(k) - k0.get(k));
            }
        }
        out.println("kernel counters (this namespace, whole run): " + kc);
        out.printf("descriptors: before %d (bpf-prog %d, bpf-map %d), after %d (bpf-prog %d, bpf-map %d)%n",
                before.total(), before.progs(), before.maps(), after.total(), after.progs(), after.maps());
        if (!before.byKind().equals(after.byKind())) {
            out.println("  by kind before: " + before.byKind());
            out.println("  by kind after:  " + after.byKind());
        }
        synchronized (run.notes) {
            if (!run.notes.isEmpty()) {
                out.println("notes (" + run.notes.size() + "):");
                run.notes.stream().limit(40).forEach(n -> out.println("  " + n));
            }
        }
        HandoffChurn ch = run.churn;
        long churnFailed = 0;
        long killedInFlight = 0;
        long migrateFailures = k1.getOrDefault("TcpExt.TCPMigrateReqFailure", 0L)
                - k0.getOrDefault("TcpExt.TCPMigrateReqFailure", 0L);
        if (ch != null) {
            long all = ch.load.failed.sum();
            for (PacedTcpLoad.Failure f : ch.load.failures) {
                if (ch.lostToKill(f)) {
                    killedInFlight++;
                }
            }
            if (migrateFailures > 0) {
                // a queued connection reset for want of a listener looks the same: excuse none
                out.println("  the kernel failed " + migrateFailures + " migrations: no failure is put down to a kill");
                killedInFlight = 0;
            }
            churnFailed = all - killedInFlight;
            out.printf("hand-off churn (child JVMs, its own port): %d hand-offs completed, %d fell back, %d children "
                    + "killed -9 at a step (%d new sides); load %d connections, %d failed, of which %d lost to a kill -9 "
                    + "(in flight at the kill, reset or cut short: accepted by the killed process; the kernel's "
                    + "TCPMigrateReqFailure delta %d) and %d for other reasons; hostile control client %d requests; "
                    + "fallback on the old side during hand-offs: %d timed, slowest round trip %d us, slowest in the "
                    + "old side %d us%n", ch.handoffs.get(), ch.fallbacks.get(), ch.killed.get(), ch.killedNew.get(),
                    ch.load.attempted.sum(), all, killedInFlight, migrateFailures, churnFailed,
                    ch.hostileRequests.get(), ch.fallbackProbes.get(), ch.fallbackDuringHandoffMicros.get(),
                    ch.fallbackInForceMicros.get());
            out.println("  " + ch.attempted.get() + " hand-offs begun; " + probeSummary(ch.probeSamples));
            out.println("  the children's control threads and the probe: " + (HandoffChurn.REALTIME > 0 ? "SCHED_RR "
                    + HandoffChurn.REALTIME : "nice " + dev.reuseport.ControlSocket.DEFAULT_SERVING_NICE)
                    + " (-Dchurn.realtime=N; 0: the control socket's default, nice -10); the serving child's other "
                    + "threads: nice " + HandoffChurn.SERVING_NICE + " (-Dchurn.servingNice=N; 0: off)");
            ProbeParts.print(out, ch.probeSamples, 8);
            out.println("  hostile requests, slowest round trip of each kind (us): " + ch.hostileSlowest.entrySet().stream()
                    .sorted(java.util.Map.Entry.<String, Long>comparingByValue().reversed())
                    .map(e -> dev.reuseport.internal.wire.Shown.printable(e.getKey()) + " " + e.getValue())
                    .collect(java.util.stream.Collectors.joining(", ")));
            out.println("  the machine's floor, a thread of another JVM one priority above the control threads doing nothing "
                    + "but sleep, "
                    + "beside it all" + (run.wakeSampler == null ? "" : " (" + run.wakeSampler.priority() + ")") + ": "
                    + (run.wake == null ? "not measured" : run.wake));
            writeProbes(ch.probeSamples, System.getProperty("soak.probes"));
            if (all > 0) {
                ch.load.reasonSnapshot().forEach((k, v) -> out.printf("    %6d  %s%n", v, k));
            }
        }
        connFailed += churnFailed;
        boolean pass = connFailed == 0 && unexplained == 0 && after.total() == before.total()
                && after.progs() == before.progs() && after.maps() == before.maps()
                && cs.size() >= Math.min(500, (long) seconds * 1000 / intervalMs * 5 / 6)
                && cs.stream().noneMatch(Change::failed);
        out.println((pass ? "PASS" : "FAIL") + ": " + connFailed + " connections failed, " + unexplained
                + " datagrams lost unexplained, descriptor deltas " + (after.total() - before.total()) + "/"
                + (after.progs() - before.progs()) + "/" + (after.maps() - before.maps()) + ", " + cs.size()
                + " changes (" + cs.stream().filter(Change::failed).count() + " failed)");
        new Result("soak").put("conn_total", connTotal).put("conn_failed", connFailed)
                .put("dgram_lost_unexplained", unexplained).put("fd_delta", after.total() - before.total())
                .put("bpf_prog_delta", after.progs() - before.progs()).put("bpf_map_delta", after.maps() - before.maps())
                .put("changes", cs.size()).put("handoffs", ch == null ? 0 : ch.handoffs.get())
                .put("killed", ch == null ? 0 : ch.killed.get())
                .put("hostile_requests", ch == null ? 0 : ch.hostileRequests.get())
                .put("fallback_during_handoff_us", ch == null ? 0 : ch.fallbackDuringHandoffMicros.get())
                .put("fallback_in_group_us", ch == null ? 0 : ch.fallbackInForceMicros.get())
                .put("fallback_median_us", ch == null ? 0 : median(ch.probeSamples, 2))
                .put("fallback_p99_us", ch == null ? 0 : ProbeParts.p99(ch.probeSamples))
                .put("conn_lost_to_kill", killedInFlight)
                .put("control_sched", HandoffChurn.REALTIME > 0 ? "rr" + HandoffChurn.REALTIME
                        : "nice" + dev.reuseport.ControlSocket.DEFAULT_SERVING_NICE)
                .put("serving_nice", HandoffChurn.SERVING_NICE)
                .put("wake_late_p99_us", run.wake == null ? "n/a" : Long.toString(run.wake.p99()))
                .put("wake_late_max_us", run.wake == null ? "n/a" : Long.toString(run.wake.max())).print(out);
    }

    /**
     * Diagnostics: every probe as a line (hand-off, probe, round trip us, in-group us, start nanoTime, old
     * side's pid) into {@code file} (system property {@code soak.probes}), to set beside JVM logs
     * ({@code -Xlog:gc:...:timenanos} shares the clock); nothing when null.
     */
    static void writeProbes(List<long[]> samples, String file) {
        if (file == null) {
            return;
        }
        StringBuilder b = new StringBuilder();
        synchronized (samples) {
            for (long[] s : samples) {
                for (long v : s) {
                    b.append(v).append(' ');
                }
                b.append('\n');
            }
        }
        try {
            java.nio.file.Files.writeString(java.nio.file.Path.of(file), b);
        } catch (java.io.IOException e) {
            System.err.println("soak.probes " + file + ": " + e);
        }
    }

    /** The median of column {@code col} of the probe samples (0 when there are none). */
    static long median(List<long[]> samples, int col) {
        long[] v;
        synchronized (samples) {
            v = samples.stream().mapToLong(s -> s[col]).sorted().toArray();
        }
        return v.length == 0 ? 0 : v[v.length / 2];
    }

    /**
     * The fallback probes in figures: medians beside the slowest, and the old side's first request of each
     * hand-off (a fresh JVM's first {@code fallback} under a hand-off) apart from the later ones.
     */
    static String probeSummary(List<long[]> samples) {
        long[] firstMax = new long[2];
        long[] laterMax = new long[2];
        int firsts = 0;
        StringBuilder slow = new StringBuilder();
        synchronized (samples) {
            for (long[] s : samples) {
                long[] m = s[1] == 1 ? firstMax : laterMax;
                firsts += s[1] == 1 ? 1 : 0;
                m[0] = Math.max(m[0], s[2]);
                m[1] = Math.max(m[1], s[3]);
            }
            samples.stream().sorted((a, b) -> Long.compare(b[2], a[2])).limit(5).forEach(s -> slow.append(' ')
                    .append(s[2]).append(" (hand-off ").append(s[0]).append(" probe ").append(s[1]).append(", in group ")
                    .append(s[3]).append(')'));
        }
        return String.format(java.util.Locale.ROOT, "fallback probes: %d, median round trip %d us (in group %d us); "
                + "first of each hand-off (%d): slowest %d us (in group %d us); later ones: slowest %d us (in group "
                + "%d us); slowest five:%s", samples.size(), median(samples, 2), median(samples, 3), firsts, firstMax[0],
                firstMax[1], laterMax[0], laterMax[1], slow);
    }
}
