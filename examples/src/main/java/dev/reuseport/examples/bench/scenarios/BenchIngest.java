package dev.reuseport.examples.bench.scenarios;

import dev.reuseport.DatagramBatch;
import dev.reuseport.examples.bench.harness.ChildJvm;
import dev.reuseport.examples.bench.harness.IngestC;
import dev.reuseport.examples.bench.harness.IngestRun;
import dev.reuseport.examples.bench.harness.IngestScale;
import dev.reuseport.examples.bench.harness.Stats;
import dev.reuseport.examples.bench.harness.StickyFlows;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code bench ingest}: UDP receive capacity of 4 SO_REUSEPORT receivers on 127.0.0.1 in a private network
 * namespace, measured as the reference harness ({@code perf/} beside the design notes) measures it. Each
 * receiver runs as its own process confined with {@code taskset} to CPU 1 (a Java receiver is a whole JVM
 * there: JIT and GC count), the C GSO sender (compiled here, sendmmsg of UDP_SEGMENT trains over 32 flows
 * calibrated to give every socket 8) and the loopback softirq it drives on CPU 0. The receiver reports its
 * rate, its CPU time per datagram, the receive-buffer drops, its garbage collections and (library paths)
 * the bytes its threads allocated per datagram. When the drops stay under 1% the sender side was the
 * limit, so the ratios compare CPU per datagram (each receiver at its own limit), per round, medians over
 * alternating rounds. Receivers: C recvmmsg and C UDP_GRO (the limits), the JDK's DatagramChannel, the
 * library single, batched and GRO, Netty epoll recvmmsg and GRO. Then: 1 M flows under {@code sticky}
 * with a 1 M-entry flow table (and beyond capacity), and the scale table by policy and worker count.
 */
@Command(name = "ingest", mixinStandardHelpOptions = true,
        description = "UDP ingest: library single/batched/GRO receive vs JDK, Netty and C limits (receiver "
                + "process on CPU 1, GSO sender on CPU 0, alternating rounds, medians); sticky with 1 M flows; "
                + "scale by workers and policy.")
public final class BenchIngest implements Callable<Integer> {
    private static final String[] IMPLS = {"c-mmsg", "c-gro", "jdk", "lib-single", "lib-batch", "lib-gro", "netty",
        "netty-gro"};
    private static final int[] PAYLOADS = {64, 1200};
    private static final int PORT = 9000;

    @Spec
    CommandSpec spec;

    @Option(names = "--rounds", defaultValue = "7", description = "alternating rounds (default ${DEFAULT-VALUE})")
    int rounds;

    @Option(names = "--seconds", defaultValue = "3", description = "measured seconds per run (default ${DEFAULT-VALUE})")
    double seconds;

    @Option(names = "--warmup", defaultValue = "2", description = "warm-up seconds per run (default ${DEFAULT-VALUE})")
    double warmup;

    @Option(names = "--batch", defaultValue = "64", description = "recvmmsg batch for lib, C and Netty (default ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--only", split = ",", description = "receivers to run (default: all of "
            + "c-mmsg,c-gro,jdk,lib-single,lib-batch,lib-gro,netty,netty-gro)")
    List<String> only;

    @Option(names = "--pin", defaultValue = "auto", description = "split (sender CPU 0, receiver process CPU 1), "
            + "none, or auto: split with 2 CPUs or more (default ${DEFAULT-VALUE})")
    String pin;

    @Option(names = "--flows", defaultValue = "1000000", description = "sticky run: distinct flows (default ${DEFAULT-VALUE})")
    int flows;

    @Option(names = "--scale-flows", defaultValue = "4096", description = "scale runs: flows sprayed (default ${DEFAULT-VALUE})")
    int scaleFlows;

    @Option(names = "--in-netns", hidden = true, description = "already in a private network namespace")
    boolean inNetns;

    @Option(names = "--no-netns", description = "run in this network namespace (loopback traffic only)")
    boolean noNetns;

    @Option(names = "--skip-receivers", description = "skip the receiver comparison")
    boolean skipReceivers;

    @Option(names = "--skip-sticky", description = "skip the 1 M-flow sticky run")
    boolean skipSticky;

    @Option(names = "--skip-scale", description = "skip the scale runs")
    boolean skipScale;

    private PrintWriter out;

