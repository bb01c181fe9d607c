package dev.reuseport.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A real Prometheus (Debian's package) scrapes a running echo server's {@code /metrics} in a private
 * network namespace, and its query API returns one series per worker labelled protocol, port and slot;
 * {@code promtool check metrics} accepts the live exposition.
 */
@Tag("kernel")
@Timeout(180)
class PrometheusScrapeTest {
    private static final String SCRIPT = """
            set -u
            ip link set lo up
            cat > "$DIR/prometheus.yml" <<EOF
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: reuseport
                static_configs:
                  - targets: ['127.0.0.1:9464']
            EOF
            "$@" echo --serve --workers 4 --port 7000 --candidate round-robin --metrics-http 127.0.0.1:9464 \\
                > "$DIR/echo.log" 2>&1 &
            ECHO=$!
            "$PROMETHEUS" --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/data" \\
                --web.listen-address=127.0.0.1:9090 > "$DIR/prometheus.log" 2>&1 &
            PROM=$!
            trap 'kill $ECHO $PROM 2>/dev/null; wait $ECHO $PROM 2>/dev/null' EXIT
            for i in $(seq 1 120); do grep -q '^READY' "$DIR/echo.log" && break; sleep 0.5; done
            grep -q '^READY' "$DIR/echo.log" || { echo "ECHO-NOT-READY"; cat "$DIR/echo.log"; exit 3; }
            for i in $(seq 1 40); do
              exec 3<>/dev/tcp/127.0.0.1/7000 && printf x >&3 && head -c1 <&3 >/dev/null; exec 3>&- 3<&-
            done
            exec 4<>/dev/tcp/127.0.0.1/9464
            printf 'GET /metrics HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n' >&4
            sed '1,/^\\r$/d' <&4 > "$DIR/exposition.txt"
            exec 4>&- 4<&-
            echo "CHECK-METRICS-BEGIN"
            "$PROMTOOL" check metrics < "$DIR/exposition.txt"; echo "CHECK-METRICS-STATUS $?"
            for i in $(seq 1 60); do
              out=$("$PROMTOOL" query instant http://127.0.0.1:9090 'sum(reuseport_worker_accepted_total)' 2>/dev/null)
              case "$out" in *"=> 40 @"*) break;; esac
              sleep 0.5
            done
            echo "QUERY-BEGIN"
            "$PROMTOOL" query instant http://127.0.0.1:9090 'reuseport_worker_accepted_total'
            "$PROMTOOL" query instant http://127.0.0.1:9090 'reuseport_worker_received_total'
            "$PROMTOOL" query instant http://127.0.0.1:9090 'reuseport_control_state == 1'
            "$PROMTOOL" query instant http://127.0.0.1:9090 'up{job="reuseport"}'
            echo "QUERY-END"
            """;

    @Test
    void prometheusQueryApiReturnsEveryWorkerOfALiveServer() throws Exception {
        String prometheus = OpsTesting.tool("prometheus");
        String promtool = OpsTesting.tool("promtool");
        String unshare = OpsTesting.tool("unshare");
        assumeTrue(prometheus != null && promtool != null, "prometheus/promtool not installed (Debian package "
                + "'prometheus'): cannot scrape with a real Prometheus");
        assumeTrue(unshare != null && OpsTesting.tool("ip") != null, "unshare or ip missing: no private namespace");
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root for a private network namespace");
        Path jar = OpsTesting.examplesJar();
        assumeTrue(jar != null, "target/reuseport-examples.jar not built (run through mvn verify)");
        Path dir = Files.createTempDirectory("rp-prom-scrape");
        try {
            Path script = dir.resolve("scrape.sh");
            Files.writeString(script, SCRIPT, StandardCharsets.UTF_8);
            List<String> cmd = new ArrayList<>(List.of(unshare, "-n", "env", "DIR=" + dir, "PROMETHEUS=" + prometheus,
                    "PROMTOOL=" + promtool, "bash", script.toString()));
            cmd.addAll(OpsTesting.javaJar(jar));
            String[] r = OpsTesting.run(cmd, 150);
            String out = r[1];
            String logs = "\n--- script:\n" + out + "\n--- echo.log:\n" + read(dir.resolve("echo.log"))
                    + "\n--- prometheus.log (tail):\n" + tail(read(dir.resolve("prometheus.log")), 15);
            assertThat(r[0]).as("script status%s", logs).isEqualTo("0");
            assertThat(out).as(logs).contains("CHECK-METRICS-STATUS 0");
            String q = out.substring(out.indexOf("QUERY-BEGIN"));
            for (String proto : List.of("tcp", "udp")) {
                String metric = proto.equals("tcp") ? "reuseport_worker_accepted_total" : "reuseport_worker_received_total";
                for (int s = 0; s < 4; s++) {
                    assertThat(q).as("%s slot %d%s", proto, s, logs).containsPattern(metric
                            + "\\{instance=\"127.0.0.1:9464\", job=\"reuseport\", port=\"7000\", protocol=\"" + proto
                            + "\", slot=\"" + s + "\"} => \\d+ @");
                }
            }
            long accepted = q.lines().filter(l -> l.startsWith("reuseport_worker_accepted_total{"))
                    .mapToLong(l -> Long.parseLong(l.replaceAll(".*=> (\\d+) @.*", "$1"))).sum();
            assertThat(accepted).as("connections Prometheus saw accepted%s", logs).isEqualTo(40);
            // the controller runs (--candidate): one state in force, OBSERVE unless the burst moved it on
            assertThat(q).containsPattern("reuseport_control_state\\{instance=\"127.0.0.1:9464\", job=\"reuseport\", "
                    + "port=\"7000\", protocol=\"tcp\", state=\"(OBSERVE|SHADOW|ENFORCE)\"} => 1 @");
            assertThat(q).contains("up{instance=\"127.0.0.1:9464\", job=\"reuseport\"} => 1 @");
        } finally {
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (java.io.IOException e) {
            return "(" + e + ")";
        }
    }

    private static String tail(String s, int n) {
        List<String> l = s.lines().toList();
        return String.join("\n", l.subList(Math.max(0, l.size() - n), l.size()));
    }
}
