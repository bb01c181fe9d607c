package dev.reuseport.spring;

import dev.reuseport.Policy;
import dev.reuseport.ReuseportGroup;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * The {@code reuseport.*} properties: the group the starter opens and what serves it. Every setter checks
 * its value, so a bad one fails the application start with the property, the value and what is accepted.
 */
@ConfigurationProperties("reuseport")
public class ReuseportProperties {
    /** Whether the starter opens a group at all. */
    private boolean enabled = true;
    /** Address the group's sockets bind (an IP literal). */
    private String address = "0.0.0.0";
    /** Port of the group; unset: server.port (and 0 there: a free port). */
    private Integer port;
    /** Number of workers (one listening socket and one event loop each), 1..256. */
    private int workers = Math.min(Runtime.getRuntime().availableProcessors(), ReuseportGroup.MAX_WORKERS);
    /** Listen backlog of each worker's socket, 1..65535. */
    private int backlog = 1024;
    /** Steering policy: kernel-hash, round-robin, consistent, sticky, cpu, weighted:W0,W1,... */
    private String policy = "kernel-hash";
    /** Web server settings. */
    private final Web web = new Web();
    /** Metrics settings. */
    private final Metrics metrics = new Metrics();
    /** Actuator endpoint settings. */
    private final Endpoint endpoint = new Endpoint();
    /** Control socket and hand-off settings. */
    private final Control control = new Control();

    /** The defaults; Spring binds the properties onto them. */
    public ReuseportProperties() {
    }

    /**
     * Whether the starter opens a group at all.
     *
     * @return true (the default) to open the group
     */
    public boolean isEnabled() {
        return enabled;
    }

    /**
     * Sets whether the starter opens a group.
     *
     * @param enabled false to leave everything to the application
     */
    public void setEnabled(boolean enabled) {
        this.enabled = enabled;
    }

    /**
     * The address the group binds.
     *
     * @return an IP literal
     */
    public String getAddress() {
        return address;
    }

    /**
     * Sets the address the group binds.
     *
     * @param address an IPv4 or IPv6 literal (no host name lookup)
     */
    public void setAddress(String address) {
        ReuseportGroup.tcp().address(address); // the builder's check names the value
        this.address = address;
    }

    /**
     * The group's port.
     *
     * @return the port, or null to use {@code server.port}
     */
    public Integer getPort() {
        return port;
    }

    /**
     * Sets the group's port.
     *
     * @param port 0..65535 (0: a free port), or null for {@code server.port}
     */
    public void setPort(Integer port) {
        if (port != null) {
            ReuseportGroup.tcp().port(port);
        }
        this.port = port;
    }

    /**
     * The number of workers.
     *
     * @return 1..256
     */
    public int getWorkers() {
        return workers;
    }

    /**
     * Sets the number of workers.
     *
     * @param workers 1..{@value ReuseportGroup#MAX_WORKERS}
     * @throws IllegalArgumentException naming the value and the accepted range
     */
    public void setWorkers(int workers) {
        if (workers < 1 || workers > ReuseportGroup.MAX_WORKERS) {
            throw new IllegalArgumentException("reuseport.workers=" + workers + " is out of range; accepted: 1.."
                    + ReuseportGroup.MAX_WORKERS);
        }
        this.workers = workers;
    }

    /**
     * The listen backlog of each socket.
     *
     * @return 1..65535
     */
    public int getBacklog() {
        return backlog;
    }

    /**
     * Sets the listen backlog of each socket.
     *
     * @param backlog 1..{@value ReuseportGroup#MAX_BACKLOG}
     */
    public void setBacklog(int backlog) {
        ReuseportGroup.tcp().backlog(backlog);
        this.backlog = backlog;
    }

    /**
     * The steering policy's spec.
     *
     * @return a spec {@link Policy#parse} accepts
     */
    public String getPolicy() {
        return policy;
    }

    /**
     * Sets the steering policy.
     *
     * @param policy kernel-hash, round-robin, consistent, sticky, cpu or weighted:W0,W1,...
     * @throws IllegalArgumentException an unknown spec, named with what is accepted
     */
    public void setPolicy(String policy) {
        try {
            Policy.parse(policy);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("reuseport.policy=" + policy + ": " + e.getMessage(), e);
        }
        this.policy = policy;
    }

    /**
     * The web server settings.
     *
     * @return {@code reuseport.web.*}
     */
    public Web getWeb() {
        return web;
    }

    /**
     * The metrics settings.
     *
     * @return {@code reuseport.metrics.*}
     */
    public Metrics getMetrics() {
        return metrics;
    }

