package dev.reuseport.fleet;

import java.util.Map;

/**
 * One host's status as it published it under its lease (key {@code hosts/<id>}), read back.
 *
 * @param host            the host id
 * @param hostGroup       its host group
 * @param state           its controller's state ({@code OBSERVE}, {@code SHADOW}, {@code ENFORCE}, {@code FALLBACK})
 * @param policy          the policy in force on its group
 * @param tableVersion    the steering table version in force
 * @param applied         the version of the last desired step it applied ({@code -} before any)
 * @param rollout         that step's rollout id
 * @param windows         windows it has ended since it joined (its own count, not wall clock)
 * @param healthyWindows  consecutive healthy windows since it applied {@code applied}
 * @param regressed       whether it fell back on its own regression (or was unhealthy K windows) in this step
 * @param imbalance       the last window's imbalance ratio (max/mean of worker rates)
 * @param drops           drops in the last window
 * @param p99Micros       the worst worker p99 of the last window
 * @param setupFailures   connection setup failures reported in the last window
 * @param restartFailures restart failures (failed migrations, reported ones) in the last window
 * @param offlineWindows  windows it spent without etcd since it joined (reported once back)
 * @param error           the last error it met driving its controller, or {@code -}
 */
public record HostStatus(String host, String hostGroup, String state, String policy, long tableVersion,
                         String applied, String rollout, long windows, long healthyWindows, boolean regressed,
                         double imbalance, long drops, long p99Micros, long setupFailures, long restartFailures,
                         long offlineWindows, String error) {

    static HostStatus from(String host, Map<String, String> m) {
        return new HostStatus(host, m.getOrDefault("group", "-"), m.getOrDefault("state", "-"),
                m.getOrDefault("policy", "-"), Fields.num(m, "table_version", 0), m.getOrDefault("applied", "-"),
                m.getOrDefault("rollout", "-"), Fields.num(m, "windows", 0), Fields.num(m, "healthy_windows", 0),
                Boolean.parseBoolean(m.get("regressed")), Fields.dbl(m, "imbalance"), Fields.num(m, "drops", 0),
                Fields.num(m, "p99_us", 0), Fields.num(m, "setup_failures", 0), Fields.num(m, "restart_failures", 0),
                Fields.num(m, "offline_windows", 0), m.getOrDefault("error", "-"));
    }

    /**
     * One line for {@code ctl fleet status}.
     *
     * @return the fields in a fixed order
     */
    public String line() {
        return String.format(java.util.Locale.ROOT,
                "%-16s %-10s %-8s %-14s tv=%-4d applied=%-14s windows=%-6d healthy=%-4d regressed=%-5s imb=%.2f "
                        + "drops=%d p99us=%d setupfail=%d restartfail=%d offline=%d error=%s",
                host, hostGroup, state, policy, tableVersion, applied, windows, healthyWindows, regressed, imbalance,
                drops, p99Micros, setupFailures, restartFailures, offlineWindows, error);
    }
}
