package dev.reuseport.examples.bench.scenarios;

import dev.reuseport.examples.bench.harness.ConnLoad;
import dev.reuseport.examples.bench.harness.Progress;
import dev.reuseport.examples.bench.harness.Result;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code bench systemd}: run under a booted systemd ({@code scripts/systemd-test.sh} boots one in a
 * container) with the unit files of {@code docs/ops}. First socket activation: the
 * {@code reuseport-echo-activated.socket} unit (ReusePort=yes, a ListenStream= per worker) starts its
 * service on the first connection, which adopts the sockets. Then the fd store: the same load as
 * {@code bench restart} (8 client threads, a connection per request) runs against
 * {@code reuseport-echo.service} while it is restarted {@code --restarts} times with
 * {@code systemctl restart} and killed {@code --kills} times with {@code kill -9} of its main process; the
 * sockets (and steering maps) wait in systemd's fd store, connections in their accept queues. Last line:
 * {@code RESULT systemd restarts=<n> kill9=<n> conn_failed=<n> ...}; exit status 0 when nothing failed.
 */
@Command(name = "systemd", mixinStandardHelpOptions = true,
        description = "Under a booted systemd: socket activation, then systemctl restart and kill -9 of the echo "
                + "service under load; connections failed (target 0).")
public final class BenchSystemd implements Callable<Integer> {
    /** How long a restart (new main process, READY=1) may take. */
    static final long RESTART_TIMEOUT_MILLIS = 60_000;
    /** A client's connect and read timeout: longer than a restart. */
    static final int CLIENT_TIMEOUT_MILLIS = 90_000;

    @Spec
    CommandSpec spec;

    @Option(names = "--restarts", defaultValue = "20", description = "systemctl restart count (default ${DEFAULT-VALUE})")
    int restarts;

    @Option(names = "--kills", defaultValue = "5", description = "kill -9 of the main process (default ${DEFAULT-VALUE})")
    int kills;

    @Option(names = "--unit", defaultValue = "reuseport-echo.service", description = "the fd-store service "
            + "(default ${DEFAULT-VALUE})")
    String unit;

    @Option(names = "--port", defaultValue = "18080", description = "its port (default ${DEFAULT-VALUE})")
    int port;

    @Option(names = "--socket-unit", defaultValue = "reuseport-echo-activated.socket", description = "the socket "
            + "activation unit, or '-' to skip that phase (default ${DEFAULT-VALUE})")
    String socketUnit;

