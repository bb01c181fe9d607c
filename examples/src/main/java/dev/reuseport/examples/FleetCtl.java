package dev.reuseport.examples;

import dev.reuseport.fleet.Fleet;
import dev.reuseport.fleet.FleetException;
import dev.reuseport.fleet.FleetInputException;
import dev.reuseport.fleet.RolloutCoordinator;
import dev.reuseport.fleet.RolloutPlan;
import dev.reuseport.fleet.RolloutState;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * {@code ctl rollout ...} and {@code ctl fleet ...}: the fleet's commands, against etcd rather than one
 * server's control socket.
 * <pre>
 *   ctl rollout start --id R --policy P --stages "hosts:h1;group:web;percent:100" [--gate K] [--freeze
 *       HH:MM-HH:MM,...] [--target ENFORCE|SHADOW] [--drive SECONDS]
 *   ctl rollout drive [--seconds N] [--coordinator ID]    (take the rollout, or wait for it, and drive it)
 *   ctl rollout status | ctl rollout abort [reason]
 *   ctl fleet status | ctl fleet fallback [reason] | ctl fleet release
 * </pre>
 * Every command takes {@code --etcd URL[,URL...]} (default $REUSEPORT_ETCD) and {@code --service NAME}
 * (default $REUSEPORT_FLEET_SERVICE). Exit status as ctl's: 0 OK, 1 refused, 2 etcd unreachable, 64 usage.
 */
final class FleetCtl {
    private static final Set<String> FLAGS = Set.of("--etcd", "--service", "--id", "--policy", "--stages", "--gate",
            "--freeze", "--target", "--drive", "--seconds", "--coordinator");

    private FleetCtl() {
    }

    static boolean handles(List<String> command) {
        return !command.isEmpty() && (command.get(0).equals("rollout") || command.get(0).equals("fleet"));
    }

    static int run(List<String> command, PrintWriter out, PrintWriter err, Function<String, String> env) {
        Map<String, String> opt = new HashMap<>();
        List<String> words = new ArrayList<>();
        for (int i = 0; i < command.size(); i++) {
            String w = command.get(i);
            if (w.startsWith("--")) {
                if (!FLAGS.contains(w) || i + 1 >= command.size()) {
                    err.println("ctl " + command.get(0) + ": option " + w + (FLAGS.contains(w) ? " needs a value"
                            : " is unknown; accepted: " + FLAGS));
                    return CtlCommand.USAGE;
                }
                opt.put(w, command.get(++i));
            } else {
                words.add(w);
            }
        }
        String sub = words.size() > 1 ? words.get(1) : "";
        String etcd = opt.getOrDefault("--etcd", env.apply("REUSEPORT_ETCD"));
        String service = opt.getOrDefault("--service", env.apply("REUSEPORT_FLEET_SERVICE"));
        if (etcd == null || etcd.isBlank() || service == null || service.isBlank()) {
            err.println("ctl " + words.get(0) + ": give --etcd URL[,URL...] and --service NAME (or set REUSEPORT_ETCD "
                    + "and REUSEPORT_FLEET_SERVICE)");
            return CtlCommand.USAGE;
        }
        String rest = words.size() > 2 ? String.join(" ", words.subList(2, words.size())) : null;
        try (Fleet fleet = Fleet.connect(List.of(etcd.split(",")), service)) {
            switch (words.get(0) + " " + sub) {
                case "fleet status" -> fleet.statusLines().forEach(out::println);
                case "fleet fallback" -> out.println("fleet fallback " + fleet.fallback(rest == null ? "ctl" : rest)
                        + " written: every reachable host goes to the kernel hash");
                case "fleet release" -> {
                    fleet.release();
                    out.println("fleet fallback released");
                }
                case "rollout status" -> {
                    RolloutState r = fleet.rollout();
                    out.println(r == null ? "no rollout" : r.line());
                }
                case "rollout abort" -> out.println(fleet.abort(rest).line());
                case "rollout start" -> {
                    RolloutPlan plan = RolloutPlan.parse(req(opt, "--id"), req(opt, "--policy"),
                            opt.getOrDefault("--target", "ENFORCE"), req(opt, "--stages"),
                            num(opt, "--gate", 3), opt.getOrDefault("--freeze", ""));
                    out.println(fleet.start(plan).line());
                    if (opt.containsKey("--drive")) {
                        return drive(fleet, opt, out, num(opt, "--drive", 600));
                    }
                }
                case "rollout drive" -> {
                    return drive(fleet, opt, out, num(opt, "--seconds", 600));
                }
                default -> {
                    err.println("ctl " + String.join(" ", words) + ": unknown; accepted: rollout start|drive|status|abort,"
                            + " fleet status|fallback|release");
                    return CtlCommand.USAGE;
                }
            }
            return 0;
        } catch (FleetInputException e) {
            err.println("ctl: " + e.getMessage());
            return CtlCommand.USAGE;
        } catch (FleetException e) {
            err.println("ctl: " + e.getMessage());
            return String.valueOf(e.getMessage()).contains("did not answer") ? CtlCommand.UNREACHABLE
                    : CtlCommand.REFUSED;
        }
    }

    private static int drive(Fleet fleet, Map<String, String> opt, PrintWriter out, int seconds) {
        String id = opt.getOrDefault("--coordinator", "ctl-" + ProcessHandle.current().pid());
        try (RolloutCoordinator c = fleet.coordinator(id)) {
            String phase = c.drive(Duration.ofSeconds(seconds));
            RolloutState r = fleet.rollout();
            out.println(r == null ? phase : r.line());
            return "COMPLETED".equals(phase) || "RUNNING".equals(phase) ? 0 : CtlCommand.REFUSED;
        }
    }

    private static String req(Map<String, String> opt, String k) {
        String v = opt.get(k);
        if (v == null) {
            throw new FleetInputException("rollout start needs " + k);
        }
        return v;
    }

    private static int num(Map<String, String> opt, String k, int dflt) {
        String v = opt.get(k);
        try {
            return v == null ? dflt : Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new FleetInputException(k + " '" + v + "' is not a whole number");
        }
    }
}
