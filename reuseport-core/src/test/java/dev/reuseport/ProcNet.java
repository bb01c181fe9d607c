package dev.reuseport;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** What the kernel says is listening, read from /proc/net/tcp and /proc/net/tcp6 (this netns). */
final class ProcNet {
    private ProcNet() {
    }

    /**
     * TCP sockets in state LISTEN on local port {@code port}, any address, both families. The kernel lists
     * its listening hash before its established hash in both files (tcp_seq_start: listening, then
     * established), so the LISTEN rows are the files' first rows and reading stops at the first row in
     * another state: reading on would walk the whole established hash, which is shared by every network
     * namespace of the machine (262,144 buckets here) and took 70 to 200 ms per read on a busy machine,
     * against under a millisecond for the listening rows. A row in another state before a LISTEN row
     * would be a kernel that lists otherwise, and fails the count loudly rather than hiding a listener.
     */
    static int listeners(int port) throws IOException {
        String hex = String.format(":%04X", port);
        int n = 0;
        for (String f : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            Path p = Path.of(f);
            if (!Files.exists(p)) {
                continue;
            }
            try (BufferedReader r = Files.newBufferedReader(p)) {
                r.readLine(); // the header
                String line;
                while ((line = r.readLine()) != null) {
                    String[] c = line.trim().split("\\s+");
                    if (c.length <= 3) {
                        continue;
                    }
                    if (!c[3].equals("0A")) {
                        break; // the established hash begins: no LISTEN row comes after it
                    }
                    if (c[1].endsWith(hex)) {
                        n++;
                    }
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
