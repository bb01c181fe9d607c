package dev.reuseport.examples.bench.scenarios;

import dev.reuseport.examples.bench.harness.ChildJvm;
import dev.reuseport.examples.bench.harness.Stats;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code bench serve}: requests per second of a minimal HTTP/1.1 200 under
 * {@code wrk -t2 -c64 -H 'Connection: close'} (a new connection per request), 4 workers each, from
 * (a) the library's serving loop ({@code echo --http --serve}, {@code ReuseportGroup.serve} with virtual
 * threads), (b) the Netty adapter ({@code netty-echo --http --serve}) and (c) nginx ({@code return 200},
 * 4 workers, {@code listen ... reuseport}, its own temporary prefix). Everything runs in a private network
 * namespace: the command re-runs itself under {@code unshare -n} and brings loopback up there. Each server
 * is started once and warmed up; then the rounds alternate between them (the order rotating each round)
 * and each server's per-round ratio to nginx is taken (the RESULT's ratios are their medians: paired within a
 * round, they do not move with the machine's drift between rounds). Installs nothing: without wrk or nginx it says what to install and fails.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "HTTP/1.1 200 under wrk (Connection: close): the library's serving loop, the Netty adapter "
                + "and nginx, 4 workers each, in a private netns; RESULT line last.")
public final class BenchServe implements Callable<Integer> {
    private static final String[] IMPLS = {"lib", "netty", "nginx"};

    @Spec
    CommandSpec spec;

    @Option(names = "--rounds", defaultValue = "5", description = "alternating rounds (default ${DEFAULT-VALUE})")
    int rounds;

    @Option(names = "--seconds", defaultValue = "10", description = "wrk -d per round (default ${DEFAULT-VALUE})")
    int seconds;

    @Option(names = "--warmup", defaultValue = "10", description = "warm-up seconds per server (default ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--workers", defaultValue = "4", description = "workers per server (default ${DEFAULT-VALUE})")
    int workers;

