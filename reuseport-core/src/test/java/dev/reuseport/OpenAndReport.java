package dev.reuseport;

import dev.reuseport.testkit.Descriptors;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A child-process entry point: opens a group ({@code tcp|udp address workers [--fd-headroom N]}) and
 * prints what happened (the exception class and message, or the bound address) and how many
 * descriptors leaked. With {@code --fd-headroom N} it first fills the descriptor table up to
 * RLIMIT_NOFILE and frees exactly N, so that the open runs out of descriptors part-way.
 */
public final class OpenAndReport {
    private OpenAndReport() {
    }

    public static void main(String[] args) throws Exception {
        warmUp();
        List<FileChannel> filler = new ArrayList<>();
        if (args.length > 4 && args[3].equals("--fd-headroom")) {
            long pid = ProcessHandle.current().pid();
            int limit = Descriptors.count() + 200;
            Process p = new ProcessBuilder("prlimit", "--pid", Long.toString(pid), "--nofile=" + limit + ":" + limit)
                    .inheritIO().start();
            if (p.waitFor() != 0) {
                throw new IllegalStateException("prlimit failed");
            }
            try {
                while (filler.size() < 10_000) {
                    filler.add(FileChannel.open(Path.of("/dev/null")));
                }
            } catch (IOException full) {
                // the table is full now
            }
            for (int i = 0; i < Integer.parseInt(args[4]); i++) {
                filler.remove(filler.size() - 1).close();
            }
        }
        int before = Descriptors.count();
        ReuseportGroup.Builder b = args[0].equals("tcp") ? ReuseportGroup.tcp() : ReuseportGroup.udp();
        try (ReuseportGroup g = b.address(args[1]).workers(Integer.parseInt(args[2])).open()) {
            System.out.println("opened " + g.localAddress());
        } catch (Exception e) {
            System.out.println(e.getClass().getSimpleName() + ": " + e.getMessage());
        }
        System.out.println("fds leaked " + (Descriptors.count() - before));
        for (FileChannel f : filler) {
            f.close();
        }
    }

    /** Loads every class and library the measured open may touch, so that lazily opened JARs do not count. */
    private static void warmUp() throws IOException {
        try (ReuseportGroup g = ReuseportGroup.tcp().address("127.0.0.1").workers(1).open()) {
            g.stats();
        }
        try (ReuseportGroup g = ReuseportGroup.udp().address("192.0.2.1").workers(1).open()) {
            throw new IllegalStateException("192.0.2.1 should not be local: " + g);
        } catch (AddressNotAvailableException expected) {
            // the failure path's classes are loaded now
        }
        new ReuseportException("warm-up", null).getMessage();
    }
}
