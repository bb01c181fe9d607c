package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Bad input to serve/serveDatagrams: null or throwing handlers, an executor that rejects, a handler that
 * blocks forever, a handler that closes its connection twice. Each is a typed error naming the value, or
 * a logged and counted failure after which the worker goes on serving; no descriptor is left behind.
 */
@Tag("kernel")
class ServeBadInputTest {
    @Test
    void nullArgumentsAndWrongProtocolAreTypedErrors() throws Exception {
        Set<String> before = ServeLoad.census();
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try (ReuseportGroup t = ReuseportGroup.tcp().address(ServeLoad.LO).workers(2).open();
             ReuseportGroup u = ReuseportGroup.udp().address(ServeLoad.LO).workers(2).open()) {
            assertThatThrownBy(() -> t.serve(null, pool)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("handler null").hasMessageContaining("accepted");
            assertThatThrownBy(() -> t.serve(ServeLoad.ECHO_LINE, null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("executor null");
            assertThatThrownBy(() -> t.serve(ServeLoad.ECHO_LINE, pool, Duration.ofSeconds(-1)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("drain PT-1S");
            assertThatThrownBy(() -> u.serve(ServeLoad.ECHO_LINE, pool))
                    .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("serveDatagrams");
            assertThatThrownBy(() -> t.serveDatagrams(d -> { }))
                    .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("serve(");
            assertThatThrownBy(() -> u.serveDatagrams(null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("handler null");
            try (Serving s = t.serve(ServeLoad.ECHO_LINE, pool)) {
                assertThatThrownBy(() -> t.serve(ServeLoad.ECHO_LINE, pool))
                        .isInstanceOf(IllegalStateException.class).hasMessageContaining("already has socket listener");
                assertThat(s.servedSlots()).containsExactly(0, 1);
            }
            ReuseportGroup closed = ReuseportGroup.tcp().address(ServeLoad.LO).workers(1).open();
            closed.close();
            assertThatThrownBy(() -> closed.serve(ServeLoad.ECHO_LINE, pool)).isInstanceOf(GroupClosedException.class);
        } finally {
            pool.shutdownNow();
        }
        assertThat(ServeLoad.census()).isEqualTo(before);
    }

    @Test
    void throwingHandlerRejectingExecutorAndDoubleCloseAreCountedAndServingGoesOn() throws Exception {
        Set<String> before = ServeLoad.census();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        java.util.concurrent.atomic.AtomicInteger n = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicBoolean reject = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.Executor flaky = r -> {
            if (reject.get()) {
                throw new RejectedExecutionException("full");
            }
            pool.execute(r);
        };
        ConnectionHandler h = c -> {
            int i = n.incrementAndGet();
            if (i % 3 == 0) {
                throw new IllegalStateException("handler bug " + i);
            }
            ServeLoad.ECHO_LINE.handle(c);
            c.close();
            c.close(); // closing twice is harmless
        };
        try (ReuseportGroup g = ReuseportGroup.tcp().address(ServeLoad.LO).workers(2).open();
             Serving s = g.serve(h, flaky)) {
            int port = g.localAddress().getPort();
            ServeLoad probe = new ServeLoad(port, 0, 0);
            int ok = 0;
            for (int i = 0; i < 30; i++) {
                if (probe.request(port, "r" + i)) {
                    ok++;
                }
            }
            assertThat(ok).isEqualTo(20);
            assertThat(ServeLoad.await(() -> s.failures() == 10, 2000)).isTrue();
            reject.set(true);
            assertThat(probe.request(port, "rejected")).isFalse();
            assertThat(ServeLoad.await(() -> s.rejected() == 1, 2000)).isTrue();
            reject.set(false);
            n.set(0);
            assertThat(probe.request(port, "after")).as("serving goes on").isTrue();
        } finally {
            pool.shutdownNow();
        }
        assertThat(ServeLoad.census()).isEqualTo(before);
    }

    @Test
    void handlerBlockedForeverIsAbandonedAtTheDrainDeadlineAndNothingLeaks() throws Exception {
        Set<String> before = ServeLoad.census();
        ExecutorService pool = Executors.newCachedThreadPool();
        CountDownLatch entered = new CountDownLatch(1);
        ConnectionHandler stuck = c -> {
            ByteBuffer b = ByteBuffer.allocate(256);
            while (b.position() == 0 || b.get(b.position() - 1) != '\n') {
                if (c.read(b) < 0) {
                    return;
                }
            }
            if (b.get(0) == 'x') {
                entered.countDown();
                new CountDownLatch(1).await(); // forever, until interrupted
            }
            b.flip();
            c.write(b);
        };
        String prefix;
        try (ReuseportGroup g = ReuseportGroup.tcp().address(ServeLoad.LO).workers(2).open()) {
            prefix = "reuseport-serve-" + g.localAddress().getPort();
            Serving s = g.serve(stuck, pool, Duration.ofMillis(300));
            int port = g.localAddress().getPort();
            java.net.Socket hung = new java.net.Socket(ServeLoad.LO, port);
            hung.getOutputStream().write("x\n".getBytes());
            assertThat(entered.await(5, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            ServeLoad probe = new ServeLoad(port, 0, 0);
            for (int i = 0; i < 10; i++) {
                assertThat(probe.request(port, "meanwhile" + i)).as("the worker goes on serving").isTrue();
            }
            s.close();
            assertThat(s.abandoned()).isEqualTo(1);
            hung.setSoTimeout(5000);
            assertThat(hung.getInputStream().read()).as("the stuck connection was closed").isEqualTo(-1);
            hung.close();
        } finally {
            pool.shutdownNow();
        }
        assertThat(ServeLoad.awaitThreads(prefix, 0, 5000)).isZero();
        assertThat(ServeLoad.census()).isEqualTo(before);
    }

    @Test
    void aRemovedWorkerSaysItWasRemovedNotThatTheGroupClosed() throws Exception {
        try (ReuseportGroup g = ReuseportGroup.tcp().address(ServeLoad.LO).workers(3).open()) {
            Worker w = g.worker(2);
            assertThat(w.isRemoved()).isFalse();
            g.removeWorker(2);
            assertThat(w.isRemoved()).isTrue();
            assertThatThrownBy(() -> w.accept(Duration.ofMillis(10))).isInstanceOf(WorkerRemovedException.class)
                    .isInstanceOf(GroupClosedException.class) // loops written to end on that still end
                    .hasMessageContaining("worker 2 was removed").hasMessageNotContaining("open a new group");
            g.close();
            assertThatThrownBy(() -> g.worker(0).accept(Duration.ofMillis(10))).isInstanceOf(GroupClosedException.class)
                    .isNotInstanceOf(WorkerRemovedException.class);
        }
    }

    @Test
    void controllerSettingsBuilderStartsFromTheDefaultsAndChecksValues() {
        Controller.Settings s = Controller.Settings.builder().coolDown(Duration.ofSeconds(5)).windows(4).build();
        assertThat(s.coolDown()).isEqualTo(Duration.ofSeconds(5));
        assertThat(s.windows()).isEqualTo(4);
        assertThat(s.window()).isEqualTo(Controller.Settings.defaults().window());
        assertThat(s.toBuilder().build()).isEqualTo(s);
        assertThatThrownBy(() -> Controller.Settings.builder().windows(0).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("windows 0");
    }
}