    @Override
    public Integer call() throws Exception {
        out = spec.commandLine().getOut();
        if (rounds < 1 || seconds <= 0 || warmup < 0 || batch < 1 || batch > DatagramBatch.MAX_SLOTS || flows < 1
                || scaleFlows < 1) {
            throw new ParameterException(spec.commandLine(), "--rounds, --flows and --scale-flows must be 1 or more, "
                    + "--seconds above 0, --warmup 0 or more, --batch 1.." + DatagramBatch.MAX_SLOTS);
        }
        List<String> impls = only == null || only.isEmpty() ? List.of(IMPLS) : only;
        for (String i : impls) {
            if (!Arrays.asList(IMPLS).contains(i)) {
                throw new ParameterException(spec.commandLine(), "unknown receiver " + i + "; accepted: "
                        + String.join(",", IMPLS));
            }
        }
        if (!inNetns && !noNetns) {
            return reexecInNetns();
        }
        if (inNetns) {
            IngestC.run(List.of("ip", "link", "set", "lo", "up"), 10);
        }
        boolean split = "split".equals(pin) || ("auto".equals(pin) && Runtime.getRuntime().availableProcessors() >= 2);
        Path dir = Files.createTempDirectory("bench-ingest");
        try {
            IngestC c = IngestC.compile(dir);
            Map<String, Double> fig = new LinkedHashMap<>();
            if (!skipReceivers) {
                receivers(c, impls, split, fig);
            }
            String sticky = "na";
            if (!skipSticky) {
                out.printf("%nsticky: %d distinct flows (127.1.0.0/16 x ports), sent twice; 4 workers%n", flows);
                out.println(StickyFlows.HEADER);
                StickyFlows.Outcome at = StickyFlows.run(c, PORT + 1, 4, flows, flows);
                out.println(at.row());
                out.flush();
                StickyFlows.Outcome beyond = StickyFlows.run(c, PORT + 1, 4, flows, Math.max(1, flows / 4));
                out.println(beyond.row() + "   <- beyond capacity");
                sticky = at.steering().startsWith("bpf") ? Stats.fmt(at.movedPct(), 4) : "na";
            }
            String remove256 = "na";
            if (!skipScale) {
                List<IngestScale.Cell> cells = IngestScale.run(out, c, PORT + 2, new int[] {1, 2, 8, 64, 256},
                        List.of("kernel-hash", "round-robin", "consistent", "sticky"), scaleFlows, 1.0);
                remove256 = Stats.fmt(Stats.median(cells.stream().filter(x -> x.workers() == 256)
                        .map(IngestScale.Cell::removeMs).toList()), 3);
            }
            out.printf(Locale.ROOT, "RESULT ingest lib_single_vs_jdk=%s lib_batch_vs_c=%s lib_batch_vs_jdk=%s "
                            + "lib_gro_vs_c_gro=%s lib_gro_vs_c_gro_1200=%s lib_gro_vs_netty_gro=%s alloc_per_dgram=%s "
                            + "sticky_moved_1m=%s workers256_remove_ms=%s%n",
                    r(fig, "lib-single/64:jdk"), r(fig, "lib-batch/64:c-mmsg"), r(fig, "lib-batch/64:jdk"),
                    r(fig, "lib-gro/64:c-gro"), r(fig, "lib-gro/1200:c-gro"), r(fig, "lib-gro/64:netty-gro"),
                    fig.containsKey("alloc") ? Stats.fmt(fig.get("alloc"), 2) : "na", sticky, remove256);
            out.flush();
            return 0;
        } finally {
            try (var s = Files.list(dir)) {
                for (Path p : (Iterable<Path>) s::iterator) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(dir);
        }
    }

    private static String r(Map<String, Double> fig, String key) {
        Double v = fig.get(key);
        return v == null || v.isNaN() ? "na" : String.format(Locale.ROOT, "%.3f", v);
    }

    /** The receiver comparison: alternating rounds in rotating order, per-round CPU ratios, medians. */
    private void receivers(IngestC c, List<String> impls, boolean split, Map<String, Double> fig) throws Exception {
        int[] ports = c.calibrate(PORT, 4, 8);
        IngestRun.Setup s = new IngestRun.Setup(c, split ? 1 : -1, split ? 0 : -1, PORT, 4, ports, warmup, seconds);
        out.printf("4 receivers on 127.0.0.1:%d, C GSO sender over 32 calibrated flows (8 per socket), %s, %d rounds "
                + "of %.1f s + %.1f s warm-up, batch %d%n", PORT, split ? "receiver process on CPU 1 (taskset), sender "
                + "and softirq on CPU 0" : "unpinned", rounds, seconds, warmup, batch);
        Map<String, List<IngestRun>> runs = new LinkedHashMap<>();
        for (int round = 0; round < rounds; round++) {
            for (int payload : PAYLOADS) {
                List<String> order = new ArrayList<>(impls);
                Collections.rotate(order, round);
                for (String impl : order) {
                    List<String> cmd = switch (impl) {
                        case "c-mmsg" -> IngestRun.cReceiver(false, s, batch);
                        case "c-gro" -> IngestRun.cReceiver(true, s, Math.min(batch, 16));
                        default -> IngestRun.javaReceiver(impl, s, batch, null);
                    };
                    IngestRun run = IngestRun.measure(s, cmd, payload);
                    runs.computeIfAbsent(impl + "/" + payload, k -> new ArrayList<>()).add(run);
                    out.printf(Locale.ROOT, "round %d %-10s %5d B %8.3f M/s %7.1f ns/dg cpu  drop %5.1f%%  gc %d%s%n",
                            round + 1, impl, payload, run.rate() / 1e6, run.cpuNs(), run.dropPct(), run.gcs(),
                            run.alloc() < 0 ? "" : String.format(Locale.ROOT, "  alloc %.3f B/dg", run.alloc()));
                    out.flush();
                }
            }
        }
        out.printf("%n%-10s %6s %9s %9s %9s %7s %5s %9s   (medians of %d rounds)%n", "receiver", "bytes", "M dg/s",
                "cpu ns/dg", "M dg/cpu-s", "drop %", "GCs", "B/dg", rounds);
        for (int payload : PAYLOADS) {
            for (String impl : impls) {
                List<IngestRun> l = runs.get(impl + "/" + payload);
                double alloc = l.stream().mapToDouble(IngestRun::alloc).max().orElse(-1);
                out.printf(Locale.ROOT, "%-10s %6d %9.3f %9.1f %9.3f %7.1f %5d %9s%n", impl, payload,
                        med(l, IngestRun::rate) / 1e6, med(l, IngestRun::cpuNs), med(l, IngestRun::capacity) / 1e6,
                        med(l, IngestRun::dropPct), l.stream().mapToLong(IngestRun::gcs).sum(),
                        alloc < 0 ? "-" : String.format(Locale.ROOT, "%.3f", alloc));
                if (impl.startsWith("lib-single") || impl.startsWith("lib-batch")) {
                    fig.merge("alloc", Math.max(0, alloc), Math::max);
                }
            }
        }
        out.println("(M dg/cpu-s = 1e9 / cpu ns per datagram: the receiver at its own limit on one CPU; drops under "
                + "1% mean the sender was the limit of the M dg/s column. GCs: total over all rounds. B/dg: most "
                + "bytes the receiving threads allocated per datagram in any round.)");
        String[][] pairs = {{"lib-single", "64", "jdk"}, {"lib-batch", "64", "c-mmsg"}, {"lib-batch", "64", "jdk"},
            {"lib-gro", "64", "c-gro"}, {"lib-gro", "1200", "c-gro"}, {"lib-gro", "64", "netty-gro"}};
        for (String[] p : pairs) {
            List<IngestRun> a = runs.get(p[0] + "/" + p[1]);
            List<IngestRun> b = runs.get(p[2] + "/" + p[1]);
            if (a != null && b != null) {
                List<Double> ratios = new ArrayList<>();
                for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
                    ratios.add(b.get(i).cpuNs() / a.get(i).cpuNs());
                }
                fig.put(p[0] + "/" + p[1] + ":" + p[2], Stats.median(ratios));
            }
        }
    }

    private static double med(List<IngestRun> l, java.util.function.ToDoubleFunction<IngestRun> f) {
        return Stats.median(l.stream().map(x -> f.applyAsDouble(x)).toList());
    }

    private int reexecInNetns() throws Exception {
        List<String> args = new ArrayList<>(List.of("ingest", "--in-netns"));
        List<String> all = spec.commandLine().getParseResult().originalArgs();
        args.addAll(all.subList(all.indexOf("ingest") + 1, all.size()));
        int rc = ChildJvm.benchInNetns(out, args);
        if (rc != 0) {
            out.println("bench ingest: the child in 'unshare -n' exited with " + rc + " (root is needed for a private "
                    + "network namespace; --no-netns runs here, on loopback)");
        }
        return rc;
    }
}
