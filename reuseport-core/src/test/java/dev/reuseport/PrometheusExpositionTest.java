package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The scraper's exposition: counters typed as counters, protocol/port/slot labels, the control state,
 * policy and capabilities; accepted by promtool; served over HTTP; and scrapes that end nobody's window.
 */
@Tag("kernel")
@Timeout(120)
class PrometheusExpositionTest {

    static String promtool() {
        for (String p : List.of("/usr/bin/promtool", "/usr/local/bin/promtool")) {
            if (Files.isExecutable(Path.of(p))) {
                return p;
            }
        }
        return null;
    }

    @Test
    void everyWorkerHasItsCountersLabelledProtocolPortAndSlot() throws Exception {
        try (ReuseportGroup t = ReuseportGroup.tcp().address(TestTraffic.LO).workers(3).open();
             ReuseportGroup u = ReuseportGroup.udp().address(TestTraffic.LO).port(t.localAddress().getPort())
                     .workers(2).open();
             TestTraffic traffic = new TestTraffic(t)) {
            traffic.connect(30);
            t.worker(0).recordLatency(200_000);
            String text = PrometheusExporter.of(t, u).scrape();
            int port = t.localAddress().getPort();
            for (int s = 0; s < 3; s++) {
                assertThat(text).contains("reuseport_worker_queue_limit{protocol=\"tcp\",port=\"" + port + "\",slot=\""
                        + s + "\"} 1024");
            }
            assertThat(text).contains("reuseport_worker_received_total{protocol=\"udp\",port=\"" + port
                    + "\",slot=\"1\"} 0");
            long accepted = text.lines().filter(l -> l.startsWith("reuseport_worker_accepted_total{protocol=\"tcp\""))
                    .mapToLong(l -> Long.parseLong(l.substring(l.lastIndexOf(' ') + 1))).sum();
            assertThat(accepted).isEqualTo(30);
            assertThat(text).contains("# TYPE reuseport_worker_accepted_total counter")
                    .contains("# TYPE reuseport_restarts_total counter")
                    .contains("# TYPE reuseport_worker_queue_depth gauge")
                    .contains("# TYPE reuseport_worker_latency_seconds histogram")
                    .contains("reuseport_worker_latency_seconds_bucket{protocol=\"tcp\",port=\"" + port
                            + "\",slot=\"0\",le=\"0.00025\"} 1")
                    .contains("reuseport_worker_latency_seconds_bucket{protocol=\"tcp\",port=\"" + port
                            + "\",slot=\"0\",le=\"0.0001\"} 0")
                    .contains("reuseport_control_state{protocol=\"tcp\",port=\"" + port + "\",state=\"NONE\"} 1")
                    .contains("reuseport_policy_info{protocol=\"tcp\",port=\"" + port
                            + "\",policy=\"kernel-hash\",table_version=\"" + t.tableVersion() + "\"")
                    .containsPattern("reuseport_capability\\{protocol=\"tcp\",port=\"" + port
                            + "\",feature=\"SO_REUSEPORT\",outcome=\"on\"} 1")
                    .contains("reuseport_handoffs_total{protocol=\"tcp\",port=\"" + port + "\",outcome=\"passed\"} 0");
            // each family's TYPE once, even with two groups
            assertThat(text.lines().filter(l -> l.equals("# TYPE reuseport_workers gauge"))).hasSize(1);
            // no counter typed gauge: every *_total family is a counter
            assertThat(text.lines().filter(l -> l.startsWith("# TYPE ") && l.contains("_total ")))
                    .allMatch(l -> l.endsWith(" counter"));
        }
    }

    @Test
    void controlStateAndFallbackCountFollowTheController() throws Exception {
        try (ReuseportGroup g = ReuseportGroup.tcp().address(TestTraffic.LO).workers(2).open();
             Controller c = Controller.manual(g, Policy.roundRobin(), Controller.Settings.defaults())) {
            PrometheusExporter e = PrometheusExporter.of(g);
            String p = "protocol=\"tcp\",port=\"" + g.localAddress().getPort() + "\"";
            assertThat(e.scrape()).contains("reuseport_control_state{" + p + ",state=\"OBSERVE\"} 1")
                    .contains("reuseport_control_state{" + p + ",state=\"FALLBACK\"} 0")
                    .contains("reuseport_fallbacks_total{" + p + "} 0");
            c.to(Controller.State.FALLBACK, "test");
            assertThat(e.scrape()).contains("reuseport_control_state{" + p + ",state=\"OBSERVE\"} 0")
                    .contains("reuseport_control_state{" + p + ",state=\"FALLBACK\"} 1")
                    .contains("reuseport_fallbacks_total{" + p + "} 1");
        }
    }

