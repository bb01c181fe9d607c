package dev.reuseport.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Under a real systemd booted in a container (scripts/systemd-test.sh --check): socket activation of the
 * docs/ops units (a .socket with ReusePort=yes), then the echo service (Type=notify, its sockets in the fd
 * store) restarted once with systemctl and killed once with kill -9 under load: the restart loses no
 * connection, the kill only those the killed process had accepted and not yet answered. The suite runs the short check only, on the JDK 25 run; the full run (20 restarts, 5 kills)
 * is {@code scripts/systemd-test.sh --bench}. Booting takes seconds, but making the container's root
 * (mmdebstrap) takes minutes: where it was not made beforehand ({@code scripts/systemd-test.sh --prepare})
 * the test skips and says so.
 */
class SystemdBootTest {
    private static final Path ROOT = Path.of(System.getenv().getOrDefault("REUSEPORT_SYSTEMD_ROOT",
            "/var/tmp/reuseport-systemd-root"));

    @Test
    void echoServiceSurvivesRestartsAndKillNineUnderARealSystemd() throws Exception {
        assumeTrue(Runtime.version().feature() >= 22, "the systemd check runs once, on the JDK 22+ run of the suite");
        Path jar = OpsTesting.examplesJar();
        assumeTrue(jar != null, "target/reuseport-examples.jar not built (run through mvn verify)");
        assumeTrue("0".equals(new String(new ProcessBuilder("id", "-u").start().getInputStream().readAllBytes(),
                StandardCharsets.UTF_8).trim()), "booting systemd in a container needs root");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/systemd-nspawn")), "systemd-nspawn is not installed "
                + "(Debian package systemd-container; scripts/env.sh installs it)");
        assumeTrue(Files.exists(ROOT.resolve(".reuseport-ready")), "no container root at " + ROOT + ": run "
                + "scripts/systemd-test.sh --prepare once (mmdebstrap, several minutes), then the suite boots systemd in it");
        Path script = Path.of("..", "scripts", "systemd-test.sh").toAbsolutePath().normalize();
        Process p = new ProcessBuilder(List.of("bash", script.toString(), "--check", "--jar", jar.toString()))
                .redirectErrorStream(true).start();
        byte[][] out = new byte[1][];
        Thread reader = new Thread(() -> {
            try {
                out[0] = p.getInputStream().readAllBytes();
            } catch (java.io.IOException e) {
                out[0] = e.toString().getBytes(StandardCharsets.UTF_8);
            }
        });
        reader.start();
        if (!p.waitFor(180, TimeUnit.SECONDS)) {
            p.destroy(); // the script's trap stops the container
            p.waitFor(30, TimeUnit.SECONDS);
        }
        reader.join(30_000);
        String o = out[0] == null ? "" : new String(out[0], StandardCharsets.UTF_8);
        System.out.println(o);
        assumeTrue(p.exitValue() != 2, "systemd-test.sh cannot run here: " + o);
        // a blocking socket from the .socket unit hung the serving loop after its first accept
        assertTrue(o.contains("socket activation: ok"), o);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("RESULT systemd restarts=1 kill9=1 conn_failed=(\\d+) "
                + "conn_ok=\\d+ failed_in_restarts=(\\d+) failed_in_kill9=(\\d+)").matcher(o);
        assertTrue(m.find(), o);
        assertEquals("0", m.group(2), "a systemctl restart must lose nothing: " + o);
        // kill -9 loses only what the process had accepted and not answered: at most one per client thread;
        // what waited in the accept queue is served by the next process
        assertTrue(Integer.parseInt(m.group(3)) <= dev.reuseport.examples.bench.harness.ConnLoad.CLIENTS, o);
    }
}
