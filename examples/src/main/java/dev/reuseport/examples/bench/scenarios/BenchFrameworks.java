package dev.reuseport.examples.bench.scenarios;

import dev.reuseport.examples.GrpcEcho;
import dev.reuseport.examples.bench.harness.ChildJvm;
import dev.reuseport.examples.bench.harness.Progress;
import dev.reuseport.examples.bench.harness.Result;
import dev.reuseport.examples.bench.harness.Stats;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code bench frameworks}: for gRPC and for WebFlux each, the framework on its own listener against the
 * framework on a reuseport group, same service, same load, alternating rounds (ABBA), each server in its
 * own child JVM from the start, the clients here. gRPC: {@code grpc-echo --serve [--plain]} of this JAR;
 * load: each client thread opens a connection, makes 20 unary calls and one server-streaming call (10
 * messages), 5 s deadlines, closes it, again. WebFlux: the Spring Boot application of
 * {@code examples-webflux} (run from its own JAR and class path, so this JAR stays free of Spring), plain
 * with {@code --reuseport.enabled=false}; load: {@code GET /hello} on a new connection each time. The
 * ratio is median(group) / median(own listener) of calls (requests) per second. Before the rounds both
 * servers warm up in alternating 1 s slices until each one's rate is stable ({@code --stable}, bounded by
 * {@code --warmup-max}), the slices printed; after the rounds each server's first and last round say whether
 * its rate still moved. Then, on the group server
 * only, the same load runs through {@code --restarts} restarts and as many resizes (workers / 2 and back);
 * every failed call or request, in the rounds or during the changes, counts in {@code *_failed}.
 */
@Command(name = "frameworks", mixinStandardHelpOptions = true,
        description = "gRPC and WebFlux on their own listener vs on a reuseport group, alternating rounds; then "
                + "restarts and resizes under load on the group.")
