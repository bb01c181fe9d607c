package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;

import dev.reuseport.testkit.ChildJvm;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * Restarts and resizes on the real kernel, each in a child JVM inside its own network namespace, where
 * net.ipv4.tcp_migrate_req is 0 (the default; the host's is never touched). The four children are
 * independent (a namespace each), so they start at the class's beginning, two at a time, in the tests'
 * order, and each test asserts on its own child's output.
 */
@Tag("kernel")
@Timeout(180)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class) // the order the children were started in
class GroupRestartTest {
    private static ChildJvm.Batch children;

    @BeforeAll
    static void startTheChildren() {
        children = new ChildJvm.Batch(2);
        children.inNetns("queued", null, RestartScenario.class, "queued", "true");
        children.inNetns("restart", null, RestartScenario.class, "load", "20", "restart");
        children.inNetns("resize", null, RestartScenario.class, "load", "20", "resize");
        children.inNetns("replace", null, RestartScenario.class, "load", "16", "replace");
    }

    @AfterAll
    static void stopWhatStillRuns() throws InterruptedException {
        if (children != null) {
            children.close();
        }
    }

    private static long value(String out, String key) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(key) + "=(\\d+)").matcher(out);
        assertThat(m.find()).as("%s in child output:%n%s", key, out).isTrue();
        return Long.parseLong(m.group(1));
    }

    @Test
    @org.junit.jupiter.api.Order(1)
    void closingFourOfFiveListenersMigratesEveryQueuedConnectionToTheFifth() throws Exception {
        ChildJvm.Outcome o = children.await("queued");
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
    @org.junit.jupiter.api.Order(2)
    void twentyGenerationSwapsUnderLoadFailNoConnection() throws Exception {
        ChildJvm.Outcome o = children.await("restart");
        assertThat(o.exit()).as(o.output()).isZero();
        assertThat(value(o.output(), "restarts")).isEqualTo(20);
        assertThat(value(o.output(), "ok")).isGreaterThan(500);
        assertThat(value(o.output(), "failed")).isZero();
    }

    @Test
    @org.junit.jupiter.api.Order(3)
    void resizesEightToFourUnderLoadFailNoConnection() throws Exception {
        ChildJvm.Outcome o = children.await("resize");
        assertThat(o.exit()).as(o.output()).isZero();
        assertThat(value(o.output(), "ok")).isGreaterThan(500);
        assertThat(value(o.output(), "failed")).isZero();
    }

    @Test
    @org.junit.jupiter.api.Order(4)
    void singleWorkerReplacementsUnderLoadFailNoConnection() throws Exception {
        ChildJvm.Outcome o = children.await("replace");
        assertThat(o.exit()).as(o.output()).isZero();
        assertThat(value(o.output(), "restarts")).isEqualTo(16);
        assertThat(value(o.output(), "failed")).isZero();
    }
}
