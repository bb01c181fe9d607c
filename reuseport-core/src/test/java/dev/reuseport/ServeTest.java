package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** group.serve and serveDatagrams on the real kernel: echo over loopback, every worker served. */
@Tag("kernel")
class ServeTest {
    @Test
    void tcpEchoAnswersEveryRequestOnEveryWorker() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try (ReuseportGroup g = ReuseportGroup.tcp().address(ServeLoad.LO).workers(4).backlog(1024).open();
             Serving s = g.serve(ServeLoad.ECHO_LINE, pool)) {
            String prefix = "reuseport-serve-" + g.localAddress().getPort();
            assertThat(ServeLoad.threadsNamed(prefix)).hasSize(4);
            assertThat(s.servedSlots()).containsExactly(0, 1, 2, 3);
            try (ServeLoad load = new ServeLoad(g.localAddress().getPort(), 8, 100)) {
                load.awaitDone();
                assertThat(load.errors).isEmpty();
                assertThat(load.answered.get()).isEqualTo(800);
            }
            for (WorkerStats st : g.stats()) {
                assertThat(st.accepted()).as("slot " + st.slot()).isPositive();
            }
            ServeLoad.await(() -> s.handled() == 800, 2000);
            assertThat(s.handled()).isEqualTo(800);
            assertThat(s.failures()).isZero();
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void udpEchoInlineAnswersEveryDatagram() throws Exception {
        try (ReuseportGroup g = ReuseportGroup.udp().address(ServeLoad.LO).workers(4).open();
             Serving s = g.serveDatagrams(d -> d.reply(d.payload()));
             java.net.DatagramSocket c = new java.net.DatagramSocket(0, ServeLoad.LO)) {
            c.setSoTimeout(5000);
            byte[] in = new byte[64];
            for (int i = 0; i < 200; i++) {
                byte[] msg = ("d" + i).getBytes(StandardCharsets.US_ASCII);
                c.send(new java.net.DatagramPacket(msg, msg.length, g.localAddress()));
                java.net.DatagramPacket p = new java.net.DatagramPacket(in, in.length);
                c.receive(p);
                assertThat(new String(in, 0, p.getLength(), StandardCharsets.US_ASCII)).isEqualTo("d" + i);
            }
            ServeLoad.await(() -> s.handled() == 200, 2000);
            assertThat(s.handled()).isEqualTo(200);
        }
    }
}