    /**
     * The Actuator endpoint settings.
     *
     * @return {@code reuseport.endpoint.*}
     */
    public Endpoint getEndpoint() {
        return endpoint;
    }

    /**
     * The control socket and hand-off settings.
     *
     * @return {@code reuseport.control.*}
     */
    public Control getControl() {
        return control;
    }

    /**
     * {@code reuseport.control.*}: the operator's control socket ({@code ctl}) and the cross-process hand-off
     * through it: a new application started with {@code take-over} on the same path receives the running
     * one's sockets, program and maps, and the old one's group closes (its health goes DOWN).
     */
    public static class Control {
        /** Unix socket path of the control socket (ctl status, resize, restart, policy, handoff); unset: none. */
        private String path;
        /** Whether to take the group over from the application serving the control socket at path, at start. */
        private boolean takeOver;

        /** The default: no control socket. */
        public Control() {
        }

        /**
         * The control socket's path.
         *
         * @return an absolute path, or null for no control socket
         */
        public String getPath() {
            return path;
        }

        /**
         * Sets the control socket's path.
         *
         * @param path an absolute path in a directory of this user's that others cannot write, or null
         * @throws IllegalArgumentException a relative or blank path, named with what is accepted
         */
        public void setPath(String path) {
            if (path != null && (path.isBlank() || !java.nio.file.Path.of(path).isAbsolute())) {
                throw new IllegalArgumentException("reuseport.control.path=" + path + " is not accepted; accepted: "
                        + "an absolute path in a directory of this user's that others cannot write");
            }
            this.path = path;
        }

        /**
         * Whether the group is taken over from the application serving {@link #getPath()}.
         *
         * @return false (the default): the group is opened anew
         */
        public boolean isTakeOver() {
            return takeOver;
        }

        /**
         * Sets whether the group is taken over at start: its sockets, steering program and maps arrive from
         * the application serving the control socket at {@code reuseport.control.path}, which then lets go;
         * when the hand-off fails, the group opens from the other properties instead (joining the old
         * group's port first when the port is fixed, so no connection is refused). The control socket is
         * then served here.
         *
         * @param takeOver true to take over (needs {@code reuseport.control.path})
         */
        public void setTakeOver(boolean takeOver) {
            this.takeOver = takeOver;
        }
    }

    /** {@code reuseport.web.*}: WebFlux's Reactor Netty server on the group. */
    public static class Web {
        /** Whether WebFlux's Reactor Netty server serves the group's sockets. */
        private boolean enabled = true;

        /** The default: WebFlux serves the group. */
        public Web() {
        }

        /**
         * Whether WebFlux serves the group.
         *
         * @return true (the default) when Reactor Netty serves the group's sockets
         */
        public boolean isEnabled() {
            return enabled;
        }

        /**
         * Sets whether WebFlux serves the group.
         *
         * @param enabled false to open the group without serving it through WebFlux
         */
        public void setEnabled(boolean enabled) {
            this.enabled = enabled;
        }
    }

    /** {@code reuseport.metrics.*}: the Micrometer binder. */
    public static class Metrics {
        /** Longest a sampled window is reused by the Micrometer meters (about the scrape interval). */
        private Duration refresh = Duration.ofSeconds(10);

        /** The default: 10 s. */
        public Metrics() {
        }

        /**
         * How long a sampled window is reused.
         *
         * @return the refresh interval
         */
        public Duration getRefresh() {
            return refresh;
        }

        /**
         * Sets how long a sampled window is reused.
         *
         * @param refresh a positive duration
         */
        public void setRefresh(Duration refresh) {
            if (refresh == null || refresh.isNegative() || refresh.isZero()) {
                throw new IllegalArgumentException("reuseport.metrics.refresh=" + refresh + " is not accepted; "
                        + "accepted: a positive duration, e.g. 10s");
            }
            this.refresh = refresh;
        }
    }

    /** {@code reuseport.endpoint.*}: the Actuator endpoint. */
    public static class Endpoint {
        /** Whether the endpoint's write operations (policy, fallback) act; off: they answer 403. */
        private boolean writesEnabled;

        /** The default: read-only. */
        public Endpoint() {
        }

        /**
         * Whether write operations act.
         *
         * @return false (the default): the endpoint is read-only
         */
        public boolean isWritesEnabled() {
            return writesEnabled;
        }

        /**
         * Sets whether write operations act.
         *
         * @param writesEnabled true to let the endpoint change the policy and fall back
         */
        public void setWritesEnabled(boolean writesEnabled) {
            this.writesEnabled = writesEnabled;
        }
    }
}
