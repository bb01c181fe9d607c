package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStreamReader;
import java.io.Reader;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import jdk.jfr.Configuration;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A recording made with the shipped {@code reuseport.jfc} holds an event for every membership change,
 * hand-off step, fallback and watchdog removal, the audit entries and the periodic per-worker samples.
 */
@Tag("kernel")
@Timeout(120)
class ReuseportJfrEventsTest {

    @Test
    void recordingWithTheShippedSettingsHoldsEveryOperatingEvent() throws Exception {
        Configuration config;
        try (Reader r = new InputStreamReader(ReuseportEvents.class.getResourceAsStream("reuseport.jfc"),
                StandardCharsets.UTF_8)) {
            config = Configuration.create(r);
        }
        Path file = Files.createTempFile("reuseport", ".jfr");
        Path dir = Files.createTempDirectory("rp-jfr", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        try (Recording rec = new Recording(config)) {
            rec.start();
            try (ReuseportGroup g = ReuseportGroup.tcp().address(TestTraffic.LO).workers(2).backlog(64).open()) {
                Worker added = g.addWorker();
                g.removeWorker(added.slot());
                g.restart();
                g.fallbackToKernelHash("jfr test");
                // the watchdog: slot 1 accepted once, then nobody serves it while connections queue there
                g.worker(1).accept(Duration.ofMillis(5));
                List<Socket> clients = new ArrayList<>();
                try (AutoCloseable watch = g.watchdog(Duration.ofMillis(50))) {
                    for (int i = 0; i < 40 && g.slots().length == 2; i++) {
                        clients.add(new Socket(TestTraffic.LO, g.localAddress().getPort()));
                        Thread.sleep(20);
                    }
                    for (int i = 0; i < 100 && g.slots().length == 2; i++) {
                        Thread.sleep(20);
                    }
                } finally {
                    for (Socket s : clients) {
                        s.close();
                    }
                }
                assertThat(g.slots()).as("the watchdog removed the stalled worker").containsExactly(0);
                Thread.sleep(1500); // at least one period of the per-worker sample
                // a hand-off within this process: both sides' steps
                try (ControlSocket cs = ControlSocket.serve(g, dir.resolve("ctl"), false);
                     ReuseportGroup taken = ReuseportGroup.takeOver(dir.resolve("ctl"), null)) {
                    assertThat(taken.slots()).containsExactly(0);
                }
            }
            rec.stop();
            rec.dump(file);
        } finally {
            Files.deleteIfExists(dir.resolve("ctl"));
            Files.deleteIfExists(dir);
        }
        try {
            List<RecordedEvent> events = RecordingFile.readAllEvents(file).stream()
                    .filter(e -> e.getEventType().getName().startsWith("dev.reuseport.")).collect(Collectors.toList());
            Map<String, List<RecordedEvent>> byType = events.stream()
                    .collect(Collectors.groupingBy(e -> e.getEventType().getName()));
            assertThat(byType.keySet()).contains("dev.reuseport.MembershipChange", "dev.reuseport.HandoffStep",
                    "dev.reuseport.Fallback", "dev.reuseport.WatchdogRemoval", "dev.reuseport.Audit",
                    "dev.reuseport.WorkerSample", "dev.reuseport.Restart");
            assertThat(byType.get("dev.reuseport.MembershipChange")).extracting(e -> e.getString("change"))
                    .contains("add-worker", "remove-worker", "restart");
            assertThat(byType.get("dev.reuseport.HandoffStep")).extracting(e -> e.getString("side") + ":"
                    + e.getString("step")).contains("old:header", "old:fds", "old:layout", "old:confirmed",
                    "new:header", "new:fds", "new:layout", "new:ready", "old:handoff", "new:takeover");
            assertThat(byType.get("dev.reuseport.Fallback")).extracting(e -> e.getString("reason")).contains("jfr test");
            RecordedEvent removal = byType.get("dev.reuseport.WatchdogRemoval").get(0);
            assertThat(removal.getInt("slot")).isEqualTo(1);
            assertThat(removal.getLong("stallMillis")).isEqualTo(50);
            assertThat(byType.get("dev.reuseport.WorkerSample")).anyMatch(e -> e.getInt("slot") == 0
                    && e.getString("protocol").equals("TCP") && e.getInt("queueLimit") > 0);
        } finally {
            Files.deleteIfExists(file);
        }
    }
}
