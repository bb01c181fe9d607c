package dev.reuseport.examples;

import dev.reuseport.Policy;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.WorkerStats;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code echo}: an echo server on a TCP and a UDP group. Without {@code --serve} it drives a short
 * built-in load against itself, prints the capability report and the per-worker table, and exits 0 when
 * every request was echoed and every worker served some.
 */
@Command(name = "echo", mixinStandardHelpOptions = true, exitCodeOnInvalidInput = CtlCommand.USAGE,
        description = "Echo server on a reuseport group (TCP and UDP); a self-driven demo unless --serve.")
final class EchoCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--workers", defaultValue = "8", description = "workers per group (default ${DEFAULT-VALUE})")
    int workers;

    @Option(names = "--port", defaultValue = "0", description = "port; 0 picks a free one (default ${DEFAULT-VALUE})")
    int port;

    @Option(names = "--address", defaultValue = "127.0.0.1", description = "address to bind (default ${DEFAULT-VALUE})")
    String address;

    @Option(names = "--protocol", defaultValue = "both", description = "tcp, udp or both (default ${DEFAULT-VALUE})")
    String protocol;

    @Option(names = "--policy", defaultValue = "kernel-hash", description = "steering policy: kernel-hash, "
            + "round-robin, consistent, sticky, cpu, weighted:W0,W1,... (default ${DEFAULT-VALUE})")
    String policy;

    @Option(names = "--serve", description = "keep serving until interrupted instead of running the demo load")
    boolean serve;

    @Option(names = "--http", description = "answer each TCP request with a minimal HTTP/1.1 200")
    boolean http;

    @Option(names = "--control", description = "serve the operator control socket at PATH (its directory must be "
            + "0700 and yours); the UDP group's socket is PATH-udp")
    java.nio.file.Path control;

    @Option(names = "--take-over", description = "take the groups over from the server whose control socket is "
            + "PATH (then serve PATH ourselves)")
    java.nio.file.Path takeOver;

    @Option(names = "--candidate", description = "run the control state machine (OBSERVE, SHADOW, ENFORCE, "
            + "FALLBACK) with this policy as the one to shadow and enforce, e.g. round-robin")
    String candidate;

    @Option(names = "--cool-down", defaultValue = "60", description = "with --candidate: seconds FALLBACK is held "
            + "before the controller returns to OBSERVE by itself; 0 holds it until an operator releases it "
            + "(default ${DEFAULT-VALUE})")
    int coolDown;

    @Option(names = "--metrics-http", paramLabel = "HOST:PORT", description = "serve Prometheus metrics of the "
            + "groups at http://HOST:PORT/metrics (off unless given), e.g. 127.0.0.1:9464 or [::1]:9464")
    String metricsHttp;

    @Option(names = "--audit", description = "append the audit trail (JSON lines) to this file")
    java.nio.file.Path auditFile;

    @Option(names = "--drain-seconds", defaultValue = "30", description = "after handing off, how long in-flight "
            + "connections may take to finish (default ${DEFAULT-VALUE})")
    int drainSeconds;

    @Option(names = "--systemd", description = "under systemd (Type=notify): adopt the sockets it passed (a .socket "
            + "unit with ReusePort=yes, or the fd store after a restart), keep them in its fd store (FDSTORE=1), "
            + "send READY=1/STOPPING=1/STATUS= and ping the watchdog; needs --serve and --protocol tcp or udp")
    boolean systemd;

    @Option(names = "--connections", defaultValue = "2000", description = "demo: TCP connections (default ${DEFAULT-VALUE})")
    int connections;

    @Option(names = "--flows", defaultValue = "2000", description = "demo: UDP flows (default ${DEFAULT-VALUE})")
    int flows;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        boolean tcp = !protocol.equalsIgnoreCase("udp");
        boolean udp = !protocol.equalsIgnoreCase("tcp");
        if (!protocol.matches("(?i)tcp|udp|both")) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--protocol " + protocol + " is not accepted; accepted: tcp, udp, both");
        }
        Policy pol;
        try {
            pol = Policy.parse(policy);
        } catch (IllegalArgumentException e) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--policy: " + e.getMessage());
        }
        java.net.InetSocketAddress metricsAt = metricsHttp == null ? null : hostPort(metricsHttp);
        dev.reuseport.MetricsEndpoint endpoint = null;
        ReuseportGroup tg = null;
        ReuseportGroup ug = null;
        EchoServer ts = null;
        EchoServer us = null;
        try {
            if (systemd && (!serve || (tcp && udp) || takeOver != null)) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--systemd needs --serve and "
                        + "--protocol tcp or udp, without --take-over (got --protocol " + protocol + ")");
            }
            if (takeOver != null && !serve) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--take-over needs --serve");
            }
            if (takeOver != null && port == 0) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--take-over needs --port (the "
                        + "port the old server serves, where the fallback group opens if the hand-off fails); got "
                        + "--port 0");
            }
            if (workers < 1 || workers > ReuseportGroup.MAX_WORKERS) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--workers " + workers
                        + " is out of range; accepted: 1.." + ReuseportGroup.MAX_WORKERS);
            }
            if (tcp) {
                ReuseportGroup.Builder b = ReuseportGroup.tcp().address(address).port(port).workers(workers).policy(pol);
                tg = takeOver != null ? ReuseportGroup.takeOver(takeOver, b) : systemd ? dev.reuseport.Systemd.open(b)
                        : b.open();
                ts = new EchoServer(tg, http, serve);
            }
            if (udp) {
                int p = tg != null ? tg.localAddress().getPort() : port;
                ReuseportGroup.Builder b = ReuseportGroup.udp().address(address).port(p).workers(workers).policy(pol);
                ug = takeOver != null ? ReuseportGroup.takeOver(udpPath(takeOver, tcp), b)
                        : systemd ? dev.reuseport.Systemd.open(b) : b.open();
                us = new EchoServer(ug, false, false);
            }
            ReuseportGroup any = tg != null ? tg : ug;
            if (auditFile != null) {
                for (ReuseportGroup g : new ReuseportGroup[] {tg, ug}) {
                    if (g != null) {
                        g.audit().appendTo(auditFile);
                    }
                }
            }
            if (candidate != null) {
                if (coolDown < 0) {
                    throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--cool-down " + coolDown
                            + " is negative; accepted: 0 (hold until an operator) or more seconds");
                }
                dev.reuseport.Controller.start(any, Policy.parse(candidate), dev.reuseport.Controller.Settings.builder()
                        .coolDown(java.time.Duration.ofSeconds(coolDown)).build());
            }
            if (metricsAt != null) {
                try {
                    endpoint = dev.reuseport.MetricsEndpoint.start(metricsAt, tg != null && ug != null
                            ? dev.reuseport.PrometheusExporter.of(tg, ug) : dev.reuseport.PrometheusExporter.of(any));
                } catch (dev.reuseport.AddressInUseException e) {
                    spec.commandLine().getErr().println("error: --metrics-http " + metricsHttp + ": " + e.getMessage());
                    return 1;
                }
                out.println("metrics http://" + hostPort(endpoint.address()) + "/metrics");
            }
            out.println("reuseport echo on " + any.localAddress() + (tcp ? " tcp" : "") + (udp ? " udp" : "")
                    + ", " + workers + " workers" + (http ? ", HTTP responses" : ""));
            out.print(any.capabilities().toTable());
            if (ug != null && tg != null && !ug.capabilities().steering().equals(tg.capabilities().steering())) {
                out.println("udp steering " + ug.capabilities().steering() + " (" + ug.capabilities().steeringReason() + ")");
            }
            for (EchoServer s : new EchoServer[] {ts, us}) {
                if (s != null) {
                    out.println((s == ts ? "tcp" : "udp") + " receive path " + s.receivePath());
                }
            }
            out.flush();
            if (serve) {
                java.nio.file.Path ctlPath = control != null ? control : takeOver;
                dev.reuseport.ControlSocket tc = null;
                dev.reuseport.ControlSocket uc = null;
                if (ctlPath != null) {
                    try {
                        if (tg != null) {
                            EchoServer server = ts;
                            tc = dev.reuseport.ControlSocket.serve(tg, ctlPath, tookOver(tg))
                                    .onWorkersAdded(server::serveAdded);
                        }
                        if (ug != null) {
                            EchoServer server = us;
                            uc = dev.reuseport.ControlSocket.serve(ug, udpPath(ctlPath, tcp), tookOver(ug))
                                    .onWorkersAdded(server::serveAdded);
                        }
                    } catch (IllegalArgumentException | IllegalStateException e) {
                        if (tc != null) {
                            tc.close();
                        }
                        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--control: " + e.getMessage());
                    }
                    out.println("control socket " + ctlPath + (tcp && udp ? " (udp: " + udpPath(ctlPath, true) + ")" : ""));
                }
                out.println("READY " + (tg != null ? tg : ug).localAddress().getPort());
                if (systemd) {
                    underSystemd(out, tg != null ? tg : ug, tg != null ? ts : us);
                }
                out.println("serving; Ctrl-C stops");
                out.flush();
                if (tc == null && uc == null) {
                    new CountDownLatch(1).await();
                    return 0;
                }
                // wait until every group was handed to a new process, then let in-flight work finish
                if (tc != null) {
                    while (!tc.awaitHandOff(java.time.Duration.ofSeconds(1))) {
                        // serving
                    }
                }
                if (uc != null) {
                    while (!uc.awaitHandOff(java.time.Duration.ofSeconds(1))) {
                        // serving
                    }
                }
                out.println("handed off; draining for up to " + drainSeconds + " s");
                out.flush();
                if (ts != null) {
                    ts.drain(java.time.Duration.ofSeconds(drainSeconds));
                }
                out.println("drained; exiting");
                out.flush();
                return 0;
            }
            return demo(out, tg, ug);
        } finally {
            if (endpoint != null) {
                endpoint.close();
            }
            if (ts != null) {
                ts.close();
            }
            if (us != null) {
                us.close();
            }
            if (tg != null) {
                tg.close();
            }
            if (ug != null) {
                ug.close();
            }
        }
    }

    /**
     * Keeps the group's sockets (and steering maps) in systemd's fd store, says READY=1 and pings the
     * watchdog; on SIGTERM says STOPPING=1 and lets connections in flight finish, without closing the
     * listeners (systemd keeps them, with whatever waits in their accept queues, for the next process).
     */
    private static void underSystemd(PrintWriter out, ReuseportGroup g, EchoServer server) throws java.io.IOException {
        int stored = dev.reuseport.Systemd.store(g);
        AutoCloseable watchdog = dev.reuseport.Systemd.keepWatchdog();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                dev.reuseport.Systemd.stopping("SIGTERM: finishing connections in flight, listeners stay in the fd store");
                watchdog.close();
                server.serving().close();
            } catch (Exception e) {
                System.err.println("stopping under systemd: " + e.getMessage());
            }
        }, "reuseport-systemd-stop"));
        dev.reuseport.Systemd.ready("serving " + g.workers().size() + " workers on " + g.localAddress()
                + ", policy " + g.policy().spec() + ", " + stored + " descriptors in the fd store");
        out.println("systemd: " + stored + " descriptors stored, READY=1 sent" + (dev.reuseport.Systemd.notifyAvailable()
                ? "" : " (no NOTIFY_SOCKET: not under systemd)"));
    }

    private int demo(PrintWriter out, ReuseportGroup tg, ReuseportGroup ug) throws Exception {
        LoadGenerator.Result tr = null;
        LoadGenerator.Result ur = null;
        if (tg != null) {
            tr = LoadGenerator.tcp(tg.localAddress(), connections, 8, 32, 60);
        }
        if (ug != null) {
            InetSocketAddress target = ug.localAddress();
            ur = LoadGenerator.udp(target, flows, 1, 8, 2000, 60);
        }
        List<WorkerStats> t = tg != null ? tg.stats() : null;
        List<WorkerStats> u = ug != null ? ug.stats() : null;
        out.println();
        out.printf("%-5s %10s %8s %10s %10s %8s %8s%n", "slot", "tcp conns", "share", "queue", "udp dgrams",
                "share", "drops");
        long tsum = t == null ? 0 : t.stream().mapToLong(WorkerStats::accepted).sum();
        long usum = u == null ? 0 : u.stream().mapToLong(WorkerStats::received).sum();
        boolean allServed = true;
        for (int i = 0; i < workers; i++) {
            long ta = t == null ? 0 : t.get(i).accepted();
            long ua = u == null ? 0 : u.get(i).received();
            long drops = (t == null ? 0 : t.get(i).drops()) + (u == null ? 0 : u.get(i).drops());
            allServed &= (t == null || ta > 0) && (u == null || ua > 0);
            out.printf("%-5d %10d %7.1f%% %10s %10d %7.1f%% %8d%n", i, ta, pct(ta, tsum),
                    t == null ? "-" : t.get(i).queueDepth() + "/" + t.get(i).queueLimit(), ua, pct(ua, usum), drops);
        }
        out.printf("%-5s %10d %8s %10s %10d%n", "total", tsum, "", "", usum);
        boolean ok = allServed;
        if (tr != null) {
            out.printf("tcp: %d connections sent, %d echoed, %d failed, %.0f conn/s%n", tr.attempted(), tr.completed(),
                    tr.failed(), tr.rate());
            ok &= tr.failed() == 0 && tsum == tr.attempted();
        }
        if (ur != null) {
            out.printf("udp: %d datagrams sent, %d echoed, %d lost%n", ur.attempted(), ur.completed(), ur.failed());
            ok &= ur.failed() == 0 && usum == ur.attempted();
        }
        out.println(ok ? "OK: every request echoed, counts match, all " + workers + " workers served"
                : "FAILED: see the table (a worker with 0, a lost request, or counts that differ)");
        return ok ? 0 : 1;
    }

    /** {@code HOST:PORT} or {@code [V6]:PORT} to an address; a usage error naming the value otherwise. */
    private java.net.InetSocketAddress hostPort(String v) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?:\\[([0-9A-Fa-f:.]+)]|([^:\\[\\]]+)):(\\d{1,5})")
                .matcher(v);
        String accepted = "; accepted: HOST:PORT with an IP address and a port 0..65535, e.g. 127.0.0.1:9464 or [::1]:9464";
        if (!m.matches() || Integer.parseInt(m.group(3)) > 65535) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--metrics-http " + v + accepted);
        }
        String host = m.group(1) != null ? m.group(1) : m.group(2);
        if (!host.matches("[0-9.]+|[0-9A-Fa-f:.]+")) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--metrics-http " + v
                    + ": host is not an IP address" + accepted);
        }
        try {
            return new java.net.InetSocketAddress(java.net.InetAddress.getByName(host), Integer.parseInt(m.group(3)));
        } catch (java.net.UnknownHostException e) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--metrics-http " + v + accepted);
        }
    }

    private static String hostPort(java.net.InetSocketAddress a) {
        String h = a.getAddress().getHostAddress();
        return (h.contains(":") ? "[" + h + "]" : h) + ":" + a.getPort();
    }

    private static java.nio.file.Path udpPath(java.nio.file.Path p, boolean tcpToo) {
        return tcpToo ? p.resolveSibling(p.getFileName() + "-udp") : p;
    }

    private static double pct(long n, long total) {
        return total == 0 ? 0 : 100.0 * n / total;
    }

    /**
     * Whether {@code g} came by hand-off (then its control path is taken over from the old server); after
     * a fallback the old server still owns its socket, and it is never replaced.
     */
    private boolean tookOver(ReuseportGroup g) {
        return takeOver != null && g.audit().count("takeover") > 0;
    }
}
