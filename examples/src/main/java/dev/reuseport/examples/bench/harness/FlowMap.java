package dev.reuseport.examples.bench.harness;

import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Prints which worker each flow's datagrams reached, per controller state (a flow x worker matrix). */
public final class FlowMap {
    private FlowMap() {
    }

    /**
     * One table per state in {@code states} that {@code counts} has: the % of each flow's datagrams per
     * worker ({@code counts.get(state)[flow * workers + worker]}); for the first state also the flows per worker.
     */
    public static void print(PrintWriter out, int flows, int workers, Map<Integer, Integer> flowOfPort,
                             Map<String, long[]> counts, List<String> states) {
        String[] portOf = new String[flows];
        flowOfPort.forEach((p, f) -> portOf[f] = Integer.toString(p));
        for (String s : states) {
            long[] a = counts.get(s);
            if (a == null) {
                continue;
            }
            out.printf("flow -> worker map in %s windows (%% of each flow's datagrams per worker):%n", s);
            StringBuilder h = new StringBuilder(String.format("  %-6s %-6s", "flow", "port"));
            for (int w = 0; w < workers; w++) {
                h.append(String.format(" %6s", "w" + w));
            }
            out.println(h);
            int[] flowsOn = new int[workers];
            for (int f = 0; f < flows; f++) {
                long tot = 0;
                for (int w = 0; w < workers; w++) {
                    tot += a[f * workers + w];
                }
                StringBuilder r = new StringBuilder(String.format("  %-6d %-6s", f, portOf[f]));
                for (int w = 0; w < workers; w++) {
                    long n = a[f * workers + w];
                    if (n > 0) {
                        flowsOn[w]++;
                    }
                    r.append(String.format(Locale.ROOT, " %6s", tot == 0 || n == 0 ? "." : Stats.fmt(100.0 * n / tot, 1)));
                }
                out.println(r);
            }
            if (s.equals(states.get(0))) {
                StringBuilder r = new StringBuilder("  flows per worker:");
                for (int w = 0; w < workers; w++) {
                    r.append(" w").append(w).append('=').append(flowsOn[w]);
                }
                out.println(r);
            }
        }
    }
}
