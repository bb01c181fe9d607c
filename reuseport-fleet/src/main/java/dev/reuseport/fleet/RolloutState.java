package dev.reuseport.fleet;

import java.util.Map;

/**
 * A rollout as etcd keeps it (key {@code rollout}): the plan, how far it went, and how it ended.
 *
 * @param id        the rollout id
 * @param policy    the policy rolled out
 * @param target    ENFORCE or SHADOW
 * @param stages    the stages as written
 * @param gate      K, the healthy windows a stage waits for
 * @param freeze    the freeze windows as written
 * @param stage     the last stage applied, -1 before the first
 * @param step      steps written so far (each stage, the rollback)
 * @param version   the version of the last step, which hosts report once applied
 * @param phase     {@code RUNNING}, {@code COMPLETED}, {@code ROLLED_BACK} or {@code ABORTED}
 * @param reason    why it ended, or what it waits for
 * @param driver    the coordinator that wrote the last step
 * @param fields    every field, as stored
 */
public record RolloutState(String id, String policy, String target, String stages, int gate, String freeze,
                           int stage, int step, String version, String phase, String reason, String driver,
                           Map<String, String> fields) {

    static RolloutState from(Map<String, String> m) {
        return new RolloutState(m.get("id"), m.get("policy"), m.get("target"), m.get("stages"),
                (int) Fields.num(m, "gate", 1), m.getOrDefault("freeze", ""), (int) Fields.num(m, "stage", -1),
                (int) Fields.num(m, "step", 0), m.getOrDefault("version", "-"), m.getOrDefault("phase", "-"),
                m.getOrDefault("reason", "-"), m.getOrDefault("driver", "-"), Map.copyOf(m));
    }

    /**
     * Whether it still moves.
     *
     * @return true while RUNNING
     */
    public boolean running() {
        return "RUNNING".equals(phase);
    }

    /**
     * The plan it runs.
     *
     * @return the plan read back
     */
    public RolloutPlan plan() {
        return RolloutPlan.parse(id, policy, target, stages, gate, freeze);
    }

    /**
     * One line for {@code ctl rollout status}.
     *
     * @return the fields in a fixed order
     */
    public String line() {
        return "rollout " + id + " policy " + policy + " target " + target + " phase " + phase + " stage " + (stage + 1)
                + "/" + plan().stages().size() + " version " + version + " gate " + gate + " driver " + driver
                + " reason " + reason;
    }
}
