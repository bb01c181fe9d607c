package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * group.serve follows membership by itself under load: through 20 resizes, 20 restarts and 10 removals
 * every request is answered, every added worker is served the moment it is added, and no loop thread is
 * left behind (counted by name), nor a descriptor (census before and after).
 */
@Tag("kernel")
class ServeMembershipTest {
    private static Set<Integer> slots(ReuseportGroup g) {
        return g.workers().stream().map(Worker::slot).collect(Collectors.toCollection(TreeSet::new));
    }

    @Test
    void servesThroughResizesRestartsAndRemovalsLosingNothing() throws Exception {
        Set<String> before = ServeLoad.census();
        ExecutorService pool = Executors.newFixedThreadPool(16);
        String prefix;
        try (ReuseportGroup g = ReuseportGroup.tcp().address(ServeLoad.LO).workers(4).backlog(1024).open();
             Serving s = g.serve(ServeLoad.ECHO_LINE, pool)) {
            prefix = "reuseport-serve-" + g.localAddress().getPort() + "-slot-";
            int port = g.localAddress().getPort();
            try (ServeLoad load = new ServeLoad(port, 6, 1_000_000)) {
                for (int i = 0; i < 20; i++) {
                    g.resize(i % 2 == 0 ? 6 : 2);
                    assertThat(s.servedSlots()).as("resize %d", i).isEqualTo(slots(g));
                    Thread.sleep(20);
                }
                for (int i = 0; i < 20; i++) {
                    g.restart();
                    assertThat(s.servedSlots()).as("restart %d", i).isEqualTo(slots(g));
                    Thread.sleep(20);
                }
                for (int i = 0; i < 10; i++) {
                    Worker added = g.addWorker();
                    assertThat(s.servedSlots()).as("added slot %d", added.slot()).contains(added.slot());
                    Thread.sleep(20);
                    g.removeWorker(i % 2 == 0 ? added.slot() : g.workers().get(0).slot());
                    assertThat(s.servedSlots()).as("removal %d", i).isEqualTo(slots(g));
                    Thread.sleep(20);
                }
                load.close();
                assertThat(load.errors).as("requests not answered").isEmpty();
                assertThat(load.failed.get()).isZero();
                assertThat(load.answered.get()).isPositive().isEqualTo(load.sent.get());
                System.out.println("membership churn: " + load.answered.get() + " requests answered, loops started "
                        + "for every join; workers now " + slots(g));
            }
            // every worker there now is served: ask until each one answered at least once
            for (int i = 0; i < 2000 && g.stats().stream().anyMatch(st -> st.accepted() == 0); i++) {
                assertThat(new ServeLoad(port, 0, 0).request(port, "probe" + i)).isTrue();
            }
            assertThat(g.stats()).allSatisfy(st -> assertThat(st.accepted()).as("slot " + st.slot()).isPositive());
            assertThat(ServeLoad.awaitThreads(prefix, g.workers().size(), 10_000))
                    .as("one loop thread per worker, none left from removed ones").isEqualTo(g.workers().size());
            assertThat(s.failures()).isZero();
            assertThat(s.rejected()).isZero();
        } finally {
            pool.shutdownNow();
        }
        assertThat(ServeLoad.awaitThreads(prefix, 0, 10_000)).as("loop threads after close").isZero();
        Set<String> leaked = ServeLoad.census();
        leaked.removeAll(before);
        assertThat(leaked).as("descriptors left: %s", ServeLoad.explain(leaked)).isEmpty();
    }
}