    @Option(names = "--in-netns", hidden = true, description = "internal: already inside the private namespace")
    boolean inNetns;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (rounds < 1 || seconds < 1 || warmup < 0 || workers < 1) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--rounds " + rounds + ", --seconds "
                    + seconds + ", --warmup " + warmup + ", --workers " + workers
                    + ": accepted: rounds, seconds and workers 1 or more, warmup 0 or more");
        }
        List<String> missing = new ArrayList<>();
        String wrk = onPath("wrk");
        String nginx = onPath("nginx");
        if (wrk == null) {
            missing.add("wrk");
        }
        if (nginx == null) {
            missing.add("nginx");
        }
        if (onPath("unshare") == null || onPath("ip") == null) {
            missing.add("unshare/ip");
        }
        if (!missing.isEmpty()) {
            out.println("bench serve needs " + String.join(", ", missing) + " on PATH; install them with: "
                    + "apt-get install nginx-light wrk (util-linux, iproute2 for unshare and ip)");
            out.flush();
            return 2;
        }
        if (!inNetns) {
            return reRunInNetns(out);
        }
        run(new String[] {"ip", "link", "set", "lo", "up"}, 10);
        Map<String, Server> servers = new LinkedHashMap<>();
        Map<String, List<Double>> rates = new LinkedHashMap<>();
        try {
            servers.put("lib", Server.jvm("lib", "echo", "--protocol", "tcp", "--http", "--serve", "--workers",
                    String.valueOf(workers), "--port", "0"));
            servers.put("netty", Server.jvm("netty", "netty-echo", "--http", "--serve", "--workers",
                    String.valueOf(workers), "--port", "0"));
            servers.put("nginx", Server.nginx(nginx, workers));
            for (Server s : servers.values()) {
                out.printf("%-6s listening on 127.0.0.1:%d (%s)%n", s.name, s.port, s.what);
                rates.put(s.name, new ArrayList<>());
            }
            out.flush();
            for (Server s : servers.values()) {
                if (warmup > 0) {
                    wrk(wrk, s.port, warmup);
                }
            }
            for (int r = 0; r < rounds; r++) {
                StringBuilder line = new StringBuilder("round " + (r + 1) + "/" + rounds + ":");
                for (int i = 0; i < IMPLS.length; i++) {
                    Server s = servers.get(IMPLS[(i + r) % IMPLS.length]);
                    double rps = wrk(wrk, s.port, seconds);
                    rates.get(s.name).add(rps);
                    line.append(String.format(Locale.ROOT, " %s=%.0f", s.name, rps));
                }
                out.println(line);
                out.flush();
            }
        } finally {
            for (Server s : servers.values()) {
                s.close();
            }
        }
        out.println();
        out.printf("%-6s %12s %12s %12s %12s %12s%n", "server", "median/s", "min/s", "max/s", "medians", "paired");
        List<Double> nginxRates = rates.get("nginx");
        double nginxMedian = Stats.median(nginxRates);
        Map<String, Double> med = new LinkedHashMap<>();
        Map<String, Double> paired = new LinkedHashMap<>();
        for (Map.Entry<String, List<Double>> e : rates.entrySet()) {
            double m = Stats.median(e.getValue());
            med.put(e.getKey(), m);
            List<Double> perRound = new ArrayList<>();
            for (int r = 0; r < e.getValue().size(); r++) {
                perRound.add(e.getValue().get(r) / nginxRates.get(r));
            }
            paired.put(e.getKey(), Stats.median(perRound));
            out.printf(Locale.ROOT, "%-6s %12.0f %12.0f %12.0f %12.2f %12.2f%n", e.getKey(), m,
                    e.getValue().stream().mapToDouble(Double::doubleValue).min().orElse(0),
                    e.getValue().stream().mapToDouble(Double::doubleValue).max().orElse(0), m / nginxMedian,
                    paired.get(e.getKey()));
        }
        out.printf(Locale.ROOT, "wrk -t2 -c64 -d%ds -H 'Connection: close', %d workers each, %d rounds, private netns, "
                + "%d CPUs%n", seconds, workers, rounds, Runtime.getRuntime().availableProcessors());
        out.println("vs nginx: 'medians' divides the servers' medians; 'paired' (the RESULT's ratios) is the median of "
                + "the ratios to nginx within each round, which the machine's drift between rounds does not move");
        out.printf(Locale.ROOT, "RESULT serve lib=%.0f netty=%.0f nginx=%.0f lib_vs_nginx=%.2f netty_vs_nginx=%.2f%n",
                med.get("lib"), med.get("netty"), nginxMedian, paired.get("lib"), paired.get("netty"));
        out.flush();
        return 0;
    }

    /** Runs this command again inside {@code unshare -n}, passing its output through. */
    private int reRunInNetns(PrintWriter out) throws IOException, InterruptedException {
        int rc = ChildJvm.benchInNetns(out, List.of("serve", "--in-netns", "--rounds", String.valueOf(rounds),
                "--seconds", String.valueOf(seconds), "--warmup", String.valueOf(warmup), "--workers",
                String.valueOf(workers)));
        if (rc != 0) {
            out.println("bench serve in the private namespace failed (exit " + rc + "); unshare -n needs root "
                    + "(CAP_SYS_ADMIN)");
        }
        return rc;
    }

    private static final Pattern RPS = Pattern.compile("Requests/sec:\\s+([0-9.]+)");

    /** Runs wrk against 127.0.0.1:port for {@code secs}; requests per second (socket errors are counted by wrk). */
    static double wrk(String wrk, int port, int secs) throws IOException, InterruptedException {
        String out = run(new String[] {wrk, "-t2", "-c64", "-d" + secs + "s", "-H", "Connection: close",
            "http://127.0.0.1:" + port + "/"}, secs + 30);
        Matcher m = RPS.matcher(out);
        if (!m.find()) {
            throw new IOException("wrk printed no Requests/sec:\n" + out);
        }
        return Double.parseDouble(m.group(1));
    }

    /** Runs a command to its end (bounded); its combined output. */
    static String run(String[] cmd, int timeoutSeconds) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] all;
        try (var in = p.getInputStream()) {
            all = in.readAllBytes();
        }
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(Arrays.toString(cmd) + " did not end within " + timeoutSeconds + " s");
        }
        String s = new String(all, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new IOException(Arrays.toString(cmd) + " exited " + p.exitValue() + ":\n" + s);
        }
        return s;
    }

    static String onPath(String name) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            for (String d : new String[] {dir, "/usr/sbin", "/sbin"}) {
                Path p = Path.of(d, name);
                if (Files.isExecutable(p)) {
                    return p.toString();
                }
            }
        }
        return null;
    }

    /** One server under test: a child JVM of this JAR, or nginx with its own prefix. */
    private static final class Server implements AutoCloseable {
        final String name;
        final String what;
        final int port;
        private final ChildJvm jvm;
        private final Process nginx;
        private final Path prefix;

        private Server(String name, String what, int port, ChildJvm jvm, Process nginx, Path prefix) {
            this.name = name;
            this.what = what;
            this.port = port;
            this.jvm = jvm;
            this.nginx = nginx;
            this.prefix = prefix;
        }

        static Server jvm(String name, String... args) throws IOException {
            ChildJvm c = ChildJvm.start(List.of("-Xmx512m"), args);
            return new Server(name, String.join(" ", args), Integer.parseInt(c.ready().split("\\s+")[0]), c, null, null);
        }

        static Server nginx(String binary, int workers) throws IOException, InterruptedException {
            Path prefix = Files.createTempDirectory("bench-serve-nginx");
            int port;
            try (java.net.ServerSocket probe = new java.net.ServerSocket(0, 1,
                    java.net.InetAddress.getLoopbackAddress())) {
                port = probe.getLocalPort();
            }
            String conf = "user root;\nworker_processes " + workers + ";\ndaemon off;\nmaster_process on;\n"
                    + "pid " + prefix.resolve("nginx.pid") + ";\nerror_log " + prefix.resolve("error.log") + " warn;\n"
                    + "events { worker_connections 4096; }\n"
                    + "http {\n  access_log off;\n  client_body_temp_path " + prefix.resolve("body") + ";\n"
                    + "  proxy_temp_path " + prefix.resolve("proxy") + ";\n  fastcgi_temp_path " + prefix.resolve("fcgi")
                    + ";\n  uwsgi_temp_path " + prefix.resolve("uwsgi") + ";\n  scgi_temp_path " + prefix.resolve("scgi")
                    + ";\n  server {\n    listen 127.0.0.1:" + port + " reuseport backlog=4096;\n"
                    + "    location / { return 200 \"ok\\n\"; }\n  }\n}\n";
            Path file = prefix.resolve("nginx.conf");
            Files.writeString(file, conf);
            Process p = new ProcessBuilder(binary, "-p", prefix.toString(), "-c", file.toString())
                    .redirectErrorStream(true).redirectOutput(prefix.resolve("stdout.log").toFile()).start();
            Server s = new Server("nginx", "nginx " + workers + " workers, reuseport, return 200", port, null, p, prefix);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (System.nanoTime() < deadline) {
                try (java.net.Socket probe = new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), port)) {
                    return s;
                } catch (IOException notYet) {
                    if (!p.isAlive()) {
                        break;
                    }
                    Thread.sleep(50);
                }
            }
            String log = Files.exists(prefix.resolve("error.log")) ? Files.readString(prefix.resolve("error.log")) : "";
            s.close();
            throw new IOException("nginx did not start listening on " + port + ": " + log);
        }

        @Override
        public void close() throws IOException, InterruptedException {
            if (jvm != null) {
                jvm.close();
            }
            if (nginx != null) {
                nginx.destroy(); // SIGTERM: nginx's fast shutdown, workers included
                if (!nginx.waitFor(10, TimeUnit.SECONDS)) {
                    nginx.destroyForcibly();
                    nginx.waitFor(10, TimeUnit.SECONDS);
                }
                try (var files = Files.walk(prefix)) {
                    files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
                }
            }
        }
    }
}
