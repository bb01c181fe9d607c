package dev.reuseport.spring;

import dev.reuseport.ReuseportGroup;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * Health of a group: DOWN when it is closed (handed off or shut down), when no worker serves, or when its
 * controller holds FALLBACK (the kernel hash in force after a failure); UP otherwise, with the workers,
 * port, policy and control state as details.
 */
public final class ReuseportHealthIndicator implements HealthIndicator {
    private final ReuseportGroup group;

    /**
     * An indicator for one group.
     *
     * @param group the group
     */
    public ReuseportHealthIndicator(ReuseportGroup group) {
        this.group = group;
    }

    @Override
    public Health health() {
        if (group.isClosed()) {
            return Health.down().withDetail("reason", "the group is closed (handed off or shut down)").build();
        }
        int n = group.workers().size();
        String state = group.controlState();
        Health.Builder b = n == 0 ? Health.down().withDetail("reason", "no worker serves")
                : "FALLBACK".equals(state) ? Health.down().withDetail("reason", "the controller holds FALLBACK")
                : Health.up();
        return b.withDetail("workers", n).withDetail("port", group.localAddress().getPort())
                .withDetail("policy", group.policy().spec()).withDetail("state", state).build();
    }
}
