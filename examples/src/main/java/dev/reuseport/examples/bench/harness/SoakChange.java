package dev.reuseport.examples.bench.harness;

import dev.reuseport.Controller;
import dev.reuseport.Policy;
import dev.reuseport.Protocol;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.Worker;
import dev.reuseport.examples.bench.harness.ChangeTimeline.Change;
import java.util.List;
import java.util.Locale;

/** One change of {@code bench soak} applied to one group. */
public final class SoakChange {
    private SoakChange() {
    }

    /**
     * Applies one change of {@code kind} (policy, controller, resize, replace, restart) to one group; null, or
     * what went wrong (also noted in {@code st}).
     */
    public static String apply(SoakState st, ReuseportGroup g, Controller ctl, WorkerThreads server, String kind, int n,
            Change c, String policyName, Controller.State state, int workers, int resizeTo) {
        try {
            switch (kind) {
                case "policy" -> {
                    String name = policyName;
                    Policy p;
                    if (name.equals("weighted")) {
                        int[] slots = g.slots();
                        int[] w = new int[slots[slots.length - 1] + 1]; // one per slot 0..highest live slot
                        for (int s = 0; s < w.length; s++) {
                            w[s] = 1 + s % 4;
                        }
                        p = Policy.weighted(w);
                    } else {
                        p = Policy.parse(name);
                    }
                    String steering = g.policy(p).steering();
                    boolean wanted = p instanceof Policy.KernelHash ? steering.equals("kernel hash")
                            : steering.startsWith("bpf");
                    if (!wanted) {
                        return "policy " + p.spec() + " not in force: " + g.capabilities().steeringReason();
                    }
                }
                case "controller" -> ctl.to(state, "bench soak");
                case "resize" -> {
                    int to = g.workers().size() == workers ? resizeTo : workers;
                    if (g.protocol() == Protocol.UDP && to < g.workers().size()) {
                        List<Worker> live = g.workers();
                        st.retiredSocketDrops += st.dropsOf(live.subList(to, live.size()));
                    }
                    List<Worker> added = g.resize(to);
                    server.serve(added);
                    if (g.workers().size() != to) {
                        return "resize(" + to + ") left " + g.workers().size() + " workers";
                    }
                }
                case "replace" -> {
                    int[] slots = g.slots();
                    int slot = slots[n % slots.length];
                    if (g.protocol() == Protocol.UDP) {
                        st.retiredSocketDrops += st.dropsOf(List.of(g.worker(slot)));
                    }
                    g.replaceWorker(slot);
                }
                default -> {
                    if (g.protocol() == Protocol.UDP) {
                        st.retiredSocketDrops += st.dropsOf(g.workers());
                    }
                    g.restart();
                }
            }
            return null;
        } catch (Exception | Error e) {
            String s = e.toString();
            st.notes.add(String.format(Locale.ROOT, "change %d (%s) on %s failed: %s", c.index + 1, c.detail,
                    g.protocol(), s));
            return s;
        }
    }
}
