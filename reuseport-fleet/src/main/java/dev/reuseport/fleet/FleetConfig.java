package dev.reuseport.fleet;

import java.time.Duration;
import java.util.List;

/**
 * Where and as whom a host joins a fleet.
 *
 * @param endpoints etcd client URLs, e.g. {@code http://198.18.0.1:2379}; at least one
 * @param service   the fleet's name (its keys live under {@code /reuseport/fleet/<service>/})
 * @param host      this host's id, unique in the fleet
 * @param hostGroup the host group it belongs to (rollout stages name host groups)
 * @param window    one window: the agent ends a controller window, checks health and publishes status
 *                  once per window (10 ms to 1 h)
 * @param leaseTtl  the status lease: a host silent this long disappears from {@code hosts/} (1 s to 5 min)
 */
public record FleetConfig(List<String> endpoints, String service, String host, String hostGroup, Duration window,
                          Duration leaseTtl) {
    /**
     * Checks the values.
     *
     * @throws FleetInputException naming the value at fault and what is accepted
     */
    public FleetConfig {
        if (endpoints == null || endpoints.isEmpty()) {
            throw new FleetInputException("endpoints " + endpoints + "; accepted: one or more etcd client URLs");
        }
        for (String e : endpoints) {
            if (e == null || !e.matches("https?://[^\\s/]+(:\\d+)?/?")) {
                throw new FleetInputException("endpoint '" + e + "' is not accepted; accepted: http://HOST:PORT");
            }
        }
        endpoints = List.copyOf(endpoints);
        Etcd.checkName("service", service);
        Etcd.checkName("host", host);
        Etcd.checkName("host group", hostGroup);
        if (window == null || window.toMillis() < 10 || window.toMillis() > 3_600_000) {
            throw new FleetInputException("window " + window + "; accepted: 10 ms .. 1 h");
        }
        if (leaseTtl == null || leaseTtl.toSeconds() < 1 || leaseTtl.toSeconds() > 300) {
            throw new FleetInputException("leaseTtl " + leaseTtl + "; accepted: 1 s .. 5 min");
        }
    }

    /**
     * A config with a 1 s window and a 3 s lease.
     *
     * @param endpoints etcd client URLs
     * @param service   the fleet's name
     * @param host      this host's id
     * @param hostGroup its host group
     * @return the config
     * @throws FleetInputException naming a value that is not accepted
     */
    public static FleetConfig of(List<String> endpoints, String service, String host, String hostGroup) {
        return new FleetConfig(endpoints, service, host, hostGroup, Duration.ofSeconds(1), Duration.ofSeconds(3));
    }

    /**
     * The same config with another window.
     *
     * @param w the window
     * @return a new config
     */
    public FleetConfig withWindow(Duration w) {
        return new FleetConfig(endpoints, service, host, hostGroup, w, leaseTtl);
    }

    /**
     * The same config with another host id and group (simulated fleets).
     *
     * @param h     the host id
     * @param group the host group
     * @return a new config
     */
    public FleetConfig withHost(String h, String group) {
        return new FleetConfig(endpoints, service, h, group, window, leaseTtl);
    }
}