    @Option(names = "--socket-port", defaultValue = "18081", description = "its port (default ${DEFAULT-VALUE})")
    int socketPort;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Progress progress = new Progress(spec.commandLine().getErr(), "systemd");
        if (restarts < 0 || kills < 0) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--restarts " + restarts + " --kills "
                    + kills + ": accepted: 0 or more each");
        }
        String state = run("systemctl", "is-system-running").trim();
        if (!state.equals("running") && !state.equals("degraded")) {
            out.println("not under a booted systemd (systemctl is-system-running: " + state + "); run "
                    + "scripts/systemd-test.sh, which boots one in a container");
            return 2;
        }
        String activation = "skipped";
        if (!socketUnit.equals("-")) {
            progress.phase("socket activation: " + socketUnit);
            activation = socketActivation(out);
            out.println("socket activation: " + activation);
        }
        progress.phase("start " + unit);
        run("systemctl", "start", unit);
        long firstPid = mainPid();
        out.println(unit + " started, main pid " + firstPid + ", " + show("NFileDescriptorStore") + " descriptors stored");
        // a client waits out a restart (a JVM start, seconds on a loaded machine) in the accept queue
        ConnLoad load = new ConnLoad(new InetSocketAddress("127.0.0.1", port), true, CLIENT_TIMEOUT_MILLIS);
        load.start(TimeUnit.MINUTES.toMillis(30));
        int restarted = 0;
        int killed = 0;
        long worstMillis = 0;
        long[] failedBy = new long[2]; // failures that ended while a restart (0) or a kill -9 (1) was recovering
        int operations = restarts + kills;
        boolean[] killAt = new boolean[operations]; // the kills spread evenly among the restarts
        for (int k = 0; k < kills; k++) {
            killAt[(int) ((k + 1L) * operations / (kills + 1))] = true;
        }
        for (int i = 0; i < operations; i++) {
            Thread.sleep(500);
            boolean kill = killAt[i];
            long before = mainPid();
            long failed0 = load.failed.sum();
            long t0 = System.nanoTime();
            if (kill) {
                ProcessHandle.of(before).ifPresent(ProcessHandle::destroyForcibly);
                killed++;
            } else {
                run("systemctl", "restart", unit);
                restarted++;
            }
            long after = awaitNewMainPid(before);
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            Thread.sleep(300);
            failedBy[kill ? 1 : 0] += load.failed.sum() - failed0;
            worstMillis = Math.max(worstMillis, millis);
            progress.phase((kill ? "kill -9 " : "restart ") + (i + 1) + "/" + operations + ": pid " + before + " -> "
                    + after + " in " + millis + " ms; ok " + load.ok.sum() + " failed " + load.failed.sum());
            if (after < 0) {
                out.println("the service did not come back within " + RESTART_TIMEOUT_MILLIS + " ms: "
                        + show("ActiveState") + "/" + show("SubState"));
                break;
            }
        }
        Thread.sleep(500);
        load.stop();
        String stored = show("NFileDescriptorStore");
        run("systemctl", "stop", unit);
        Map<String, Long> reasons = load.snapshotReasons();
        out.println("requests ok " + load.ok.sum() + ", failed " + load.failed.sum() + (reasons.isEmpty() ? ""
                : " " + reasons) + "; slowest return to service " + worstMillis + " ms; fd store held " + stored);
        Result r = new Result("systemd").put("restarts", restarted).put("kill9", killed)
                .put("conn_failed", load.failed.sum()).put("conn_ok", load.ok.sum())
                .put("failed_in_restarts", failedBy[0]).put("failed_in_kill9", failedBy[1])
                .put("socket_activation", activation.startsWith("failed") ? "failed" : activation)
                .put("worst_return_ms", worstMillis);
        r.print(out);
        out.flush();
        boolean ok = load.failed.sum() == 0 && restarted == restarts && killed == kills
                && !activation.startsWith("failed");
        return ok ? 0 : 1;
    }

    /** Starts the socket unit, connects (which starts its service), checks the echo; stops both. */
    private String socketActivation(PrintWriter out) throws IOException, InterruptedException {
        String service = socketUnit.replaceAll("\\.socket$", ".service");
        try {
            run("systemctl", "start", socketUnit);
            String listening = run("systemctl", "show", "-p", "Listen", "--value", socketUnit).trim();
            out.println(socketUnit + " listening on: " + listening.replace('\n', ' '));
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", socketPort), 30_000);
                s.setSoTimeout(30_000);
                OutputStream o = s.getOutputStream();
                o.write('x');
                o.flush();
                s.shutdownOutput(); // the echo answers once the request is complete
                int b = s.getInputStream().read();
                long pid = Long.parseLong(run("systemctl", "show", "-p", "MainPID", "--value", service).trim());
                return b == 'x' && pid > 0 ? "ok" : "failed: echo " + b + ", main pid " + pid;
            }
        } catch (IOException e) {
            return "failed: " + e.getMessage() + "; " + run("systemctl", "status", "--no-pager", "-n", "20", service)
                    .replace('\n', '|');
        } finally {
            run("systemctl", "stop", socketUnit, service);
        }
    }

    private long awaitNewMainPid(long before) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(RESTART_TIMEOUT_MILLIS);
        while (System.nanoTime() < deadline) {
            long pid = mainPid();
            if (pid > 0 && pid != before && show("ActiveState").equals("active")) {
                return pid;
            }
            Thread.sleep(50);
        }
        return -1;
    }

    private long mainPid() throws IOException, InterruptedException {
        return Long.parseLong(show("MainPID"));
    }

    private String show(String property) throws IOException, InterruptedException {
        return run("systemctl", "show", "-p", property, "--value", unit).trim();
    }

    private static String run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of(command)).redirectErrorStream(true).start();
        byte[] out;
        try (InputStream in = p.getInputStream()) {
            out = in.readAllBytes();
        }
        if (!p.waitFor(RESTART_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS)) {
            p.destroyForcibly();
        }
        return new String(out, StandardCharsets.UTF_8);
    }
}
