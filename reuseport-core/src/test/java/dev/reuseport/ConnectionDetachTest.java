package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 15, Low: after {@link Connection#detach()} the object leaves no usable descriptor behind: its I/O
 * calls fail with ClosedChannelException instead of reading from a number that is now the adapter's
 * (and may be another socket once the adapter closes it), and close() leaves the number open. Failed
 * before the fix: the read after detach returned the peer's byte.
 */
@Tag("kernel")
@Timeout(30)
class ConnectionDetachTest {

    @Test
    void aDetachedConnectionRefusesIoAndLeavesTheNumberToItsNewOwner() throws Exception {
        try (ReuseportGroup g = ReuseportGroup.tcp().address(TestTraffic.LO).workers(1).open();
             Socket client = new Socket(TestTraffic.LO, g.localAddress().getPort())) {
            client.getOutputStream().write(7);
            Connection c = g.workers().get(0).accept(Duration.ofSeconds(5));
            assertThat(c).isNotNull();
            int n = c.detach();
            assertThat(c.isOpen()).isFalse();
            assertThatThrownBy(() -> c.read(ByteBuffer.allocate(1))).isInstanceOf(ClosedChannelException.class);
            assertThatThrownBy(() -> c.write(ByteBuffer.wrap(new byte[] {1})))
                    .isInstanceOf(ClosedChannelException.class);
            c.close();
            Path self = Path.of("/proc/self/fd/" + n);
            assertThat(Files.readSymbolicLink(self).toString()).as("the number, still open for its owner")
                    .startsWith("socket:");
            dev.reuseport.sys.internal.Sys.close(n);
        }
    }
}
