package dev.reuseport.examples.bench.scenarios;

import static dev.reuseport.examples.bench.harness.EtcdCalls.await;
import static dev.reuseport.examples.bench.harness.EtcdCalls.retry;
import static dev.reuseport.examples.bench.harness.FleetNetns.addr;

import dev.reuseport.examples.bench.harness.EtcdCalls;
import dev.reuseport.examples.bench.harness.FleetNetns;
import dev.reuseport.examples.bench.harness.FleetNode;
import dev.reuseport.examples.bench.harness.Result;
import dev.reuseport.fleet.Fleet;
import dev.reuseport.fleet.FleetAgent;
import dev.reuseport.fleet.FleetConfig;
import dev.reuseport.fleet.HostStatus;
import dev.reuseport.fleet.LocalEtcd;
import dev.reuseport.fleet.RolloutCoordinator;
import dev.reuseport.fleet.RolloutPlan;
import dev.reuseport.fleet.RolloutState;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code bench rollout}: a fleet on one machine. A bridge in a namespace this bench creates; 3 etcd members
 * and N hosts, each in its own namespace on a veth pair to the bridge, addresses from 198.18.0.0/15; each
 * host its own JVM serving an echo group under its own load and running a fleet agent; the coordinators
 * and the orchestrator in one more namespace. A good rollout to 100% (with an etcd member killed, a
 * coordinator killed with SIGKILL and a host partitioned along the way), a bad one (a regression on the
 * canary), a fleet fallback, then 1,000 simulated agents in one JVM. Everything stops by pid; the
 * namespaces are deleted at the end.
 */
@Command(name = "rollout", mixinStandardHelpOptions = true,
        description = "Staged rollout and fleet fallback over a real 3-member etcd and N hosts in namespaces.")
