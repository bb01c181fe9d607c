package dev.reuseport.fleet;

import dev.reuseport.Controller;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * What a host should run: a policy spec, a control state, and the step that asked for it ({@code rollout}
 * id and {@code version}, unique per written step). A group key may select only a percentage of its hosts
 * (by a stable hash of the host id); the others run {@code basePolicy}/{@code baseState}.
 */
record Desired(String policy, Controller.State state, String rollout, String version, int percent,
               String basePolicy, Controller.State baseState) {

    static Desired of(String policy, Controller.State state, String rollout, String version) {
        return new Desired(policy, state, rollout, version, 100, policy, state);
    }

    Map<String, Object> fields() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("policy", policy);
        m.put("state", state.name());
        m.put("rollout", rollout);
        m.put("version", version);
        m.put("percent", percent);
        m.put("base_policy", basePolicy);
        m.put("base_state", baseState.name());
        return m;
    }

    static Desired from(Map<String, String> m) {
        if (m == null || m.get("policy") == null || m.get("state") == null) {
            return null;
        }
        try {
            Controller.State s = Controller.State.valueOf(m.get("state"));
            String bp = m.getOrDefault("base_policy", m.get("policy"));
            Controller.State bs = Controller.State.valueOf(m.getOrDefault("base_state", s.name()));
            return new Desired(m.get("policy"), s, m.getOrDefault("rollout", "-"), m.getOrDefault("version", "-"),
                    (int) Fields.num(m, "percent", 100), bp, bs);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** The host's bucket, 0..99: stable across processes and JVMs (CRC-32 of the id). */
    static int bucket(String host) {
        CRC32 c = new CRC32();
        c.update(host.getBytes(StandardCharsets.UTF_8));
        return (int) (c.getValue() % 100);
    }

    /** Whether the host is among the {@code percent} selected by this key. */
    boolean selects(String host) {
        return bucket(host) < percent;
    }

    /** The (policy, state) for one host under this key, same rollout and version. */
    Desired forHost(String host) {
        return selects(host) ? of(policy, state, rollout, version) : of(basePolicy, baseState, rollout, version);
    }

    /** Precedence: the fleet-wide fallback, then the host's own key, then its group's. */
    static Desired resolve(String host, Desired fleet, Desired hostKey, Desired groupKey) {
        if (fleet != null && fleet.state() == Controller.State.FALLBACK) {
            return fleet;
        }
        if (hostKey != null) {
            return hostKey.forHost(host);
        }
        return groupKey == null ? null : groupKey.forHost(host);
    }
}
