package dev.reuseport.examples.bench.harness;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.channels.DatagramChannel;
import java.util.ArrayList;
import java.util.List;

/** UDP client flows: IPv4 sockets bound to their own ephemeral ports (a flow per source port). */
public final class Flows {
    private Flows() {
    }

    /** {@code n} sockets bound to {@code address}, blocking or not; all closed again when one fails. */
    public static List<DatagramChannel> open(InetAddress address, int n, boolean blocking) throws IOException {
        List<DatagramChannel> cs = new ArrayList<>(n);
        try {
            for (int i = 0; i < n; i++) {
                DatagramChannel ch = DatagramChannel.open(StandardProtocolFamily.INET);
                cs.add(ch);
                ch.bind(new InetSocketAddress(address, 0));
                ch.configureBlocking(blocking);
            }
        } catch (IOException | RuntimeException e) {
            closeAll(cs);
            throw e;
        }
        return cs;
    }

    /** Closes each; a failed close of a client socket is ignored (nothing to do about it). */
    public static void closeAll(List<DatagramChannel> cs) {
        for (DatagramChannel ch : cs) {
            try {
                ch.close();
            } catch (IOException e) {
                // nothing to do about a failed close of a client socket
            }
        }
    }
}