public final class BenchRollout implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--hosts", defaultValue = "8", description = "hosts, each its own namespace and JVM (8..40)")
    int hosts;

    @Option(names = "--sims", defaultValue = "1000", description = "simulated agents in one JVM")
    int sims;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        String why = LocalEtcd.unavailabilityCause();
        if (why == null && !"0".equals(FleetNetns.uid())) {
            why = "needs root (network namespaces)";
        }
        if (why != null) {
            out.println("bench rollout cannot run: " + why);
            return 2;
        }
        if (hosts < 8 || hosts > 40) {
            out.println("--hosts " + hosts + "; accepted: 8..40");
            return 64;
        }
        String p = "rpf" + ProcessHandle.current().pid();
        try (FleetNetns net = new FleetNetns(p)) {
            List<String> nodes = new ArrayList<>(List.of("e0", "e1", "e2", "ctl"));
            for (int i = 0; i < hosts; i++) {
                nodes.add("h" + i);
            }
            net.create(nodes);
            return FleetNode.relay(FleetNode.bench(net.exec("ctl"), List.of(), "rollout-run", "--prefix", p,
                    "--hosts", String.valueOf(hosts), "--sims", String.valueOf(sims)), out);
        }
    }

    /** The orchestrator, inside the {@code ctl} namespace. */
    @Command(name = "rollout-run", hidden = true)
    public static final class Run implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--prefix", required = true)
        String prefix;

        @Option(names = "--hosts", defaultValue = "8")
        int hosts;

        @Option(names = "--sims", defaultValue = "1000")
        int sims;

        private PrintWriter out;
        private FleetNetns net;

        private void say(String f, Object... a) {
            out.printf(Locale.ROOT, "[%6.1fs] " + f + "%n", prepend((System.nanoTime() - t0) / 1e9, a));
            out.flush();
        }

        private static Object[] prepend(Object x, Object[] a) {
            Object[] r = new Object[a.length + 1];
            r[0] = x;
            System.arraycopy(a, 0, r, 1, a.length);
            return r;
        }

        private final long t0 = System.nanoTime();

        @Override
        public Integer call() throws Exception {
            out = spec.commandLine().getOut();
            Result res = new Result("rollout").put("hosts", hosts);
            List<Process> hostProcs = new ArrayList<>();
            List<Process> coords = new ArrayList<>();
            // etcd's data on tmpfs: the bench measures the rollout, not this machine's fsync latency
            Path shm = Path.of("/dev/shm");
            Path dir = Files.isDirectory(shm) ? Files.createTempDirectory(shm, "bench-rollout-etcd")
                    : Files.createTempDirectory("bench-rollout-etcd");
            net = new FleetNetns(prefix); // made by the parent: this one only names and links (never closed here)
            LocalEtcd etcd = LocalEtcd.start(List.of(addr("e0"), addr("e1"), addr("e2")),
                    List.of(net.exec("e0"), net.exec("e1"), net.exec("e2")), dir, 2379);
            try {
                return scenario(etcd, res, hostProcs, coords);
            } finally {
                etcd.close();
            }
        }

        private int scenario(LocalEtcd etcd, Result res, List<Process> hostProcs, List<Process> coords) throws Exception {
            String eps = String.join(",", etcd.endpoints());
            say("etcd: 3 members %s", eps);
            try (Fleet fleet = Fleet.connect(etcd.endpoints(), "bench")) {
                for (int i = 0; i < hosts; i++) {
                    hostProcs.add(child(net.exec("h" + i), "rollout-host", "--etcd", eps,
                            "--host", "h" + i, "--group", i < hosts / 2 ? "a" : "b", "--addr", addr("h" + i)));
                }
                await(() -> fleet.statuses().size() == hosts, Duration.ofSeconds(300));
                say("%d hosts publishing (each its own namespace and JVM, echo group under load)", fleet.statuses().size());

                // --- the good rollout: two coordinators at once; a member kill, a coordinator kill -9, a partition
                retry(() -> fleet.start(RolloutPlan.parse("good", "consistent", "ENFORCE", "hosts:h0;group:a;group:b", 2, "")));
                coords.add(child(List.of(), "rollout-coord", "--etcd", eps, "--id", "c1"));
                coords.add(child(List.of(), "rollout-coord", "--etcd", eps, "--id", "c2"));
                await(() -> stage(fleet) >= 0, Duration.ofSeconds(180));
                etcd.kill(2);
                say("good: stage 1 applied by %s; etcd member m2 killed (pid gone)", retry(() -> fleet.rollout().driver()));
                await(() -> stage(fleet) >= 1, Duration.ofSeconds(180));
                boolean memberOk = stage(fleet) >= 1;
                // at once, before group a's gate can pass (m2 restarts later: a restart takes seconds, in which
                // the rollout would run ahead): the driving coordinator killed, a host of the next stage cut off
                String driver = retry(() -> fleet.rollout().driver());
                Process victim = coords.get(driver.equals("c1") ? 0 : 1);
                victim.destroyForcibly();
                victim.waitFor();
                String part = "h" + (hosts - 1);
                net.link(part, false);
                int atKill = stage(fleet);
                say("good: stage 2 applied with m2 down (%s); coordinator %s killed with SIGKILL at stage %d; %s "
                        + "partitioned", memberOk, driver, atKill + 1, part);
                etcd.restart(2);
                say("good: m2 restarted");
                await(() -> stage(fleet) >= 2, Duration.ofSeconds(180));
                String resumedBy = retry(() -> fleet.rollout().driver());
                say("good: stage 3 applied by %s", resumedBy);
                Thread.sleep(4000);
                boolean heldWhilePartitioned = retry(() -> fleet.rollout().running());
                net.link(part, true);
                say("good: while %s was silent the rollout held (%s); link up", part, heldWhilePartitioned);
                await(() -> fleet.statuses().containsKey(part), Duration.ofSeconds(30));
                await(() -> !fleet.rollout().running(), Duration.ofSeconds(90));
                RolloutState good = retry(fleet::rollout);
                Map<String, HostStatus> st = retry(fleet::statuses);
                boolean allEnforce = st.size() == hosts && st.values().stream()
                        .allMatch(s -> s.state().equals("ENFORCE") && s.policy().equals("consistent"));
                HostStatus ph = st.get(part);
                // resumed: the rollout went on after the SIGKILL, and the other coordinator wrote its last step
                boolean resumed = "COMPLETED".equals(good.phase()) && !good.driver().equals(driver) && atKill < 2;
                boolean partitionedSafe = heldWhilePartitioned && ph != null && ph.offlineWindows() > 0;
                say("good: %s; every host ENFORCE consistent: %s; %s reported %d offline windows", good.line(), allEnforce,
                        part, ph == null ? -1 : ph.offlineWindows());
                res.put("good_completed", "COMPLETED".equals(good.phase()) && allEnforce ? 1 : 0);
                for (Process c : coords) {
                    c.destroyForcibly();
                    c.waitFor();
                }

                // --- the bad rollout: round-robin makes setups fail on the canary
                retry(() -> fleet.start(RolloutPlan.parse("bad", "round-robin", "ENFORCE", "hosts:h0;group:a;group:b", 3, "")));
                Set<String> reached = new HashSet<>();
                long[] detected = {0};
                Thread watch = new Thread(() -> {
                    while (detected[0] == 0 || fleetRunning(fleet)) {
                        try {
                            fleet.statuses().values().stream().filter(s -> s.state().equals("ENFORCE")
                                    && s.policy().equals("round-robin")).forEach(s -> reached.add(s.host()));
                            Thread.sleep(20);
                        } catch (Exception e) {
                            return;
                        }
                    }
                });
                watch.setDaemon(true);
                watch.start();
                String phase;
                try (RolloutCoordinator c = fleet.coordinator("c3")) {
                    // the surviving child coordinator may take it first; either drives it to the end
                    phase = c.drive(Duration.ofSeconds(90));
                    detected[0] = c.lastRollbackDetectedNanos();
                }
                RolloutState bad = retry(fleet::rollout);
                long rbStart = detected[0];
                await(() -> fleet.statuses().values().stream().filter(s -> s.hostGroup().equals("a"))
                        .allMatch(s -> s.applied().equals(bad.version())), Duration.ofSeconds(30));
                long rollbackMs = rbStart == 0 ? -1 : (System.nanoTime() - rbStart) / 1_000_000;
                detected[0] = 1;
                watch.join(2000);
                say("bad: %s (%s); reached ENFORCE on %s; rollback done on group a in %d ms from detection", phase,
                        bad.reason(), reached, rollbackMs);
                res.put("bad_reached_hosts", reached.size()).put("rollback_ms", rollbackMs);

                // --- fleet fallback
                long f0 = System.nanoTime();
                String v = retry(() -> fleet.fallback("bench"));
                await(() -> fleet.statuses().values().stream().filter(s -> s.applied().equals(v)
                        && s.policy().equals("kernel-hash")).count() == hosts, Duration.ofSeconds(30));
                long fallbackMs = (System.nanoTime() - f0) / 1_000_000;
                say("fleet fallback: every host on the kernel hash in %d ms", fallbackMs);
                retry(() -> {
                    fleet.release();
                    return 0;
                });
                res.put("fleet_fallback_ms", fallbackMs).put("member_killed_ok", memberOk ? 1 : 0)
                        .put("coordinator_resumed", resumed ? 1 : 0).put("partitioned_safe", partitionedSafe ? 1 : 0);

                // --- stop the hosts: each reports its failed connections
                long connFailed = 0;
                for (Process h : hostProcs) {
                    h.getOutputStream().write("stop\n".getBytes(StandardCharsets.UTF_8));
                    h.getOutputStream().flush();
                }
                for (Process h : hostProcs) {
                    connFailed += readFailed(h);
                }
                res.put("conn_failed", connFailed);
                say("hosts stopped; failed connections across the run: %d", connFailed);
            } finally {
                for (Process c : coords) {
                    c.destroyForcibly();
                    c.waitFor();
                }
                for (Process h : hostProcs) {
                    h.destroyForcibly();
                    h.waitFor();
                }
            }

            // --- 1,000 simulated agents in this JVM
            sim(etcd, res);
            res.print(out);
            return 0;
        }

        private void sim(LocalEtcd etcd, Result res) throws Exception {
            ScheduledExecutorService exec = Executors.newScheduledThreadPool(32, r -> {
                Thread t = new Thread(r, "sim-agent");
                t.setDaemon(true);
                return t;
            });
            List<FleetAgent> agents = new ArrayList<>();
            io.etcd.jetcd.Client client = io.etcd.jetcd.Client.builder().endpoints(etcd.endpoints().toArray(String[]::new))
                    .build();
            try (Fleet fleet = Fleet.connect(etcd.endpoints(), "sim")) {
                // a 5 s reporting window, as docs/fleet.md advises for large fleets (watch events are not windowed)
                FleetConfig base = new FleetConfig(etcd.endpoints(), "sim", "s0", "sim", Duration.ofSeconds(5),
                        Duration.ofSeconds(15));
                for (int i = 0; i < sims; i++) {
                    agents.add(FleetAgent.simulated(base.withHost("s" + i, "g" + (i % 10)), client, exec, 1));
                }
                await(() -> fleet.statuses().size() == sims, Duration.ofSeconds(120));
                say("sim: %d agents publishing (one JVM, one client, own host id and lease each)", fleet.statuses().size());
                long s0 = System.nanoTime();
                fleet.start(RolloutPlan.parse("sim", "consistent", "SHADOW", "percent:100", 1, ""));
                String phase;
                try (RolloutCoordinator c = fleet.coordinator("sim").poll(Duration.ofMillis(200))) {
                    phase = c.drive(Duration.ofSeconds(120));
                }
                long promoteMs = (System.nanoTime() - s0) / 1_000_000;
                say("sim: a one-stage promotion to every agent: %s in %d ms (gate 1 window of 5 s)", phase, promoteMs);
                long f0 = System.nanoTime();
                String v = fleet.fallback("sim");
                await(() -> fleet.statuses().values().stream().filter(s -> s.applied().equals(v)).count() == sims,
                        Duration.ofSeconds(30));
                long fallbackMs = (System.nanoTime() - f0) / 1_000_000;
                long on = fleet.statuses().values().stream().filter(s -> s.applied().equals(v)).count();
                say("sim: fleet fallback reached %d of %d agents in %d ms", on, sims, fallbackMs);
                res.put("sim_agents", on == sims ? sims : on).put("sim_fallback_ms", fallbackMs);
                say("etcd load: %s", EtcdCalls.load(etcd.endpoint(0)));
            } finally {
                agents.parallelStream().forEach(FleetAgent::close);
                exec.shutdownNow();
                client.close();
            }
        }

        private static boolean fleetRunning(Fleet f) {
            RolloutState r = f.rollout();
            return r != null && r.running();
        }

        private static int stage(Fleet f) {
            try {
                RolloutState r = f.rollout();
                return r == null ? -2 : r.stage();
            } catch (RuntimeException e) {
                return -2;
            }
        }

        private long readFailed(Process h) throws IOException, InterruptedException {
            BufferedReader r = new BufferedReader(new InputStreamReader(h.getInputStream(), StandardCharsets.UTF_8));
            String line;
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (System.nanoTime() < end && (line = r.readLine()) != null) {
                if (line.startsWith("CONN_FAILED ")) {
                    String[] w = line.split(" ");
                    say("host %s: %s connections, %s failed", w[2], w[3], w[1]);
                    h.waitFor(10, TimeUnit.SECONDS);
                    return Long.parseLong(w[1]);
                }
            }
            return 1;
        }

        private static Process child(List<String> prefix, String... args) throws IOException {
            return FleetNode.bench(prefix, List.of("-Xmx160m", "-XX:TieredStopAtLevel=1"), args);
        }
    }

    /** A coordinator in its own JVM: drives until the rollout ends (or it is killed). */
    @Command(name = "rollout-coord", hidden = true)
    public static final class Coord implements Callable<Integer> {
        @Option(names = "--etcd", required = true)
        String etcd;

        @Option(names = "--id", required = true)
        String id;

        @Override
        public Integer call() {
            return FleetNode.coordinator(List.of(etcd.split(",")), "bench", id);
        }
    }

    /** A host in its own namespace and JVM: an echo group under its own load, and its fleet agent. */
    @Command(name = "rollout-host", hidden = true)
    public static final class Host implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--etcd", required = true)
        String etcd;

        @Option(names = "--host", required = true)
        String host;

        @Option(names = "--group", required = true)
        String group;

        @Option(names = "--addr", required = true)
        String addr;

        @Override
        public Integer call() throws Exception {
            return FleetNode.host(spec.commandLine().getOut(), List.of(etcd.split(",")), "bench", host, group, addr);
        }
    }
}