public final class BenchFrameworks implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--rounds", defaultValue = "5", description = "rounds per server (default ${DEFAULT-VALUE})")
    int rounds;

    @Option(names = "--seconds", defaultValue = "3", description = "measured seconds per round (default ${DEFAULT-VALUE})")
    double seconds;

    @Option(names = "--warmup", defaultValue = "1", description = "warm-up seconds per round, before each measured "
            + "one (default ${DEFAULT-VALUE})")
    double warmup;

    @Option(names = "--stable", defaultValue = "3", description = "before the rounds: warm both servers, alternating "
            + "1 s slices, until each one's last 3 slice rates are within this many percent of their mean "
            + "(default ${DEFAULT-VALUE})")
    double stable;

    @Option(names = "--warmup-max", defaultValue = "60", description = "before the rounds: warm up for at most this "
            + "many seconds per framework, stable or not (default ${DEFAULT-VALUE})")
    double warmupMax;

    @Option(names = "--workers", defaultValue = "4", description = "workers and event loops per server (default ${DEFAULT-VALUE})")
    int workers;

    @Option(names = "--clients", defaultValue = "8", description = "client threads (default ${DEFAULT-VALUE})")
    int clients;

    @Option(names = "--restarts", defaultValue = "10", description = "restarts, and resizes, under load on the group "
            + "(default ${DEFAULT-VALUE})")
    int restarts;

    @Option(names = "--only", defaultValue = "both", description = "grpc, webflux or both (default ${DEFAULT-VALUE})")
    String only;

    @Option(names = "--webflux-dir", description = "the examples-webflux module directory, built (default: beside "
            + "this JAR's examples directory)")
    Path webfluxDir;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (rounds < 1 || workers < 1 || clients < 1 || seconds <= 0 || warmup < 0 || restarts < 0 || stable <= 0
                || warmupMax < 0) {
            throw new ParameterException(spec.commandLine(), "--rounds, --workers and --clients must be 1 or more, "
                    + "--seconds and --stable above 0, --warmup, --warmup-max and --restarts 0 or more");
        }
        if (!List.of("grpc", "webflux", "both").contains(only)) {
            throw new ParameterException(spec.commandLine(), "--only " + only + " is not accepted; accepted: grpc, "
                    + "webflux, both");
        }
        Progress progress = new Progress(spec.commandLine().getErr(), "frameworks");
        Result result = new Result("frameworks");
        Double grpcRatio = null;
        Long grpcFailed = null;
        Double webRatio = null;
        Long webFailed = null;
        if (!only.equals("webflux")) {
            String w = Integer.toString(workers);
            long[] failed = new long[1];
            grpcRatio = compare(out, progress, "grpc", "calls/s",
                    () -> ChildJvm.start(List.of(), "grpc-echo", "--serve", "--plain", "--commands", "--workers", w),
                    () -> ChildJvm.start(List.of(), "grpc-echo", "--serve", "--commands", "--workers", w),
                    BenchFrameworks::grpcLoad, failed);
            grpcFailed = failed[0];
        }
        if (!only.equals("grpc")) {
            String cp = webfluxClassPath();
            List<String> common = List.of("--spring.main.banner-mode=off", "--logging.level.root=WARN",
                    "--server.port=0", "--management.endpoints.access.default=none");
            List<String> plain = new ArrayList<>(common);
            plain.add("--reuseport.enabled=false");
            List<String> group = new ArrayList<>(common);
            group.addAll(List.of("--reuseport.workers=" + workers, "--reuseport.address=127.0.0.1"));
            long[] failed = new long[1];
            String main = "dev.reuseport.examples.webflux.WebFluxEcho";
            webRatio = compare(out, progress, "webflux", "req/s",
                    () -> ChildJvm.startMain(List.of(), cp, main, plain.toArray(String[]::new)),
                    () -> ChildJvm.startMain(List.of(), cp, main, group.toArray(String[]::new)),
                    BenchFrameworks::httpLoad, failed);
            webFailed = failed[0];
        }
        result.put("grpc_ratio", grpcRatio == null ? Double.NaN : grpcRatio, 3)
                .put("webflux_ratio", webRatio == null ? Double.NaN : webRatio, 3)
                .put("grpc_failed", grpcFailed).put("webflux_failed", webFailed);
        result.print(out);
        return 0;
    }

    interface Starter {
        ChildJvm start() throws IOException;
    }

    interface Load {
        /** Runs {@code clients} threads for {@code seconds}; returns {answered, failed}. */
        long[] run(InetSocketAddress target, int clients, double seconds, AtomicBoolean stop);
    }

    /** Alternating rounds of plain vs group, then the changes on the group; returns median(group)/median(plain). */
    private double compare(PrintWriter out, Progress progress, String name, String unit, Starter plainStart,
                           Starter groupStart, Load load, long[] failedOut) throws Exception {
        ChildJvm plain = null;
        ChildJvm group = null;
        try {
            plain = plainStart.start();
            group = groupStart.start();
            ChildJvm[] child = {plain, group};
            String[] label = {name + "_own_listener", name + "_on_group"};
            InetSocketAddress[] target = new InetSocketAddress[2];
            for (int i = 0; i < 2; i++) {
                String[] ready = child[i].ready().split(" ", 2);
                target[i] = new InetSocketAddress(InetAddress.getLoopbackAddress(), Integer.parseInt(ready[0]));
                out.printf("%-22s port %s, %s%n", label[i], ready[0], ready.length > 1 ? ready[1] : "");
            }
            warmUp(out, progress, name, unit, label, target, load);
            out.printf(Locale.ROOT, "%s: %d client threads, %.1f s + %.1f s warm-up per round, %d workers%n", name,
                    clients, seconds, warmup, workers);
            out.printf("%-6s %-22s %12s %8s%n", "round", "server", unit, "failed");
            double[][] rates = new double[2][rounds];
            long failed = 0;
            for (int r = 0; r < rounds; r++) {
                progress.phase(name + " round " + (r + 1) + " of " + rounds);
                for (int i : r % 2 == 0 ? new int[] {0, 1} : new int[] {1, 0}) {
                    load.run(target[i], clients, warmup, new AtomicBoolean());
                    long t0 = System.nanoTime();
                    long[] res = load.run(target[i], clients, seconds, new AtomicBoolean());
                    double secs = (System.nanoTime() - t0) / 1e9;
                    rates[i][r] = res[0] / secs;
                    failed += res[1];
                    out.printf(Locale.ROOT, "%-6d %-22s %12.0f %8d%n", r + 1, label[i], rates[i][r], res[1]);
                    out.flush();
                }
            }
            double ratio = Stats.median(rates[1]) / Stats.median(rates[0]);
            for (int i = 0; i < 2; i++) {
                // a rate still climbing round by round means the warm-up was too short: say so
                double first = rates[i][0];
                double last = rates[i][rounds - 1];
                out.printf(Locale.ROOT, "%s %s: first round %.0f, last round %.0f (%+.1f%%), spread of rounds %.1f%%%n",
                        label[i], unit, first, last, 100 * (last - first) / first, spread(rates[i]));
            }
            out.printf(Locale.ROOT, "%s median %s: own listener %.0f, on a group %.0f -> ratio %.3f%n", name, unit,
                    Stats.median(rates[0]), Stats.median(rates[1]), ratio);
            // the changes, on the group server only, under the same load
            progress.phase(name + " " + restarts + " restarts and resizes under load");
            AtomicBoolean stop = new AtomicBoolean();
            long[][] during = new long[1][];
            InetSocketAddress t = target[1];
            Thread loader = new Thread(() -> during[0] = load.run(t, clients, 120, stop), name + "-changes-load");
            loader.start();
            Thread.sleep(500);
            int shrunk = Math.max(1, workers / 2);
            for (int i = 0; i < restarts; i++) {
                String a = group.ask("restart", "DONE");
                String b = group.ask("resize " + (i % 2 == 0 ? shrunk : workers), "DONE");
                if (a.startsWith("failed") || b.startsWith("failed")) {
                    out.println(name + ": change " + (i + 1) + " failed: " + a + " / " + b);
                    failed++;
                }
                Thread.sleep(100);
            }
            Thread.sleep(500);
            stop.set(true);
            loader.join(30_000);
            long[] d = during[0] == null ? new long[] {0, 1} : during[0];
            failed += d[1];
            out.printf("%s: %d restarts and %d resizes under load on the group: %d answered, %d failed%n", name,
                    restarts, restarts, d[0], d[1]);
            out.println();
            out.flush();
            failedOut[0] = failed;
            return ratio;
        } finally {
            if (plain != null) {
                plain.close();
            }
            if (group != null) {
                group.close();
            }
        }
    }

    /**
     * Warms both servers before the measured rounds, in alternating slices of 1 s (the client JVM warms as
     * well, equally for both), until the last 3 slice rates of each are within {@code --stable} percent of
     * their mean, or {@code --warmup-max} seconds passed; prints every slice and the outcome.
     */
    private void warmUp(PrintWriter out, Progress progress, String name, String unit, String[] label,
                        InetSocketAddress[] target, Load load) {
        if (warmupMax == 0) {
            return;
        }
        List<List<Double>> slices = List.of(new ArrayList<>(), new ArrayList<>());
        long end = System.nanoTime() + (long) (warmupMax * 1e9);
        boolean[] steady = new boolean[2];
        int k = 0;
        while (!(steady[0] && steady[1]) && System.nanoTime() < end) {
            for (int i = 0; i < 2; i++) {
                long t0 = System.nanoTime();
                long[] res = load.run(target[i], clients, 1.0, new AtomicBoolean());
                slices.get(i).add(res[0] / ((System.nanoTime() - t0) / 1e9));
                List<Double> s = slices.get(i);
                steady[i] = s.size() >= 3 && spread(s.subList(s.size() - 3, s.size()).stream()
                        .mapToDouble(Double::doubleValue).toArray()) <= stable;
            }
            k++;
            progress.phase(String.format(Locale.ROOT, "%s warm-up slice %d: %s %.0f, %s %.0f %s", name, k, label[0],
                    last(slices.get(0)), label[1], last(slices.get(1)), unit));
        }
        for (int i = 0; i < 2; i++) {
            out.printf(Locale.ROOT, "%-22s warm-up: %d slices of 1 s, %s (%s)%n", label[i], slices.get(i).size(),
                    steady[i] ? "stable within " + stable + "%" : "NOT stable within " + stable + "% after "
                            + warmupMax + " s", slices.get(i).stream().map(v -> String.format(Locale.ROOT, "%.0f", v))
                            .collect(java.util.stream.Collectors.joining(" ")));
        }
    }

    private static double last(List<Double> l) {
        return l.isEmpty() ? Double.NaN : l.get(l.size() - 1);
    }

    /** (max - min) / mean of {@code v}, in percent. */
    static double spread(double[] v) {
        double min = Double.MAX_VALUE;
        double max = -Double.MAX_VALUE;
        double sum = 0;
        for (double x : v) {
            min = Math.min(min, x);
            max = Math.max(max, x);
            sum += x;
        }
        double mean = sum / v.length;
        return mean > 0 ? 100 * (max - min) / mean : Double.POSITIVE_INFINITY;
    }

    /** gRPC: per thread, a connection for 20 unary calls and one 10-message stream, again and again. */
    static long[] grpcLoad(InetSocketAddress target, int clients, double seconds, AtomicBoolean stop) {
        AtomicLong ok = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        long end = System.nanoTime() + (long) (seconds * 1e9);
        runThreads(clients, () -> {
            for (int i = 0; !stop.get() && System.nanoTime() < end; i++) {
                ManagedChannel ch = NettyChannelBuilder.forAddress(target).usePlaintext().build();
                try {
                    for (int k = 0; k < 20 && System.nanoTime() < end; k++) {
                        try {
                            GrpcEcho.say(ch, "m" + k, 5000);
                            ok.incrementAndGet();
                        } catch (RuntimeException e) {
                            failed.incrementAndGet();
                        }
                    }
                    try {
                        GrpcEcho.count(ch, 10, 5000);
                        ok.incrementAndGet();
                    } catch (RuntimeException e) {
                        failed.incrementAndGet();
                    }
                } finally {
                    ch.shutdownNow();
                    try {
                        ch.awaitTermination(5, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
            }
        });
        return new long[] {ok.get(), failed.get()};
    }

    /** HTTP: per thread, {@code GET /hello} on a new connection (Connection: close), again and again. */
    static long[] httpLoad(InetSocketAddress target, int clients, double seconds, AtomicBoolean stop) {
        AtomicLong ok = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        long end = System.nanoTime() + (long) (seconds * 1e9);
        byte[] req = ("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
        runThreads(clients, () -> {
            while (!stop.get() && System.nanoTime() < end) {
                try (Socket s = new Socket(target.getAddress(), target.getPort())) {
                    s.setSoTimeout(5000);
                    OutputStream o = s.getOutputStream();
                    o.write(req);
                    o.flush();
                    InputStream in = s.getInputStream();
                    String res = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
                    if (res.startsWith("HTTP/1.1 200") && res.endsWith("hello")) {
                        ok.incrementAndGet();
                    } else {
                        failed.incrementAndGet();
                    }
                } catch (IOException e) {
                    failed.incrementAndGet();
                }
            }
        });
        return new long[] {ok.get(), failed.get()};
    }

    private static void runThreads(int n, Runnable r) {
        List<Thread> ts = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Thread t = new Thread(r, "frameworks-client-" + i);
            t.start();
            ts.add(t);
        }
        for (Thread t : ts) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** The WebFlux example's JAR and its dependencies, from its module directory (built by the project's build). */
    private String webfluxClassPath() throws Exception {
        Path dir = webfluxDir;
        if (dir == null) {
            Path jar = Path.of(BenchFrameworks.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            dir = jar.getParent().getParent().getParent().resolve("examples-webflux");
        }
        Path target = dir.resolve("target");
        Path cp = target.resolve("classpath.txt");
        Path app;
        try (var s = Files.list(target)) {
            app = s.filter(p -> p.getFileName().toString().matches("reuseport-examples-webflux-.*\\.jar")).findFirst()
                    .orElse(null);
        } catch (IOException e) {
            app = null;
        }
        if (app == null || !Files.isRegularFile(cp)) {
            throw new ParameterException(spec.commandLine(), "the WebFlux example is not built in " + dir + " (its JAR "
                    + "and target/classpath.txt); build the project (mvn package), or pass --webflux-dir, or --only grpc");
        }
        return app + java.io.File.pathSeparator + Files.readString(cp).trim();
    }
}
