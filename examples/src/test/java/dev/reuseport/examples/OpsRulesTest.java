package dev.reuseport.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * What docs/ops ships for Prometheus and Grafana: the rules pass {@code promtool check rules} and their
 * unit tests ({@code promtool test rules}); every query of the dashboard parses as PromQL.
 */
class OpsRulesTest {
    private static final Path OPS = Path.of("..", "docs", "ops").toAbsolutePath().normalize();

    private static String promtool() {
        String p = OpsTesting.tool("promtool");
        assumeTrue(p != null, "promtool not installed (Debian package 'prometheus'): cannot check docs/ops rules");
        return p;
    }

    @Test
    void alertAndRecordingRulesPassCheckAndTheirUnitTests() throws Exception {
        String promtool = promtool();
        Path rules = OPS.resolve("prometheus");
        String[] check = OpsTesting.run(List.of(promtool, "check", "rules", rules.resolve("reuseport-rules.yml")
                .toString()), 60);
        assertThat(check[0]).as(check[1]).isEqualTo("0");
        assertThat(check[1]).contains("SUCCESS: 8 rules found");
        // promtool resolves rule_files against the working directory: run from the rules' directory
        Process p = new ProcessBuilder(promtool, "test", "rules", "reuseport-rules.test.yml").directory(rules.toFile())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(out).isZero();
        assertThat(out).contains("SUCCESS");
    }

    @Test
    void everyDashboardQueryParses() throws Exception {
        String promtool = promtool();
        String json = Files.readString(OPS.resolve("grafana").resolve("reuseport-dashboard.json"));
        Matcher m = Pattern.compile("\"expr\": \"((?:[^\"\\\\]|\\\\.)*)\"").matcher(json);
        List<String> exprs = new ArrayList<>();
        while (m.find()) {
            exprs.add(m.group(1).replace("\\\"", "\"").replace("\\\\", "\\")
                    .replace("$instance", ".*").replace("$protocol", ".*").replace("$port", ".*"));
        }
        assertThat(exprs).hasSizeGreaterThanOrEqualTo(10);
        StringBuilder rules = new StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
        for (int i = 0; i < exprs.size(); i++) {
            rules.append("      - record: dashboard:query").append(i).append("\n        expr: '")
                    .append(exprs.get(i).replace("'", "''")).append("'\n");
        }
        Path f = Files.createTempFile("dashboard-queries", ".yml");
        try {
            Files.writeString(f, rules);
            String[] r = OpsTesting.run(List.of(promtool, "check", "rules", f.toString()), 60);
            assertThat(r[0]).as("%s\n%s", r[1], rules).isEqualTo("0");
        } finally {
            Files.deleteIfExists(f);
        }
    }
}
