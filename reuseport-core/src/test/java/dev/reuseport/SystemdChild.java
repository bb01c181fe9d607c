package dev.reuseport;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The process systemd (or SystemdTest's stand-in) starts. {@code adopt PROTOCOL PORT WORKERS PASSED}: opens
 * a group with {@link Systemd#open} on 127.0.0.1 and prints what it got, or the error and which of the
 * PASSED descriptors are still open. {@code serve PORT WORKERS}: opens, stores the sockets, says READY=1 and
 * answers each connection with its pid and slot until killed.
 */
public final class SystemdChild {
    private SystemdChild() {
    }

    public static void main(String[] args) throws Exception {
        if (args[0].equals("serve")) {
            serve(Integer.parseInt(args[1]), Integer.parseInt(args[2]));
            return;
        }
        ReuseportGroup.Builder b = (args[1].equals("tcp") ? ReuseportGroup.tcp() : ReuseportGroup.udp())
                .address("127.0.0.1").port(Integer.parseInt(args[2])).workers(Integer.parseInt(args[3]));
        int passed = Integer.parseInt(args[4]);
        try (ReuseportGroup g = Systemd.open(b)) {
            StringBuilder s = new StringBuilder("OPEN port=" + g.localAddress().getPort() + " workers="
                    + g.workers().size());
            for (Worker w : g.workers()) {
                int fd = w.socket().number();
                s.append(" fd").append(fd).append("_cloexec=").append(flag(fd, 02000000)).append("_nonblock=")
                        .append(flag(fd, 04000));
            }
            System.out.println(s);
            // served through the library's serving loop (non-blocking accept until EAGAIN): a blocking
            // passed listener would hang it after the first accept
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newCachedThreadPool();
            try (Serving sv = g.serve(c -> {
                ByteBuffer buf = ByteBuffer.allocate(16);
                c.read(buf, Duration.ofSeconds(5));
                buf.flip();
                c.write(buf, Duration.ofSeconds(5));
            }, pool)) {
                int echoed = 0;
                for (int i = 0; i < 4; i++) {
                    try (java.net.Socket c = new java.net.Socket()) {
                        c.connect(g.localAddress(), 5000);
                        c.setSoTimeout(5000);
                        c.getOutputStream().write('x');
                        c.shutdownOutput();
                        echoed += c.getInputStream().read() == 'x' ? 1 : 0;
                    } catch (IOException e) {
                        System.out.println("SERVE_FAILED " + e);
                    }
                }
                System.out.println("ECHOED " + echoed);
            } finally {
                pool.shutdown(); // its idle threads would keep this JVM alive for a minute
            }
            Process p = new ProcessBuilder("sh", "-c", "echo \"CHILD_ENV [$LISTEN_PID][$LISTEN_FDS][$LISTEN_FDNAMES]\"")
                    .inheritIO().start();
            p.waitFor();
            System.out.println("AGAIN " + Systemd.passed().size());
        } catch (SystemdException e) {
            System.out.println("ERROR " + e.getMessage());
        }
        StringBuilder open = new StringBuilder("STILL_OPEN");
        for (int fd = Systemd.FIRST_FD; fd < Systemd.FIRST_FD + passed; fd++) {
            if (Files.exists(Path.of("/proc/self/fd/" + fd))) {
                open.append(' ').append(fd);
            }
        }
        System.out.println(open);
    }

    /** Whether {@code flag} (O_CLOEXEC 02000000, O_NONBLOCK 04000) is among the descriptor's flags in /proc/self/fdinfo. */
    static boolean flag(int fd, long flag) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/fdinfo/" + fd))) {
            if (line.startsWith("flags:")) {
                return (Long.parseLong(line.substring(6).trim(), 8) & flag) != 0;
            }
        }
        return false;
    }

    private static void serve(int port, int workers) throws Exception {
        ReuseportGroup g = Systemd.open(ReuseportGroup.tcp().address("127.0.0.1").port(port).workers(workers));
        Systemd.store(g);
        long pid = ProcessHandle.current().pid();
        for (Worker w : g.workers()) {
            Thread t = new Thread(() -> {
                while (true) {
                    try (Connection c = w.accept(Duration.ofSeconds(1))) {
                        if (c != null) {
                            c.writeFully(ByteBuffer.wrap(("pid=" + pid + " slot=" + w.slot() + "\n")
                                    .getBytes(StandardCharsets.UTF_8)));
                        }
                    } catch (IOException e) {
                        return;
                    }
                }
            });
            t.start();
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                Systemd.stopping("SIGTERM");
            } catch (SystemdException e) {
                System.err.println(e.getMessage());
            }
        }));
        Systemd.ready("serving " + workers + " workers on port " + g.localAddress().getPort());
    }
}
