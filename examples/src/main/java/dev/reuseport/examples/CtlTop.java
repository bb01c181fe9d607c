package dev.reuseport.examples;

import dev.reuseport.ControlClient;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import picocli.CommandLine;

/**
 * {@code ctl top}: a live per-worker view, redrawn every interval. It reads the server's cumulative
 * exposition ({@code metrics --prom}) and takes its own differences, so its windows are its own and it
 * shortens nobody else's. Header: protocol, port, control state, policy and table version; one row per
 * worker: share of the window's traffic (bar), rate, accept queue, drops in the window and in total, p99
 * over the window (from the latency histogram's buckets).
 */
final class CtlTop {
    private final CommandLine cl;
    private final Path socket;
    private double interval = 1.0;
    private long count = Long.MAX_VALUE;

    CtlTop(CommandLine cl, Path socket, List<String> args) {
        this.cl = cl;
        this.socket = socket;
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            String v = i + 1 < args.size() ? args.get(i + 1) : null;
            try {
                if (a.equals("--interval") && v != null) {
                    interval = Double.parseDouble(v);
                    if (!(interval >= 0.1 && interval <= 3600)) {
                        throw new NumberFormatException();
                    }
                    i++;
                } else if (a.equals("--count") && v != null) {
                    count = Long.parseLong(v);
                    if (count < 1) {
                        throw new NumberFormatException();
                    }
                    i++;
                } else {
                    throw new CommandLine.ParameterException(cl, "top: '" + a + "' is not accepted; accepted: "
                            + "top [--interval 0.1..3600 seconds] [--count N >= 1]");
                }
            } catch (NumberFormatException e) {
                throw new CommandLine.ParameterException(cl, "top: " + a + " " + v + " is out of range; accepted: "
                        + "--interval 0.1..3600 seconds, --count 1 or more");
            }
        }
    }

    /** One sample of the exposition: name → (labels → value). */
    record Sample(String name, Map<String, String> labels, double value) {
    }

    int run() throws InterruptedException {
        PrintWriter out = cl.getOut();
        PrintWriter err = cl.getErr();
        List<Sample> prev = null;
        long prevNanos = 0;
        java.io.InputStream in = System.in;
        for (long n = 0; n < count; n++) {
            List<Sample> now;
            long t = System.nanoTime();
            try (ControlClient c = ControlClient.connect(socket)) {
                ControlClient.Reply r = c.request("metrics --prom");
                if (!r.ok()) {
                    err.println("error: " + r.text());
                    return CtlCommand.REFUSED;
                }
                now = parse(r.body());
            } catch (IOException e) {
                err.println("error: cannot reach " + socket + ": " + e.getMessage());
                return CtlCommand.UNREACHABLE;
            }
            out.print("\033[H\033[2J");
            out.print(render(now, prev, prev == null ? 0 : (t - prevNanos) / 1e9));
            out.flush();
            prev = now;
            prevNanos = t;
            long until = System.nanoTime() + (long) (interval * 1e9);
            while (n + 1 < count && System.nanoTime() < until) {
                try {
                    while (in.available() > 0) {
                        int k = in.read();
                        if (k == 'q' || k == 'Q') {
                            out.println("quit");
                            out.flush();
                            return 0;
                        }
                    }
                } catch (IOException e) {
                    in = java.io.InputStream.nullInputStream();
                }
                Thread.sleep(50);
            }
        }
        return 0;
    }

    static List<Sample> parse(List<String> lines) {
        List<Sample> out = new ArrayList<>();
        for (String l : lines) {
            if (l.isEmpty() || l.startsWith("#")) {
                continue;
            }
            int brace = l.indexOf('{');
            int space = l.lastIndexOf(' ');
            if (space < 0) {
                continue;
            }
            Map<String, String> labels = new HashMap<>();
            String name;
            if (brace >= 0 && brace < space) {
                name = l.substring(0, brace);
                String body = l.substring(brace + 1, l.lastIndexOf('}'));
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\w+)=\"((?:[^\"\\\\]|\\\\.)*)\"")
                        .matcher(body);
                while (m.find()) {
                    labels.put(m.group(1), m.group(2).replace("\\\"", "\"").replace("\\n", "\n")
                            .replace("\\\\", "\\"));
                }
            } else {
                name = l.substring(0, space);
            }
            try {
                out.add(new Sample(name, labels, Double.parseDouble(l.substring(space + 1))));
            } catch (NumberFormatException e) {
                // +Inf and the like: not used here
            }
        }
        return out;
    }

    private static double value(List<Sample> s, String name, Map<String, String> match) {
        if (s == null) {
            return Double.NaN;
        }
        for (Sample x : s) {
            if (x.name().equals(name) && x.labels().entrySet().containsAll(match.entrySet())) {
                return x.value();
            }
        }
        return Double.NaN;
    }

    static String render(List<Sample> now, List<Sample> prev, double secs) {
        StringBuilder b = new StringBuilder();
        String state = "-";
        String policy = "?";
        String table = "?";
        String steering = "?";
        String proto = "?";
        String port = "?";
        for (Sample s : now) {
            if (s.name().equals("reuseport_control_state") && s.value() == 1) {
                state = s.labels().get("state");
            }
            if (s.name().equals("reuseport_policy_info")) {
                policy = s.labels().get("policy");
                table = s.labels().get("table_version");
                steering = s.labels().get("steering");
                proto = s.labels().get("protocol");
                port = s.labels().get("port");
            }
        }
        b.append(String.format(Locale.ROOT, "reuseport top  %s port %s  state %s  policy %s (table v%s, %s)  window %s%n",
                proto, port, state, policy, table, steering, secs > 0 ? String.format(Locale.ROOT, "%.1fs", secs)
                        : "first sample"));
        TreeMap<Integer, Map<String, String>> slots = new TreeMap<>();
        for (Sample s : now) {
            if (s.name().equals("reuseport_worker_accepted_total")) {
                slots.put(Integer.parseInt(s.labels().get("slot")), s.labels());
            }
        }
        Map<Integer, Double> rates = new HashMap<>();
        double total = 0;
        for (Map.Entry<Integer, Map<String, String>> e : slots.entrySet()) {
            Map<String, String> l = Map.of("slot", e.getValue().get("slot"));
            double traffic = value(now, "reuseport_worker_accepted_total", l)
                    + value(now, "reuseport_worker_received_total", l);
            double before = value(prev, "reuseport_worker_accepted_total", l)
                    + value(prev, "reuseport_worker_received_total", l);
            double r = secs > 0 && !Double.isNaN(before) ? Math.max(0, traffic - before) / secs : Double.NaN;
            rates.put(e.getKey(), r);
            if (!Double.isNaN(r)) {
                total += r;
            }
        }
        b.append(String.format(Locale.ROOT, "%-5s %-22s %10s %11s %8s %10s %9s%n", "slot", "share", "rate/s", "queue",
                "drops", "drops-all", "p99"));
        for (Map.Entry<Integer, Map<String, String>> e : slots.entrySet()) {
            Map<String, String> l = Map.of("slot", e.getValue().get("slot"));
            double r = rates.get(e.getKey());
            double share = total > 0 && !Double.isNaN(r) ? r / total : 0;
            int bars = (int) Math.round(share * 20);
            String bar = "#".repeat(bars) + ".".repeat(20 - bars);
            double drops = value(now, "reuseport_worker_drops_total", l);
            double dropsBefore = value(prev, "reuseport_worker_drops_total", l);
            b.append(String.format(Locale.ROOT, "%-5d %s %3.0f%% %9s %5.0f/%-5.0f %8s %10.0f %9s%n", e.getKey(), bar,
                    share * 100, Double.isNaN(r) ? "-" : String.format(Locale.ROOT, "%.1f", r),
                    value(now, "reuseport_worker_queue_depth", l), value(now, "reuseport_worker_queue_limit", l),
                    Double.isNaN(dropsBefore) ? "-" : String.format(Locale.ROOT, "%.0f", drops - dropsBefore), drops,
                    p99(now, prev, e.getValue().get("slot"))));
        }
        b.append(String.format(Locale.ROOT, "total %-22s %10s%n", "", secs > 0 ? String.format(Locale.ROOT, "%.1f", total)
                : "-"));
        b.append("q then Enter (or Ctrl-C) quits\n");
        return b.toString();
    }

    /** p99 over the window from the histogram's bucket differences: the first bucket bound holding 99%. */
    private static String p99(List<Sample> now, List<Sample> prev, String slot) {
        if (prev == null) {
            return "-";
        }
        TreeMap<Double, Double> buckets = new TreeMap<>();
        for (Sample s : now) {
            if (s.name().equals("reuseport_worker_latency_seconds_bucket") && slot.equals(s.labels().get("slot"))
                    && !s.labels().get("le").equals("+Inf")) {
                Map<String, String> l = Map.of("slot", slot, "le", s.labels().get("le"));
                double before = value(prev, "reuseport_worker_latency_seconds_bucket", l);
                buckets.put(Double.parseDouble(s.labels().get("le")), s.value() - (Double.isNaN(before) ? 0 : before));
            }
        }
        double all = value(now, "reuseport_worker_latency_seconds_count", Map.of("slot", slot))
                - value(prev, "reuseport_worker_latency_seconds_count", Map.of("slot", slot));
        if (!(all > 0)) {
            return "-";
        }
        for (Map.Entry<Double, Double> e : buckets.entrySet()) {
            if (e.getValue() >= 0.99 * all) {
                double s = e.getKey();
                return s < 1e-3 ? String.format(Locale.ROOT, "<%.0fus", s * 1e6)
                        : s < 1 ? String.format(Locale.ROOT, "<%.1fms", s * 1e3) : String.format(Locale.ROOT, "<%.1fs", s);
            }
        }
        return ">10s";
    }
}
