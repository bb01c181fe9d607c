package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import jdk.jfr.consumer.RecordingStream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Handlers on virtual threads under load never pin their carrier: every wait on a ServedConnection parks
 * in Java (no blocking native call on a virtual thread). The JDK reports a virtual thread that parks while
 * pinned as a jdk.VirtualThreadPinned JFR event (what -Djdk.tracePinnedThreads printed before JDK 24,
 * which removed that flag); this test records them, with no threshold, while serving.
 */
@Tag("kernel")
class ServeVirtualThreadTest {
    @Test
    void virtualThreadHandlersUnderLoadNeverPinTheirCarrier() throws Exception {
        assumeTrue(Runtime.version().feature() >= 21,
                "virtual threads need JDK 21+; this JVM is " + Runtime.version() + " (the jnr suite on 17 skips this)");
        ExecutorService vt = (ExecutorService) java.util.concurrent.Executors.class
                .getMethod("newVirtualThreadPerTaskExecutor").invoke(null);
        List<String> pinned = new CopyOnWriteArrayList<>();
        try (RecordingStream rs = new RecordingStream()) {
            rs.enable("jdk.VirtualThreadPinned").withThreshold(java.time.Duration.ZERO).withStackTrace();
            rs.onEvent("jdk.VirtualThreadPinned", e -> pinned.add(e.getDuration() + " " + e.getStackTrace()));
            rs.startAsync();
            // a handler that waits for its request in two halves, so every connection parks at least once
            ConnectionHandler slowEcho = c -> {
                Thread.sleep(1);
                ServeLoad.ECHO_LINE.handle(c);
            };
            try (ReuseportGroup g = ReuseportGroup.tcp().address(ServeLoad.LO).workers(4).backlog(1024).open();
                 Serving s = g.serve(slowEcho, vt);
                 ServeLoad load = new ServeLoad(g.localAddress().getPort(), 16, 150)) {
                load.awaitDone();
                assertThat(load.errors).isEmpty();
                assertThat(load.answered.get()).isEqualTo(16 * 150);
                // a reader that must wait: the client sends its line late
                try (java.net.Socket late = new java.net.Socket(ServeLoad.LO, g.localAddress().getPort())) {
                    late.getOutputStream().write('a');
                    Thread.sleep(50);
                    late.getOutputStream().write("b\n".getBytes());
                    late.setSoTimeout(5000);
                    assertThat(new String(late.getInputStream().readNBytes(3))).isEqualTo("ab\n");
                }
                assertThat(s.failures()).isZero();
            }
            Thread.sleep(1500); // let the stream deliver what was recorded
        } finally {
            vt.shutdownNow();
            vt.awaitTermination(5, TimeUnit.SECONDS);
        }
        assertThat(pinned).as("virtual threads pinned while parked").isEmpty();
    }
}
