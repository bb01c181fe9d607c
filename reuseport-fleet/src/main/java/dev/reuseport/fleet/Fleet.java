package dev.reuseport.fleet;

import dev.reuseport.Controller;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The operator's view of a fleet in etcd: every host's status, the fleet-wide fallback, and rollouts
 * (start, status, abort; {@link #coordinator(String)} drives one). Every write that changes what hosts run
 * is one etcd transaction, conditioned on the rollout record it read, so concurrent operators and
 * coordinators never interleave half-written steps.
 */
public final class Fleet implements AutoCloseable {
    final Etcd etcd;
    private final boolean ownClient;

    private Fleet(Client client, String service, boolean own) {
        Etcd.checkName("service", service);
        this.etcd = new Etcd(client, service);
        this.ownClient = own;
    }

    /**
     * Connects to a fleet.
     *
     * @param endpoints etcd client URLs
     * @param service   the fleet's name
     * @return the fleet; {@link #close()} closes its client
     * @throws FleetInputException when the service name is not accepted
     */
    public static Fleet connect(List<String> endpoints, String service) {
        Etcd.checkName("service", service);
        return new Fleet(Etcd.connect(endpoints), service, true);
    }

    /**
     * A fleet over a client the caller owns (and closes).
     *
     * @param client  a jetcd client
     * @param service the fleet's name
     * @return the fleet
     */
    public static Fleet over(Client client, String service) {
        return new Fleet(client, service, false);
    }

    /**
     * Every host that ever joined and has not left, with its host group (persistent keys {@code members/}).
     *
     * @return host id to host group, sorted by host id
     * @throws FleetException when etcd does not answer
     */
    public Map<String, String> members() {
        Map<String, String> m = new TreeMap<>();
        etcd.under(etcd.members()).forEach((h, f) -> m.put(h, f.getOrDefault("group", "-")));
        return m;
    }

    /**
     * The statuses hosts publish under their leases (a host silent longer than its lease has none).
     *
     * @return host id to status, sorted by host id
     * @throws FleetException when etcd does not answer
     */
    public Map<String, HostStatus> statuses() {
        Map<String, HostStatus> m = new TreeMap<>();
        etcd.under(etcd.statuses()).forEach((h, f) -> m.put(h, HostStatus.from(h, f)));
        return m;
    }

    /**
     * {@code ctl fleet status}: one line per member, {@code SILENT} for a member without a live status.
     *
     * @return the lines
     * @throws FleetException when etcd does not answer
     */
    public List<String> statusLines() {
        Map<String, HostStatus> st = statuses();
        List<String> out = new ArrayList<>();
        members().forEach((h, g) -> out.add(st.containsKey(h) ? st.get(h).line()
                : String.format(java.util.Locale.ROOT, "%-16s %-10s SILENT (no status under a live lease)", h, g)));
        return out;
    }

    /**
     * Puts every host on the kernel hash: one key ({@code desired/fleet}) that every agent watches and that
     * takes precedence over host and group keys. Hosts apply it at once; a host that cannot reach etcd
     * applies it when it can.
     *
     * @param reason why, recorded in the key
     * @return the fallback's version, which hosts report once applied
     * @throws FleetException when etcd does not answer
     */
    public String fallback(String reason) {
        String v = "fallback." + System.currentTimeMillis();
        Map<String, Object> f = new LinkedHashMap<>(Desired.of("kernel-hash", Controller.State.FALLBACK,
                "fleet-fallback", v).fields());
        f.put("reason", reason == null ? "-" : reason.replace('\n', ' '));
        etcd.put(etcd.desiredFleet(), f, 0);
        return v;
    }

    /**
     * Ends a fleet-wide fallback: hosts return to their host or group desired state.
     *
     * @throws FleetException when etcd does not answer
     */
    public void release() {
        etcd.delete(etcd.desiredFleet());
    }

    /**
     * The rollout record.
     *
     * @return the last rollout started, or null when none ever was
     * @throws FleetException when etcd does not answer
     */
    public RolloutState rollout() {
        Map<String, String> f = etcd.fields(etcd.rollout());
        return f == null ? null : RolloutState.from(f);
    }

    /**
     * Starts a rollout: checks the plan against the members in etcd, records the policy each host group
     * runs now (what a rollback returns to) and writes the rollout record in one transaction. No host moves
     * until a coordinator drives it.
     *
     * @param plan the plan
     * @return the rollout as recorded
     * @throws FleetInputException naming a host or host group no member has, nothing written
     * @throws FleetException      when another rollout is running, or etcd does not answer
     */
    public RolloutState start(RolloutPlan plan) {
        Map<String, String> members = members();
        Set<String> groups = new java.util.TreeSet<>(members.values());
        for (RolloutPlan.Stage s : plan.stages()) {
            for (String h : s.hosts()) {
                if (!members.containsKey(h)) {
                    throw new FleetInputException("host '" + h + "' has never joined fleet " + etcd.prefix
                            + "; accepted: " + members.keySet());
                }
            }
            if (s.group() != null && !groups.contains(s.group())) {
                throw new FleetInputException("host group '" + s.group() + "' does not exist; accepted: " + groups);
            }
        }
        KeyValue cur = etcd.get(etcd.rollout());
        long rev = cur == null ? 0 : cur.getModRevision();
        if (cur != null) {
            RolloutState r = RolloutState.from(Fields.decode(cur.getValue().getBytes()));
            if (r.running()) {
                throw new FleetException("rollout " + r.id() + " is running (" + r.phase() + "); abort it first");
            }
        }
        Map<String, Object> rec = new LinkedHashMap<>();
        rec.put("id", plan.id());
        rec.put("policy", plan.policy());
        rec.put("target", plan.target().name());
        rec.put("stages", plan.stagesSpec());
        rec.put("gate", plan.gateWindows());
        rec.put("freeze", plan.freezeSpec());
        rec.put("stage", -1);
        rec.put("step", 0);
        rec.put("version", "-");
        rec.put("phase", "RUNNING");
        rec.put("reason", "started");
        rec.put("driver", "-");
        rec.put("groups", String.join(",", groups));
        for (String g : groups) {
            Desired d = Desired.from(etcd.fields(etcd.desiredGroup(g)));
            String prev = d == null ? "kernel-hash/OBSERVE"
                    : d.percent() == 100 ? d.policy() + "/" + d.state() : d.basePolicy() + "/" + d.baseState();
            rec.put("prev." + g, prev);
        }
        if (!etcd.txn(List.of(new Cmp(Etcd.bs(etcd.rollout()), Cmp.Op.EQUAL, CmpTarget.modRevision(rev))),
                List.of(Etcd.putOp(etcd.rollout(), rec)))) {
            throw new FleetException("the rollout record changed while starting " + plan.id() + "; nothing written");
        }
        return rollout();
    }

    /**
     * Aborts the running rollout with a hard rollback: every host key and group key it wrote returns to
     * what ran before, and the record says ABORTED, in one transaction conditioned on the record not having
     * changed since it was read (a coordinator's step in between makes this call read again).
     *
     * @param reason why
     * @return the rollout as recorded after the abort
     * @throws FleetException when no rollout is running, or etcd does not answer
     */
    public RolloutState abort(String reason) {
        for (int attempt = 0; attempt < 20; attempt++) {
            KeyValue cur = etcd.get(etcd.rollout());
            RolloutState r = cur == null ? null : RolloutState.from(Fields.decode(cur.getValue().getBytes()));
            if (r == null || !r.running()) {
                throw new FleetException("no rollout is running" + (r == null ? "" : " (" + r.id() + " is " + r.phase() + ")"));
            }
            List<Cmp> ifs = List.of(new Cmp(Etcd.bs(etcd.rollout()), Cmp.Op.EQUAL, CmpTarget.modRevision(cur.getModRevision())));
            if (etcd.txn(ifs, rollbackOps(r, "ABORTED", "operator: " + (reason == null ? "-" : reason), "ctl"))) {
                return rollout();
            }
        }
        throw new FleetException("the rollout record kept changing; abort not written");
    }

    /** The hosts a stage selects among the members. */
    static Set<String> hostsOf(RolloutPlan.Stage s, Map<String, String> members) {
        Set<String> out = new LinkedHashSet<>();
        if (!s.hosts().isEmpty()) {
            out.addAll(s.hosts());
            return out;
        }
        members.forEach((h, g) -> {
            if ((s.group() == null || s.group().equals(g)) && Desired.bucket(h) < s.percent()) {
                out.add(h);
            }
        });
        return out;
    }

    /** The writes of stages 0..upTo with one new version, and the record moved to that stage. */
    List<Op> stageOps(RolloutState r, int upTo, String driver) {
        RolloutPlan plan = r.plan();
        int step = r.step() + 1;
        String v = r.id() + "." + step;
        List<Op> ops = new ArrayList<>();
        Map<String, Integer> pct = new TreeMap<>();
        List<String> groups = groups(r);
        for (int i = 0; i <= upTo; i++) {
            RolloutPlan.Stage s = plan.stages().get(i);
            for (String h : s.hosts()) {
                ops.add(Etcd.putOp(etcd.desiredHost(h), Desired.of(plan.policy(), plan.target(), r.id(), v).fields()));
            }
            if (s.hosts().isEmpty()) {
                for (String g : s.group() == null ? groups : List.of(s.group())) {
                    pct.merge(g, s.percent(), Math::max);
                }
            }
        }
        pct.forEach((g, p) -> {
            String[] prev = prev(r, g);
            ops.add(Etcd.putOp(etcd.desiredGroup(g), new Desired(plan.policy(), plan.target(), r.id(), v, p, prev[0],
                    Controller.State.valueOf(prev[1])).fields()));
        });
        Map<String, Object> rec = new LinkedHashMap<>(r.fields());
        rec.put("stage", upTo);
        rec.put("step", step);
        rec.put("version", v);
        rec.put("reason", "stage " + (upTo + 1) + " applied: " + plan.stages().get(upTo).spec());
        rec.put("driver", driver);
        ops.add(Etcd.putOp(etcd.rollout(), rec));
        return ops;
    }

    /**
     * The hard rollback: every group the rollout touched (or whose hosts it named) back to what it ran
     * before, under a new version, and every host key it wrote deleted; the record ends in {@code phase}.
     */
    List<Op> rollbackOps(RolloutState r, String phase, String reason, String driver) {
        RolloutPlan plan = r.plan();
        int step = r.step() + 1;
        String v = r.id() + "." + step;
        Map<String, String> members = members();
        Set<String> touched = new java.util.TreeSet<>();
        List<Op> ops = new ArrayList<>();
        for (int i = 0; i <= Math.max(r.stage(), 0) && i < plan.stages().size(); i++) {
            RolloutPlan.Stage s = plan.stages().get(i);
            for (String h : s.hosts()) {
                ops.add(Etcd.deleteOp(etcd.desiredHost(h)));
                if (members.containsKey(h)) {
                    touched.add(members.get(h));
                }
            }
            if (s.hosts().isEmpty()) {
                touched.addAll(s.group() == null ? groups(r) : List.of(s.group()));
            }
        }
        for (String g : touched) {
            String[] prev = prev(r, g);
            ops.add(Etcd.putOp(etcd.desiredGroup(g), Desired.of(prev[0], Controller.State.valueOf(prev[1]), r.id(), v)
                    .fields()));
        }
        Map<String, Object> rec = new LinkedHashMap<>(r.fields());
        rec.put("step", step);
        rec.put("version", v);
        rec.put("phase", phase);
        rec.put("reason", reason.replace('\n', ' '));
        rec.put("driver", driver);
        rec.put("rolled_back_hosts", touched.isEmpty() ? "-" : String.join(",", touched));
        ops.add(Etcd.putOp(etcd.rollout(), rec));
        return ops;
    }

    /** The completion: host keys whose group now runs the policy on every host are deleted. */
    List<Op> completeOps(RolloutState r, String driver) {
        RolloutPlan plan = r.plan();
        Set<String> full = new java.util.HashSet<>();
        boolean all = false;
        for (RolloutPlan.Stage s : plan.stages()) {
            if (s.hosts().isEmpty() && s.percent() == 100) {
                if (s.group() == null) {
                    all = true;
                } else {
                    full.add(s.group());
                }
            }
        }
        Map<String, String> members = members();
        List<Op> ops = new ArrayList<>();
        for (RolloutPlan.Stage s : plan.stages()) {
            for (String h : s.hosts()) {
                if (all || full.contains(members.get(h))) {
                    ops.add(Etcd.deleteOp(etcd.desiredHost(h)));
                }
            }
        }
        Map<String, Object> rec = new LinkedHashMap<>(r.fields());
        rec.put("phase", "COMPLETED");
        rec.put("reason", "every stage passed its gate");
        rec.put("driver", driver);
        ops.add(Etcd.putOp(etcd.rollout(), rec));
        return ops;
    }

    private static List<String> groups(RolloutState r) {
        String g = r.fields().getOrDefault("groups", "");
        return g.isEmpty() ? List.of() : List.of(g.split(","));
    }

    private static String[] prev(RolloutState r, String g) {
        String p = r.fields().getOrDefault("prev." + g, "kernel-hash/OBSERVE");
        int slash = p.lastIndexOf('/');
        return new String[] {p.substring(0, slash), p.substring(slash + 1)};
    }

    /**
     * A coordinator for this fleet's rollouts.
     *
     * @param id its name (for {@code rollout-owner} and the record's {@code driver})
     * @return the coordinator; it holds nothing until {@link RolloutCoordinator#drive} runs
     */
    public RolloutCoordinator coordinator(String id) {
        Etcd.checkName("coordinator id", id);
        return new RolloutCoordinator(this, id);
    }

    static ByteSequence key(String k) {
        return Etcd.bs(k);
    }

    /** Closes the client when this fleet made it. */
    @Override
    public void close() {
        if (ownClient) {
            etcd.client.close();
        }
    }
}
