package dev.reuseport.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code ctl top} driven in a real terminal: tmux runs it against a live echo server under load, the test
 * reads the screen (capture-pane) and quits it with a key.
 */
@Tag("kernel")
@Timeout(180)
class CtlTopTmuxTest {

    @Test
    void topShowsStatePolicyAndEveryWorkerRefreshingAndQuitsOnQ() throws Exception {
        String tmux = OpsTesting.tool("tmux");
        assumeTrue(tmux != null, "tmux not installed (Debian package 'tmux'): cannot drive a terminal");
        Path jar = OpsTesting.examplesJar();
        assumeTrue(jar != null, "target/reuseport-examples.jar not built (run through mvn verify)");
        Path dir = Files.createTempDirectory("rp-top", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        String server = "rp-top-" + ProcessHandle.current().pid();
        Path ctl = dir.resolve("ctl");
        AtomicBoolean stop = new AtomicBoolean();
        try (OpsTesting.EchoChild echo = new OpsTesting.EchoChild(jar, "--workers", "4", "--protocol", "tcp",
                "--candidate", "round-robin", "--control", ctl.toString())) {
            Thread load = new Thread(() -> {
                for (int i = 0; i < 3000 && !stop.get(); i++) {
                    try {
                        echo.load(5);
                        Thread.sleep(20);
                    } catch (Exception e) {
                        return;
                    }
                }
            }, "top-load");
            load.setDaemon(true);
            load.start();
            List<String> top = new ArrayList<>(OpsTesting.javaJar(jar));
            top.addAll(List.of("ctl", "--socket", ctl.toString(), "top", "--interval", "0.5"));
            String shell = String.join(" ", top) + "; echo TOP-EXITED $?; sleep 60";
            String[] started = OpsTesting.run(List.of(tmux, "-L", server, "new-session", "-d", "-x", "150", "-y", "40",
                    shell), 20);
            assertThat(started[0]).as(started[1]).isEqualTo("0");
            String screen = "";
            Pattern row = Pattern.compile("^([0-3])\\s+([#.]{20})\\s+(\\d+)%\\s+([\\d.]+)\\s", Pattern.MULTILINE);
            long deadline = System.nanoTime() + 60_000_000_000L;
            boolean seen = false;
            while (System.nanoTime() < deadline && !seen) {
                Thread.sleep(500);
                screen = OpsTesting.run(List.of(tmux, "-L", server, "capture-pane", "-p"), 20)[1];
                Matcher m = row.matcher(screen);
                int rows = 0;
                double rate = 0;
                while (m.find()) {
                    rows++;
                    rate += Double.parseDouble(m.group(4));
                }
                seen = rows == 4 && rate > 0 && screen.contains("window 0.");
            }
            assertThat(seen).as("4 worker rows with traffic on screen:\n%s", screen).isTrue();
            assertThat(screen).containsPattern("reuseport top  tcp port " + echo.port + "  state (OBSERVE|SHADOW|ENFORCE)"
                    + "  policy \\S+ \\(table v\\d+, ");
            assertThat(screen).contains("slot", "share", "rate/s", "queue", "drops", "p99");
            String first = screen;
            // the view refreshes every 0.5 s: look until it changed, at most 5 s (was a fixed 1.5 s)
            String later = first;
            for (long until = System.nanoTime() + 5_000_000_000L; later.equals(first) && System.nanoTime() < until; ) {
                Thread.sleep(250);
                later = OpsTesting.run(List.of(tmux, "-L", server, "capture-pane", "-p"), 20)[1];
            }
            assertThat(later).as("the view refreshes").isNotEqualTo(first);
            OpsTesting.run(List.of(tmux, "-L", server, "send-keys", "q", "Enter"), 20);
            String end = "";
            for (int i = 0; i < 40 && !end.contains("TOP-EXITED"); i++) {
                Thread.sleep(250);
                end = OpsTesting.run(List.of(tmux, "-L", server, "capture-pane", "-p"), 20)[1];
            }
            assertThat(end).as("after q:\n%s", end).contains("quit").contains("TOP-EXITED 0");
        } finally {
            stop.set(true);
            // our own tmux server only (-L), which ends the shell and its sleep
            OpsTesting.run(List.of(tmux, "-L", server, "kill-server"), 20);
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
