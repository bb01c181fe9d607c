package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;

import dev.reuseport.testkit.ChildJvm;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Restarts and resizes on the real kernel, each in a child JVM inside its own network namespace, where
 * net.ipv4.tcp_migrate_req is 0 (the default; the host's is never touched).
 */
@Tag("kernel")
@Timeout(180)
class GroupRestartTest {

    private static long value(String out, String key) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(key) + "=(\\d+)").matcher(out);
        assertThat(m.find()).as("%s in child output:%n%s", key, out).isTrue();
        return Long.parseLong(m.group(1));
    }

    @Test
    void closingFourOfFiveListenersMigratesEveryQueuedConnectionToTheFifth() throws Exception {
        ChildJvm.Outcome o = ChildJvm.inNetns(null, RestartScenario.class, "queued", "true");
        assertThat(o.exit()).as(o.output()).isZero();
        assertThat(value(o.output(), "tcp_migrate_req")).isZero();
        assertThat(o.output()).contains("attached in pass mode");
        assertThat(value(o.output(), "queued_before")).isEqualTo(25);
        assertThat(value(o.output(), "served")).isEqualTo(25);
        assertThat(value(o.output(), "answered")).isEqualTo(25);
        long already = value(o.output(), "already_on_survivor");
        // the leavers close one by one, so a connection can migrate more than once on its way to slot 0
        assertThat(value(o.output(), "TCPMigrateReqSuccess")).isGreaterThanOrEqualTo(25 - already);
        assertThat(value(o.output(), "TCPMigrateReqFailure")).isZero();
    }

    @Test
    void twentyGenerationSwapsUnderLoadFailNoConnection() throws Exception {
        ChildJvm.Outcome o = ChildJvm.inNetns(null, RestartScenario.class, "load", "20", "restart");
        assertThat(o.exit()).as(o.output()).isZero();
        assertThat(value(o.output(), "restarts")).isEqualTo(20);
        assertThat(value(o.output(), "ok")).isGreaterThan(500);
        assertThat(value(o.output(), "failed")).isZero();
    }

    @Test
    void resizesEightToFourUnderLoadFailNoConnection() throws Exception {
        ChildJvm.Outcome o = ChildJvm.inNetns(null, RestartScenario.class, "load", "20", "resize");
        assertThat(o.exit()).as(o.output()).isZero();
        assertThat(value(o.output(), "ok")).isGreaterThan(500);
        assertThat(value(o.output(), "failed")).isZero();
    }

    @Test
    void singleWorkerReplacementsUnderLoadFailNoConnection() throws Exception {
        ChildJvm.Outcome o = ChildJvm.inNetns(null, RestartScenario.class, "load", "16", "replace");
        assertThat(o.exit()).as(o.output()).isZero();
        assertThat(value(o.output(), "restarts")).isEqualTo(16);
        assertThat(value(o.output(), "failed")).isZero();
    }
}