    @Test
    void promtoolAcceptsTheExposition() throws Exception {
        String promtool = promtool();
        assumeTrue(promtool != null, "promtool not installed (Debian package 'prometheus'): cannot lint");
        try (ReuseportGroup t = ReuseportGroup.tcp().address(TestTraffic.LO).workers(2).open();
             Controller c = Controller.manual(t, Policy.roundRobin(), Controller.Settings.defaults())) {
            t.worker(1).recordLatency(3_000_000);
            String text = PrometheusExporter.of(t).scrape();
            Process p = new ProcessBuilder(promtool, "check", "metrics").redirectErrorStream(true).start();
            try {
                p.getOutputStream().write(text.getBytes(StandardCharsets.UTF_8));
                p.getOutputStream().close();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
                assertThat(p.exitValue()).as("promtool check metrics said:\n%s\non:\n%s", out, text).isZero();
            } finally {
                p.destroyForcibly();
            }
        }
    }

    @Test
    void scrapesEndNoOneElsesWindow() throws Exception {
        Path dir = Files.createTempDirectory("rp-prom", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        try (ReuseportGroup g = ReuseportGroup.tcp().address(TestTraffic.LO).workers(2).open();
             TestTraffic traffic = new TestTraffic(g);
             ControlSocket s = ControlSocket.serve(g, dir.resolve("ctl"), false);
             ControlClient operator = ControlClient.connect(s.path());
             ControlClient scraper = ControlClient.connect(s.path())) {
            assertThat(operator.request("metrics").ok()).isTrue(); // the operator's window starts here
            traffic.connect(40);
            for (int i = 0; i < 5; i++) {
                assertThat(scraper.request("metrics --prom").ok()).isTrue();
                Thread.sleep(300); // a window of 1.5 s or more: the table's 0.1 s rounding stays within +-2
            }
            List<String> table = operator.request("metrics").body();
            long inWindow = 0;
            double secs = Double.parseDouble(table.get(0).replaceAll(".* window ([0-9.]+)s .*", "$1"));
            for (String l : table) {
                if (l.matches("\\d+\\s+.*")) {
                    inWindow += Math.round(Double.parseDouble(l.trim().split("\\s+")[3]) * secs);
                }
            }
            assertThat(inWindow).as("connections in the operator's window, after 5 scrapes; table:\n%s",
                    String.join("\n", table)).isBetween(37L, 43L);
        } finally {
            Files.deleteIfExists(dir.resolve("ctl"));
            Files.deleteIfExists(dir);
        }
    }

    @Test
    void httpEndpointServesMetricsAndNamesATakenPort() throws Exception {
        try (ReuseportGroup g = ReuseportGroup.tcp().address(TestTraffic.LO).workers(2).open();
             MetricsEndpoint e = MetricsEndpoint.start(new InetSocketAddress(TestTraffic.LO, 0),
                     PrometheusExporter.of(g))) {
            URL url = new URL("http://127.0.0.1:" + e.address().getPort() + "/metrics");
            HttpURLConnection c = (HttpURLConnection) url.openConnection();
            assertThat(c.getResponseCode()).isEqualTo(200);
            assertThat(c.getContentType()).isEqualTo(PrometheusExporter.CONTENT_TYPE);
            String body = new String(c.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(body).contains("reuseport_workers{protocol=\"tcp\",port=\"" + g.localAddress().getPort()
                    + "\"} 2");
            HttpURLConnection other = (HttpURLConnection) new URL("http://127.0.0.1:" + e.address().getPort()
                    + "/other").openConnection();
            assertThat(other.getResponseCode()).isEqualTo(404);
            try (ServerSocket taken = new ServerSocket(0, 1, TestTraffic.LO)) {
                int port = taken.getLocalPort();
                assertThatThrownBy(() -> MetricsEndpoint.start(new InetSocketAddress(TestTraffic.LO, port),
                        PrometheusExporter.of(g)))
                        .isInstanceOf(AddressInUseException.class)
                        .hasMessageContaining("127.0.0.1:" + port);
            }
        }
    }

    @Test
    void twoGroupsOnOneProtocolAndPortAreRefused() throws IOException {
        try (ReuseportGroup g = ReuseportGroup.tcp().address(TestTraffic.LO).workers(1).open()) {
            assertThatThrownBy(() -> PrometheusExporter.of(g, g)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("protocol TCP and port " + g.localAddress().getPort());
            assertThatThrownBy(PrometheusExporter::of).isInstanceOf(IllegalArgumentException.class);
        }
    }
}
