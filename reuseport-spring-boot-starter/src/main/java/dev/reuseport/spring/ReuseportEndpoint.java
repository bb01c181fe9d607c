package dev.reuseport.spring;

import dev.reuseport.Controller;
import dev.reuseport.Policy;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.WorkerStats;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;
import org.springframework.boot.actuate.endpoint.annotation.Selector;
import org.springframework.boot.actuate.endpoint.annotation.WriteOperation;
import org.springframework.boot.actuate.endpoint.web.WebEndpointResponse;
import org.springframework.lang.Nullable;

/**
 * The {@code reuseport} Actuator endpoint, mirroring {@code ctl}: {@code GET /actuator/reuseport} (status),
 * {@code GET /actuator/reuseport/{metrics|policy|audit|status}}, and, only with
 * {@code reuseport.endpoint.writes-enabled=true}, {@code POST /actuator/reuseport/policy} with
 * {@code {"value":"consistent"}} and {@code POST /actuator/reuseport/fallback} (optional
 * {@code {"value":"reason"}}). Writes answer 403 while disabled.
 */
@Endpoint(id = "reuseport")
public final class ReuseportEndpoint {
    private final ReuseportGroup group;
    private final boolean writes;

    /**
     * An endpoint for one group.
     *
     * @param group  the group
     * @param writes whether write operations act
     */
    public ReuseportEndpoint(ReuseportGroup group, boolean writes) {
        this.group = group;
        this.writes = writes;
    }

    /**
     * The group's status, as {@code ctl status} reports it.
     *
     * @return address, workers, policy, control state, steering, versions, restarts
     */
    @ReadOperation
    public Map<String, Object> status() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("address", group.localAddress().toString());
        m.put("protocol", group.protocol().name());
        m.put("closed", group.isClosed());
        m.put("workers", group.workers().size());
        m.put("slots", group.slots());
        m.put("policy", group.policy().spec());
        m.put("state", group.controlState());
        m.put("steering", group.capabilities().steering().toString());
        m.put("steeringReason", group.capabilities().steeringReason());
        m.put("tableVersion", group.tableVersion());
        m.put("generation", group.generation());
        m.put("restarts", group.restarts());
        return m;
    }

    /**
     * One part of the status: {@code status}, {@code metrics} (per-worker counters and queue depths),
     * {@code policy} or {@code audit} (the last 50 entries).
     *
     * @param part which part
     * @return its content, or 404 for another name
     * @throws IOException the kernel could not be read
     */
    @ReadOperation
    public WebEndpointResponse<Object> part(@Selector String part) throws IOException {
        switch (part) {
            case "status":
                return new WebEndpointResponse<>(status());
            case "metrics":
                List<Map<String, Object>> rows = new ArrayList<>();
                for (WorkerStats s : group.stats()) {
                    Map<String, Object> r = new LinkedHashMap<>();
                    r.put("slot", s.slot());
                    r.put("accepted", s.accepted());
                    r.put("received", s.received());
                    r.put("sent", s.sent());
                    r.put("queueDepth", s.queueDepth());
                    r.put("queueLimit", s.queueLimit());
                    rows.add(r);
                }
                return new WebEndpointResponse<>(rows);
            case "policy":
                return new WebEndpointResponse<>(Map.of("policy", group.policy().spec(), "state",
                        group.controlState()));
            case "audit":
                return new WebEndpointResponse<>(group.audit().tail(50));
            default:
                return new WebEndpointResponse<>(Map.of("error", "unknown part '" + part + "'; accepted: status, "
                        + "metrics, policy, audit"), WebEndpointResponse.STATUS_NOT_FOUND);
        }
    }

    /**
     * A change, as {@code ctl policy <spec>} and {@code ctl fallback [reason]} make it; 403 unless
     * {@code reuseport.endpoint.writes-enabled=true}.
     *
     * @param action {@code policy} or {@code fallback}
     * @param value  the policy spec, or the fallback's reason (optional)
     * @return what changed, 400 for a bad request, 403 while writes are disabled
     * @throws IOException the change failed in the kernel
     */
    @WriteOperation
    public WebEndpointResponse<Map<String, Object>> change(@Selector String action, @Nullable String value)
            throws IOException {
        if (!writes) {
            return new WebEndpointResponse<>(Map.of("error", "the reuseport endpoint is read-only; accepted: set "
                    + "reuseport.endpoint.writes-enabled=true to allow " + action), 403);
        }
        switch (action) {
            case "policy":
                Policy p;
                try {
                    p = Policy.parse(value);
                } catch (IllegalArgumentException e) {
                    return new WebEndpointResponse<>(Map.of("error", e.getMessage()),
                            WebEndpointResponse.STATUS_BAD_REQUEST);
                }
                group.policy(p);
                return new WebEndpointResponse<>(Map.of("policy", group.policy().spec()));
            case "fallback":
                String reason = value == null || value.isBlank() ? "actuator" : value;
                Controller c = group.controller();
                if (c != null) {
                    c.to(Controller.State.FALLBACK, reason);
                } else {
                    group.fallback("actuator: " + reason);
                }
                return new WebEndpointResponse<>(Map.of("state", group.controlState(), "policy",
                        group.policy().spec()));
            default:
                return new WebEndpointResponse<>(Map.of("error", "unknown action '" + action + "'; accepted: policy, "
                        + "fallback"), WebEndpointResponse.STATUS_BAD_REQUEST);
        }
    }
}
