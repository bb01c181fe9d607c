package dev.reuseport.examples.bench.harness;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A real Prometheus (Debian's {@code prometheus} package) scraping one {@code /metrics} target every
 * second, on loopback, its data in a temporary directory; stopped by its pid and the directory removed on
 * {@link #close()}. {@link #scrapes()} asks its own metrics how many scrapes of the target it made.
 */
public final class PromScraper implements AutoCloseable {
    private static final Pattern SAMPLES = Pattern.compile(
            "prometheus_target_interval_length_seconds_count\\{[^}]*} ([0-9.e+]+)");
    private final Process process;
    private final Path dir;
    private final int webPort;

    private PromScraper(Process process, Path dir, int webPort) {
        this.process = process;
        this.dir = dir;
        this.webPort = webPort;
    }

    /** The prometheus binary on this machine, or null. */
    public static String binary() {
        for (String p : new String[] {"/usr/bin/prometheus", "/usr/local/bin/prometheus"}) {
            if (Files.isExecutable(Path.of(p))) {
                return p;
            }
        }
        return null;
    }

    /** Starts Prometheus scraping {@code target}'s /metrics every second; waits until its web port answers. */
    public static PromScraper start(InetSocketAddress target) throws IOException, InterruptedException {
        String bin = binary();
        if (bin == null) {
            throw new IOException("prometheus is not installed (Debian package 'prometheus', scripts/env.sh installs it)");
        }
        Path dir = Files.createTempDirectory("rp-bench-prom");
        int web;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            web = s.getLocalPort();
        }
        Files.writeString(dir.resolve("prometheus.yml"), "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n"
                + "scrape_configs:\n  - job_name: reuseport\n    static_configs:\n      - targets: ['"
                + target.getAddress().getHostAddress() + ":" + target.getPort() + "']\n");
        Process p = new ProcessBuilder(bin, "--config.file=" + dir.resolve("prometheus.yml"),
                "--storage.tsdb.path=" + dir.resolve("data"), "--web.listen-address=127.0.0.1:" + web)
                .redirectErrorStream(true).redirectOutput(dir.resolve("prometheus.log").toFile()).start();
        PromScraper s = new PromScraper(p, dir, web);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                String log = Files.readString(dir.resolve("prometheus.log"));
                s.close();
                throw new IOException("prometheus exited: " + log.substring(Math.max(0, log.length() - 500)));
            }
            if (s.get("/-/ready") != null) {
                return s;
            }
            Thread.sleep(200);
        }
        s.close();
        throw new IOException("prometheus not ready in 30 s");
    }

    /**
     * Waits until Prometheus has scraped its target once: it starts each target's schedule at an offset
     * within its interval, so a phase of a few seconds started at once can end before the first scrape (bench
     * control's incident once did, and had nothing to judge).
     *
     * @param atMost how long to wait
     * @return {@link #scrapes()} then, or -1 when there was none in time
     * @throws InterruptedException when interrupted while waiting
     */
    public long awaitFirstScrape(Duration atMost) throws InterruptedException {
        long deadline = System.nanoTime() + atMost.toNanos();
        long n;
        while ((n = scrapes()) < 1 && System.nanoTime() < deadline) {
            Thread.sleep(200);
        }
        return n < 1 ? -1 : n;
    }

    /** How many scrapes Prometheus made so far (its own interval-length histogram count), or -1. */
    public long scrapes() {
        String m = get("/metrics");
        Matcher x = m == null ? null : SAMPLES.matcher(m);
        long n = 0;
        boolean any = false;
        while (x != null && x.find()) {
            n += (long) Double.parseDouble(x.group(1));
            any = true;
        }
        return any ? n : -1;
    }

    private String get(String path) {
        try {
            HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + webPort + path)).timeout(Duration.ofSeconds(2)).build(),
                    HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            return r.statusCode() == 200 ? r.body() : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        try (Stream<Path> all = Files.walk(dir)) {
            all.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException e) {
            // a temporary directory left behind
        }
    }
}
