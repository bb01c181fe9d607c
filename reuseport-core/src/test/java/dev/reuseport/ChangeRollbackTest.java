package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.reuseport.bpf.Feature;
import dev.reuseport.bpf.Probes;
import dev.reuseport.internal.member.ChangeSteps;
import dev.reuseport.internal.member.GroupSpec;
import dev.reuseport.internal.member.MemberSockets;
import dev.reuseport.sys.internal.Native;
import dev.reuseport.sys.internal.SockAddr;
import dev.reuseport.sys.internal.Sys;
import dev.reuseport.testkit.Descriptors;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 15, High 4: every membership or policy change either completes or is rolled back. Each change
 * (restart, replaceWorker, resize up, resize down, removeWorker, addWorker, policy, shadow) is first run
 * once with a recording hook, which enumerates its steps; then a failure is injected at every one of
 * them, on the kernel hash with the migrate program and on a table policy (round robin). After a failure
 * before the point of no return: the same slots, the same table version and policy, exactly one listener
 * per worker on the port (the kernel's /proc/net/tcp), every worker accepts, no descriptor left open.
 * After it ({@code after-commit-*} steps): the change is complete, and the same checks hold for the new
 * membership.
 */
@Tag("kernel")
@Timeout(120)
class ChangeRollbackTest {

    /** Fails the {@code failAt}-th step (counting from 0) of the change; records every step. */
    static final class Injector implements ChangeSteps {
        final List<String> seen = new ArrayList<>();
        int failAt = -1;

        @Override
        public void at(String change, String step) throws IOException {
            seen.add(change + ":" + step);
            if (seen.size() - 1 == failAt) {
                throw new IOException("injected failure at " + change + ":" + step);
            }
        }
    }

    /** A change of a group, the workers it leaves. */
    interface Change {
        void run(ReuseportGroup g) throws IOException;
    }

    record Case(String name, int workersAfter, Change change) {
    }

    static List<Case> cases(boolean table) {
        List<Case> c = new ArrayList<>();
        c.add(new Case("restart", 4, ReuseportGroup::restart));
        c.add(new Case("replace", 4, g -> g.replaceWorker(1)));
        c.add(new Case("resize up", 6, g -> g.resize(6)));
        c.add(new Case("resize down", 2, g -> g.resize(2)));
        c.add(new Case("remove", 3, g -> g.removeWorker(3)));
        c.add(new Case("add", 5, g -> g.addWorker()));
        c.add(new Case("policy", 4, g -> g.policy(table ? Policy.consistent() : Policy.roundRobin())));
        c.add(new Case("shadow", 4, g -> g.shadow(Policy.consistent())));
        return c;
    }

    /** A group opened as the builder would, with the injector on every change's steps. */
    static ReuseportGroup open(Injector hook, Policy policy) throws IOException {
        GroupSpec spec = new GroupSpec(true, SockAddr.family(TestTraffic.LO), new InetSocketAddress(TestTraffic.LO, 0),
                1024, 0).withSteps(hook);
        int[] port = {0};
        int[] fds = MemberSockets.open(spec, 4, port);
        List<Feature> features = new ArrayList<>();
        features.add(Probes.soReuseport());
        features.addAll(Probes.steering());
        features.addAll(Probes.ingest());
        Capabilities caps = new Capabilities(Sys.kernelRelease(), Native.backendName(), Native.backendReason(),
                features, "kernel hash", "no steering policy requested");
        ReuseportGroup g = new ReuseportGroup(Protocol.TCP, spec.atPort(port[0]), new int[] {0, 1, 2, 3}, fds, caps);
        if (policy instanceof Policy.KernelHash) {
            if (caps.isOn(Probes.MIGRATE)) {
                g.engine().steering().attachForMigration();
            }
        } else {
            g.policy(policy);
        }
        return g;
    }

    record State(int[] slots, int tableVersion, Policy policy, Set<String> sockets, int fds) {
        static State of(ReuseportGroup g) throws IOException {
            return new State(g.slots(), g.tableVersion(), g.policy(), Descriptors.sockets(), Descriptors.count());
        }
    }

    /**
     * Exactly one listener per worker, and every worker accepts: connections (each answered by the slot
     * that accepted it, or {@link TestTraffic#connect()} throws) until every slot has answered, at most
     * 12 per worker (on the kernel hash the chance that a serving slot gets none of them is below 10^-5).
     */
    static void serving(ReuseportGroup g, TestTraffic t, String as) throws IOException {
        int port = g.localAddress().getPort();
        assertThat(ProcNet.listeners(port)).as(as + ": listeners on the port").isEqualTo(g.workers().size());
        Set<Integer> expected = new TreeSet<>(Arrays.stream(g.slots()).boxed().toList());
        Set<Integer> slots = new TreeSet<>();
        for (int i = 0; i < 12 * expected.size() && !slots.equals(expected); i++) {
            slots.add(t.connect());
        }
        assertThat(slots).as(as + ": slots that accepted").containsExactlyElementsOf(expected);
    }

    interface Count {
        int get() throws IOException;
    }

    /**
     * The count once it is at most {@code expected}, or its value after a second: the serving threads close
     * a connection just after the client read its answer, so a count taken at once may include it.
     */
    static int settled(Count c, int expected) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + 1_000_000_000L;
        int n;
        while ((n = c.get()) > expected && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        return n;
    }

    @Test
    void everyStepOfEveryChangeOnTheKernelHashRollsBackOrCompletes() throws Exception {
        everyStep(Policy.kernelHash());
    }

    @Test
    void everyStepOfEveryChangeOnARoundRobinTableRollsBackOrCompletes() throws Exception {
        everyStep(Policy.roundRobin());
    }

    private void everyStep(Policy policy) throws Exception {
        int injected = 0;
        for (Case k : cases(!(policy instanceof Policy.KernelHash))) {
            Injector rec = new Injector();
            List<String> steps;
            try (ReuseportGroup g = open(rec, policy)) {
                rec.seen.clear();
                k.change().run(g);
                steps = List.copyOf(rec.seen);
            }
            assertThat(steps).as(k.name() + " has steps").isNotEmpty();
            Injector hook = new Injector();
            try (ReuseportGroup g = open(hook, policy); TestTraffic t = new TestTraffic(g)) {
                serving(g, t, k.name() + " before");
                for (int i = 0; i < steps.size(); i++) {
                    if (steps.get(i).contains(":after-commit")) {
                        continue;
                    }
                    String as = policy.spec() + " " + k.name() + " failing at " + steps.get(i) + " (#" + i + ")";
                    State before = State.of(g);
                    hook.seen.clear();
                    hook.failAt = i;
                    assertThatThrownBy(() -> k.change().run(g)).as(as).isInstanceOf(IOException.class)
                            .hasStackTraceContaining("injected failure at " + steps.get(i));
                    hook.failAt = -1;
                    injected++;
                    assertThat(g.slots()).as(as + ": slots").containsExactly(before.slots());
                    assertThat(g.tableVersion()).as(as + ": table version").isEqualTo(before.tableVersion());
                    assertThat(g.policy()).as(as + ": policy").isEqualTo(before.policy());
                    assertThat(settled(() -> Descriptors.leakedSince(before.sockets()).size(), 0))
                            .as(as + ": descriptors left open " + Descriptors.leakedSince(before.sockets())).isZero();
                    assertThat(settled(Descriptors::count, before.fds())).as(as + ": descriptor count")
                            .isLessThanOrEqualTo(before.fds());
                    serving(g, t, as);
                }
            }
            for (int i = 0; i < steps.size(); i++) {
                if (!steps.get(i).contains(":after-commit")) {
                    continue;
                }
                String as = policy.spec() + " " + k.name() + " failing at " + steps.get(i) + " (#" + i + ")";
                Injector late = new Injector();
                try (ReuseportGroup g = open(late, policy); TestTraffic t = new TestTraffic(g)) {
                    int fds = Descriptors.count();
                    late.seen.clear();
                    late.failAt = i;
                    assertThatThrownBy(() -> k.change().run(g)).as(as).isInstanceOf(IOException.class)
                            .hasMessageContaining("done");
                    injected++;
                    for (Worker w : g.workers()) {
                        if (w.slot() >= 4) {
                            t.serve(w);
                        }
                    }
                    assertThat(g.workers()).as(as + ": workers after").hasSize(k.workersAfter());
                    assertThat(settled(Descriptors::count, fds + k.workersAfter() - 4)).as(as + ": descriptor count")
                            .isLessThanOrEqualTo(fds + k.workersAfter() - 4);
                    serving(g, t, as);
                }
            }
        }
        System.out.println("ChangeRollbackTest " + policy.spec() + ": failures injected " + injected);
        assertThat(injected).isGreaterThan(30);
    }
}
