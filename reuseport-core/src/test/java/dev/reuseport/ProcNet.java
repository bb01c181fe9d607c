package dev.reuseport;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** What the kernel says is listening, read from /proc/net/tcp and /proc/net/tcp6 (this netns). */
final class ProcNet {
    private ProcNet() {
    }

    /** TCP sockets in state LISTEN on local port {@code port}, any address, both families. */
    static int listeners(int port) throws IOException {
        String hex = String.format(":%04X", port);
        int n = 0;
        for (String f : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            Path p = Path.of(f);
            if (!Files.exists(p)) {
                continue;
            }
            for (String line : Files.readAllLines(p)) {
                String[] c = line.trim().split("\\s+");
                if (c.length > 3 && c[1].endsWith(hex) && c[3].equals("0A")) {
                    n++;
                }
            }
        }
        return n;
    }

    /** Bound UDP sockets on local port {@code port}, both families. */
    static int udpSockets(int port) throws IOException {
        String hex = String.format(":%04X", port);
        int n = 0;
        for (String f : List.of("/proc/net/udp", "/proc/net/udp6")) {
            Path p = Path.of(f);
            if (!Files.exists(p)) {
                continue;
            }
            for (String line : Files.readAllLines(p)) {
                String[] c = line.trim().split("\\s+");
                if (c.length > 3 && c[1].endsWith(hex)) {
                    n++;
                }
            }
        }
        return n;
    }
}
