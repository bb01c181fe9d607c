package dev.reuseport;

import dev.reuseport.internal.wire.Shown;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The control socket's built-in commands ({@code status}, {@code policy}, {@code restart}, {@code resize},
 * {@code metrics}, {@code health}, {@code state}, {@code fallback}, {@code audit}, {@code bundle}): a table
 * of {@link ControlSocket.Command}s over the group's public methods, installed by {@link ControlSocket}
 * before it serves. An operator class like the socket itself; the group never refers to it.
 */
final class ControlCommands {
    private ControlCommands() {
    }

    /** Puts the built-in commands for {@code group} into {@code commands}, in the order they are listed. */
    static void install(ControlSocket socket, ReuseportGroup group, Map<String, ControlSocket.Command> commands) {
        commands.put("status", (a, body) -> {
            noArgs("status", a);
            return status(group, body);
        });
        commands.put("policy", (a, body) -> {
            if (a.size() != 1) {
                throw new IllegalArgumentException("policy takes one spec; accepted: policy <" + Policy.Weighted.ACCEPTED
                        .replace(", ", "|") + ">");
            }
            Capabilities c = group.policy(Policy.parse(a.get(0)));
            return "steering " + c.steering() + " (" + c.steeringReason() + ")";
        });
        commands.put("restart", (a, body) -> {
            noArgs("restart", a);
            group.restart();
            return "restarted, " + group.restarts() + " swaps so far";
        });
        commands.put("resize", (a, body) -> {
            if (a.size() != 1 || !a.get(0).matches("\\d{1,9}")) {
                throw new IllegalArgumentException("resize takes a worker count; got " + a + "; accepted: resize <1.."
                        + ReuseportGroup.MAX_WORKERS + ">");
            }
            int n = Integer.parseInt(a.get(0));
            if (n > group.workers().size() && !socket.workersAddedHeard() && !group.servesAddedWorkers()) {
                throw new IllegalStateException("resize " + n + " would add workers that nothing serves (no serving "
                        + "loop or socket listener attached, no onWorkersAdded listener); accepted: resize <1.."
                        + group.workers().size() + "> here, or serve the group with group.serve(...)");
            }
            List<Worker> added = group.resize(n);
            socket.addedListener().workersAdded(added);
            return "resized to " + group.workers().size() + " workers";
        });
        MetricsSampler sampler = group.newSampler();
        commands.put("metrics", (a, body) -> {
            if (a.size() > 1 || a.size() == 1 && !a.get(0).equals("--prom")) {
                throw new IllegalArgumentException("metrics takes no argument or --prom; got " + a);
            }
            if (!a.isEmpty()) {
                // the scraper's own cumulative view: ends no window, neither this socket's nor anyone's
                body.addAll(List.of(PrometheusExporter.of(group).scrape().split("\n")));
                return "prometheus exposition";
            }
            GroupMetrics m = sampler.sample();
            body.addAll(List.of(m.toTable().split("\n")));
            return "metrics over " + String.format(java.util.Locale.ROOT, "%.1f", m.windowSeconds()) + " s";
        });
        commands.put("health", (a, body) -> {
            noArgs("health", a);
            if (group.isClosed()) {
                throw new IllegalStateException("not ready: the group is closed (handed off or shut down)");
            }
            int n = group.workers().size();
            if (n == 0) {
                throw new IllegalStateException("not ready: no worker serves");
            }
            return "ready: " + n + " workers on " + group.protocol() + " port " + group.localAddress().getPort()
                    + ", state " + group.controlState() + ", policy " + group.policy().spec();
        });
        commands.put("state", (a, body) -> {
            Controller c = group.controller();
            if (a.isEmpty()) {
                return "state " + group.controlState() + (c == null ? " (no controller)" : " candidate "
                        + c.candidate().spec());
            }
            if (c == null) {
                throw new IllegalStateException("no controller runs this group; accepted: 'state' alone, or start "
                        + "the server with a controller");
            }
            Controller.State target;
            try {
                target = Controller.State.valueOf(a.get(0).toUpperCase(java.util.Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("state '" + a.get(0) + "' is unknown; accepted: "
                        + java.util.Arrays.toString(Controller.State.values()));
            }
            c.to(target, String.join(" ", a.subList(1, a.size())));
            return "state " + c.state();
        });
        commands.put("fallback", (a, body) -> {
            long t0 = System.nanoTime();
            String reason = reason(a);
            Controller c = group.controller();
            long took;
            if (c != null) {
                c.to(Controller.State.FALLBACK, reason);
                took = c.lastFallbackNanos();
            } else {
                took = group.fallback(operator(reason)) - t0;
            }
            return fallbackReply(group.controlState(), took);
        });
        commands.put("audit", (a, body) -> {
            int n = 50;
            if (a.size() == 1 && a.get(0).matches("\\d{1,5}")) {
                n = Integer.parseInt(a.get(0));
            } else if (!a.isEmpty()) {
                throw new IllegalArgumentException("audit takes an entry count; got " + a + "; accepted: audit [1..99999]");
            }
            body.addAll(group.audit().tail(n));
            return group.audit().entries().size() + " entries";
        });
        commands.put("bundle", (a, body) -> {
            if (a.size() != 1) {
                throw new IllegalArgumentException("bundle takes one directory; accepted: bundle <new directory>");
            }
            String arg = a.get(0);
            if (!arg.startsWith("/") || arg.chars().anyMatch(ch -> ch < 0x20 || ch == 0x7f)
                    || !Path.of(arg).normalize().toString().equals(arg.replaceAll("/+$", "").replaceAll("/+", "/"))) {
                throw new IllegalArgumentException("bundle directory '" + Shown.printable(arg) + "' is not accepted; "
                        + "accepted: an absolute path without '.' or '..' segments or control characters");
            }
            for (Path p : group.bundle(Path.of(a.get(0)))) {
                body.add(p.toString());
            }
            return "bundle written to " + a.get(0);
        });
    }

    /** The {@code fallback} request's reason: its words, or "operator". */
    private static String reason(List<String> a) {
        return a.isEmpty() ? "operator" : String.join(" ", a);
    }

    private static String operator(String reason) {
        return "operator: " + reason;
    }

    /** The {@code fallback} reply's text: the state, and how long the group took to put the kernel default in force. */
    private static String fallbackReply(String state, long tookNanos) {
        return "state " + state + ", kernel default in force after " + tookNanos / 1000 + " us";
    }

    /**
     * Prepares the {@code fallback} command without running it (the control socket calls this as it opens):
     * its texts formatted with stand-in values (the group prepared its own fallback path as it opened:
     * {@link FallbackTexts#prepare}), so that an operator's first {@code fallback} pays no first-use cost.
     * Changes nothing.
     */
    static void prepare(ReuseportGroup group) {
        fallbackReply(group.controlState(), operator(reason(List.of("prepare", "now"))).length());
        group.controller();
    }

    static void noArgs(String name, List<String> a) {
        if (!a.isEmpty()) {
            throw new IllegalArgumentException(name + " takes no arguments; got " + a);
        }
    }

    private static String status(ReuseportGroup group, List<String> body) throws IOException {
        Capabilities c = group.capabilities();
        for (String l : c.toTable().split("\n")) {
            body.add(l);
        }
        body.addAll(PortShadows.report(group)); // sockets that take part of the port's traffic before the group
        body.add(String.format("%-5s %10s %10s %10s %8s %8s", "slot", "accepted", "received", "queue", "limit", "drops"));
        for (WorkerStats s : group.stats()) {
            body.add(String.format("%-5d %10d %10d %10d %8d %8d", s.slot(), s.accepted(), s.received(), s.queueDepth(),
                    s.queueLimit(), s.drops()));
        }
        return "state " + group.controlState() + " policy " + group.policy().spec() + " table-version "
                + group.tableVersion() + " workers " + group.workers().size();
    }
}
