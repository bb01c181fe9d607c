package dev.reuseport;

import dev.reuseport.testkit.ChildJvm;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A group served by group.serve is handed to a new process under load: every request is answered (by the
 * old process's loops until the hand-off, the new one's after), and the old process's loops drain what
 * they hold and end, leaving no loop thread behind.
 */
@Tag("kernel")
@Timeout(120)
class ServeHandoffTest {
    @Test
    void servedGroupHandedToANewProcessUnderLoadLosesNothingAndOldLoopsEnd() throws Exception {
        Path dir = Files.createTempDirectory("rp-serve-handoff",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path ctl = dir.resolve("ctl");
        Child old = new Child("old", ctl.toString());
        Child fresh = null;
        try {
            // the new JVM starts beside the old one and takes the group over at the go, under load
            fresh = new Child("new", ctl.toString());
            String ready = old.await("READY ");
            assertThat(ready).as("old process ready").isNotNull();
            int port = Integer.parseInt(ready.split(" ")[1]);
            try (ServeLoad load = new ServeLoad(port, 6, 1_000_000)) {
                // the load is on before the hand-off: the old process has answered some of it (was a fixed 1 s)
                assertThat(ServeLoad.await(() -> load.answered.get() >= 200, 20_000))
                        .as("the old process answered 200 requests before the hand-off").isTrue();
                long before = load.answered.get();
                assertThat(fresh.await("STARTED")).as("new process started").isNotNull();
                fresh.process.getOutputStream().write((port + "\n").getBytes(StandardCharsets.US_ASCII));
                fresh.process.getOutputStream().flush();
                assertThat(fresh.await("READY ")).as("new process ready").isNotNull().contains("slots=[0, 1, 2, 3]");
                String drained = old.await("DRAINED ");
                assertThat(drained).as("old process drained").isNotNull()
                        .contains("ended=true", "loops=0", "threads=0", "failures=0");
                // and after it: requests go on being answered once the old process drained (was a fixed 1 s)
                long atDrain = load.answered.get();
                assertThat(ServeLoad.await(() -> load.answered.get() >= atDrain + 200, 20_000))
                        .as("200 more requests answered after the old process drained").isTrue();
                load.close();
                assertThat(load.errors).as("requests not answered").isEmpty();
                assertThat(load.answered.get()).isGreaterThan(before).isEqualTo(load.sent.get());
                System.out.println("hand-off under load: " + load.answered.get() + " answered; old: " + drained);
            }
            assertThat(old.process.waitFor(20, TimeUnit.SECONDS)).isTrue();
            assertThat(old.process.exitValue()).isZero();
        } finally {
            for (Child c : new Child[] {old, fresh}) {
                if (c != null) {
                    c.process.getOutputStream().close();
                    if (!c.process.waitFor(10, TimeUnit.SECONDS)) {
                        c.process.destroyForcibly();
                    }
                }
            }
            Files.deleteIfExists(ctl);
            Files.deleteIfExists(dir);
        }
    }

    private static final class Child {
        final Process process;
        final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

        Child(String... args) throws IOException {
            List<String> cmd = ChildJvm.javaCommand(ServeHandoffScenario.class, args);
            process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            Thread t = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    String l;
                    while ((l = r.readLine()) != null) {
                        System.out.println("[" + args[0] + "] " + l);
                        lines.add(l);
                    }
                } catch (IOException e) {
                    // the child went away
                }
            });
            t.setDaemon(true);
            t.start();
        }

        String await(String prefix) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60); // a JVM start took over 30 s at load 25
            while (System.nanoTime() < deadline) {
                String l = lines.poll(100, TimeUnit.MILLISECONDS);
                if (l != null && l.startsWith(prefix)) {
                    return l;
                }
            }
            return null;
        }
    }
}
