package dev.reuseport.fleet;

import dev.reuseport.Controller;
import dev.reuseport.Policy;
import java.time.LocalTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;

/**
 * A staged rollout of one policy: stages in order (canary hosts, then host groups, whole or a percentage,
 * or a percentage of every group), a gate (every host of every applied stage healthy for {@code gateWindows}
 * windows that the hosts themselves count and report), and freeze windows in which no stage is promoted.
 *
 * @param id          the rollout id, recorded in every host's audit trail
 * @param policy      the policy spec to roll out ({@link Policy#parse} accepts it; not {@code kernel-hash})
 * @param target      {@code ENFORCE}, or {@code SHADOW} to roll out shadowing only
 * @param stages      at least one
 * @param gateWindows K: healthy windows every host of the stage reports before the next stage (1 to 1000)
 * @param freeze      daily UTC windows without promotions; may be empty
 */
public record RolloutPlan(String id, String policy, Controller.State target, List<Stage> stages, int gateWindows,
                          List<Freeze> freeze) {

    /**
     * One stage.
     *
     * @param hosts   canary hosts by id (a {@code hosts:} stage), else empty
     * @param group   a host group (a {@code group:} stage), else null for every group
     * @param percent the share of the group's (or every group's) hosts, 1 to 100, chosen by a stable hash of
     *                the host id so that a larger share keeps the hosts of a smaller one
     */
    public record Stage(List<String> hosts, String group, int percent) {
        /** Copies the list. */
        public Stage {
            hosts = List.copyOf(hosts);
        }

        /**
         * The stage as written in a plan.
         *
         * @return e.g. {@code hosts:h1,h2}, {@code group:web@25%}, {@code percent:50}
         */
        public String spec() {
            if (!hosts.isEmpty()) {
                return "hosts:" + String.join(",", hosts);
            }
            if (group != null) {
                return "group:" + group + (percent == 100 ? "" : "@" + percent + "%");
            }
            return "percent:" + percent;
        }
    }

    /**
     * A daily freeze window in UTC; {@code from} after {@code to} crosses midnight.
     *
     * @param from start, inclusive
     * @param to   end, exclusive
     */
    public record Freeze(LocalTime from, LocalTime to) {
        /**
         * Whether a time of day is inside.
         *
         * @param t a UTC time of day
         * @return true inside the window
         */
        public boolean contains(LocalTime t) {
            return from.isBefore(to) || from.equals(to) ? !t.isBefore(from) && t.isBefore(to)
                    : !t.isBefore(from) || t.isBefore(to);
        }

        /**
         * The window as written in a plan.
         *
         * @return {@code HH:MM-HH:MM}
         */
        public String spec() {
            return from + "-" + to;
        }
    }

    /**
     * Checks the plan (not against etcd: unknown hosts and groups are refused when the rollout starts).
     *
     * @throws FleetInputException naming the value at fault and what is accepted
     */
    public RolloutPlan {
        Etcd.checkName("rollout id", id);
        Policy p;
        try {
            p = Policy.parse(policy);
        } catch (IllegalArgumentException e) {
            throw new FleetInputException(e.getMessage());
        }
        if (p.equals(Policy.kernelHash())) {
            throw new FleetInputException("policy kernel-hash cannot be rolled out; accepted: a steering policy "
                    + "(the kernel hash is where a rollback or a fleet fallback goes)");
        }
        policy = p.spec();
        if (target != Controller.State.ENFORCE && target != Controller.State.SHADOW) {
            throw new FleetInputException("target " + target + "; accepted: ENFORCE or SHADOW");
        }
        if (stages == null || stages.isEmpty()) {
            throw new FleetInputException("plan with no stages; accepted: one or more of hosts:H1,H2 group:G "
                    + "group:G@P% percent:P separated by ';'");
        }
        stages = List.copyOf(stages);
        if (gateWindows < 1 || gateWindows > 1000) {
            throw new FleetInputException("gate windows " + gateWindows + "; accepted: 1..1000");
        }
        freeze = freeze == null ? List.of() : List.copyOf(freeze);
    }

    /**
     * Reads a plan from its text form.
     *
     * @param id          the rollout id
     * @param policy      the policy spec
     * @param target      {@code ENFORCE} or {@code SHADOW}, case-insensitive
     * @param stages      stages separated by {@code ;}: {@code hosts:H1,H2}, {@code group:G},
     *                    {@code group:G@P%}, {@code percent:P}
     * @param gateWindows K
     * @param freeze      comma-separated {@code HH:MM-HH:MM} UTC windows, or blank for none
     * @return the plan
     * @throws FleetInputException naming the value at fault and what is accepted
     */
    public static RolloutPlan parse(String id, String policy, String target, String stages, int gateWindows,
                                    String freeze) {
        Controller.State t;
        try {
            t = Controller.State.valueOf(String.valueOf(target).trim().toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new FleetInputException("target '" + target + "'; accepted: ENFORCE or SHADOW");
        }
        return new RolloutPlan(id, policy, t, parseStages(stages), gateWindows, parseFreeze(freeze));
    }

    /**
     * Reads stages.
     *
     * @param spec stages separated by {@code ;}
     * @return the stages, possibly none
     * @throws FleetInputException naming the stage that is not accepted
     */
    public static List<Stage> parseStages(String spec) {
        List<Stage> out = new ArrayList<>();
        if (spec == null || spec.isBlank()) {
            return out;
        }
        for (String raw : spec.split(";")) {
            String s = raw.trim();
            if (s.isEmpty()) {
                continue;
            }
            if (s.startsWith("hosts:")) {
                List<String> hosts = new ArrayList<>();
                for (String h : s.substring(6).split(",")) {
                    Etcd.checkName("host", h.trim());
                    hosts.add(h.trim());
                }
                out.add(new Stage(hosts, null, 100));
            } else if (s.startsWith("group:")) {
                String g = s.substring(6);
                int pct = 100;
                int at = g.indexOf('@');
                if (at >= 0) {
                    pct = percent(s, g.substring(at + 1));
                    g = g.substring(0, at);
                }
                Etcd.checkName("host group", g.trim());
                out.add(new Stage(List.of(), g.trim(), pct));
            } else if (s.startsWith("percent:")) {
                out.add(new Stage(List.of(), null, percent(s, s.substring(8))));
            } else {
                throw new FleetInputException("stage '" + s + "' is not accepted; accepted: hosts:H1,H2 group:G "
                        + "group:G@P% percent:P");
            }
        }
        return out;
    }

    private static int percent(String stage, String v) {
        String t = v.trim();
        if (t.endsWith("%")) {
            t = t.substring(0, t.length() - 1);
        }
        try {
            int p = Integer.parseInt(t);
            if (p >= 1 && p <= 100) {
                return p;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new FleetInputException("stage '" + stage + "': percentage '" + v + "'; accepted: 1..100");
    }

    /**
     * Reads freeze windows.
     *
     * @param spec comma-separated {@code HH:MM-HH:MM} (UTC), or null or blank for none
     * @return the windows
     * @throws FleetInputException naming the window that cannot be parsed
     */
    public static List<Freeze> parseFreeze(String spec) {
        List<Freeze> out = new ArrayList<>();
        if (spec == null || spec.isBlank()) {
            return out;
        }
        for (String raw : spec.split(",")) {
            String s = raw.trim();
            String[] p = s.split("-");
            try {
                if (p.length != 2) {
                    throw new DateTimeParseException("no single '-'", s, 0);
                }
                out.add(new Freeze(LocalTime.parse(p[0].trim()), LocalTime.parse(p[1].trim())));
            } catch (DateTimeParseException e) {
                throw new FleetInputException("freeze window '" + s + "' cannot be parsed; accepted: HH:MM-HH:MM "
                        + "(UTC, 24 h), comma-separated, e.g. 08:00-09:30,23:30-00:15");
            }
        }
        return out;
    }

    /**
     * The stages as written.
     *
     * @return the stage specs joined by {@code ;}
     */
    public String stagesSpec() {
        return String.join(";", stages.stream().map(Stage::spec).toList());
    }

    /**
     * The freeze windows as written.
     *
     * @return the windows joined by {@code ,}, or empty
     */
    public String freezeSpec() {
        return String.join(",", freeze.stream().map(Freeze::spec).toList());
    }
}
