package dev.reuseport.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.channel.epoll.Epoll;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code netty-echo}: Netty serves every worker of the group, and the group counts what Netty served. */
@Tag("kernel")
@Timeout(120)
class NettyEchoDemoTest {
    private static final Pattern ROW = Pattern.compile("^(\\d+)\\s+#(\\d+)\\s+(\\d+)\\s+[\\d.]+%\\s+(\\d+)$",
            Pattern.MULTILINE);

    @BeforeEach
    void epoll() {
        assumeTrue(Epoll.isAvailable(), "Netty native epoll unavailable: " + Epoll.unavailabilityCause());
    }

    private static String run(int expectStatus, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        System.out.println(out);
        assertThat(status).as("exit status; stderr: %s", err).isEqualTo(expectStatus);
        return out + "\n" + err;
    }

    private static void tableAddsUp(String text, long total) {
        Matcher m = ROW.matcher(text);
        long sum = 0;
        int rows = 0;
        java.util.Set<String> loops = new java.util.HashSet<>();
        while (m.find()) {
            rows++;
            long netty = Long.parseLong(m.group(3));
            assertThat(netty).as("connections on slot %s", m.group(1)).isPositive();
            assertThat(Long.parseLong(m.group(4))).as("group's count for slot %s", m.group(1)).isEqualTo(netty);
            loops.add(m.group(2));
            sum += netty;
        }
        assertThat(rows).isEqualTo(8);
        assertThat(loops).as("one event loop per worker").hasSize(8);
        assertThat(sum).isEqualTo(total);
    }

    @Test
    void echoDemoServesEveryWorkerOnItsOwnLoopAndCountsMatch() {
        String text = run(0, "netty-echo", "--workers", "8", "--connections", "1000");
        tableAddsUp(text, 1000);
        assertThat(text).contains("tcp: 1000 connections, 1000 answered, 0 failed")
                .contains("OK: every request answered, counts match, all 8 workers served");
    }

    @Test
    void httpDemoAnswersEveryRequest() {
        String text = run(0, "netty-echo", "--http", "--connections", "400");
        tableAddsUp(text, 400);
        assertThat(text).contains("http: 400 connections, 400 answered, 0 failed");
    }

    @Test
    void badPolicyIsRejectedWithTheAcceptedValues() {
        String text = run(2, "netty-echo", "--policy", "fastest");
        assertThat(text).contains("--policy:").contains("fastest");
    }
}
