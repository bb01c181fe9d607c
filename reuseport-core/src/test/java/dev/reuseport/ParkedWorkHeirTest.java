package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Work parked in a worker's in-memory queue (connections a restart took off the previous socket when no
 * migrate program moves them) goes to a surviving worker, the heir, when that worker is removed, instead
 * of being abandoned; closing the group closes what is still parked (issue 15, Medium).
 */
@Tag("kernel")
@Timeout(60)
class ParkedWorkHeirTest {

    private static List<Socket> clients(int port, int n) throws IOException {
        List<Socket> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Socket s = new Socket();
            s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
            out.add(s);
        }
        return out;
    }

    @Test
    void connectionsParkedOnARemovedWorkerAreServedByTheHeir() throws Exception {
        try (ReuseportGroup g = ReuseportGroup.tcp().address("127.0.0.1").workers(2).migration(false).open()) {
            int port = g.localAddress().getPort();
            List<Socket> cs = clients(port, 12);
            g.restart(); // no migrate program: each old socket's queue is taken into its worker's memory
            g.removeWorker(1); // as the watchdog does with a dead worker after a restart
            Worker heir = g.worker(0);
            int accepted = 0;
            long until = System.nanoTime() + 5_000_000_000L;
            while (accepted < 12 && System.nanoTime() < until) {
                try (Connection c = heir.accept(Duration.ofMillis(50))) {
                    if (c != null) {
                        c.writeFully(ByteBuffer.wrap(new byte[] {7}));
                        accepted++;
                    }
                }
            }
            int answered = 0;
            for (Socket s : cs) {
                try (s) {
                    s.setSoTimeout(1000);
                    if (s.getInputStream().read() == 7) {
                        answered++;
                    }
                } catch (IOException e) {
                    // not answered
                }
            }
            System.out.println("parked on a removed worker: " + answered + " of 12 answered; audit: "
                    + g.audit().entries().stream().filter(e -> e.contains("remove-worker")).toList());
            assertThat(answered).as("queued clients answered after their worker was removed").isEqualTo(12);
        }
    }

    @Test
    void closingTheGroupClosesWhatIsStillParked() throws Exception {
        List<Socket> cs;
        try (ReuseportGroup g = ReuseportGroup.tcp().address("127.0.0.1").workers(2).migration(false).open()) {
            cs = clients(g.localAddress().getPort(), 6);
            g.restart();
        }
        int closed = 0;
        for (Socket s : cs) {
            try (s) {
                s.setSoTimeout(1000);
                if (s.getInputStream().read() < 0) {
                    closed++;
                }
            } catch (SocketTimeoutException e) {
                // still open on the server side: leaked
            } catch (IOException e) {
                closed++; // reset
            }
        }
        assertThat(closed).as("parked connections closed with the group").isEqualTo(6);
    }
}
