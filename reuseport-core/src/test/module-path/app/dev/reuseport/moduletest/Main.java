package dev.reuseport.moduletest;

import dev.reuseport.Capabilities;
import dev.reuseport.Connection;
import dev.reuseport.ControlClient;
import dev.reuseport.ControlSocket;
import dev.reuseport.Policy;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.Worker;
import dev.reuseport.sys.NativeException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;

/**
 * Opens a TCP group of two workers on 127.0.0.1, connects to it, accepts on whichever worker the kernel
 * (or the steering program) picked, echoes one message, and prints what ModulePathTest checks, one
 * {@code key=value} line each; asks the group's control socket (AF_UNIX, jnr-unixsocket) for its status;
 * then tries to reach a non-exported package reflectively.
 */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) throws Exception {
        System.out.println("modules app=" + Main.class.getModule().getName()
                + " core=" + ReuseportGroup.class.getModule().getName()
                + " sys=" + NativeException.class.getModule().getName());
        try (ReuseportGroup group = ReuseportGroup.tcp().address("127.0.0.1").port(0).workers(2)
                .policy(Policy.roundRobin()).open()) {
            Capabilities caps = group.capabilities();
            System.out.print(caps.toTable());
            System.out.println("backend=" + caps.backend());
            System.out.println("steering=" + caps.steering());
            System.out.println("workers=" + group.workers().size());
            try (Socket client = new Socket(group.localAddress().getAddress(), group.localAddress().getPort())) {
                client.setSoTimeout(10_000);
                Connection accepted = null;
                Worker by = null;
                long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                while (accepted == null && System.nanoTime() < deadline) {
                    for (Worker w : group.workers()) {
                        accepted = w.accept(Duration.ofMillis(50));
                        if (accepted != null) {
                            by = w;
                            break;
                        }
                    }
                }
                if (accepted == null) {
                    System.out.println("accepted=none");
                    System.exit(3);
                }
                try (Connection c = accepted) {
                    OutputStream out = client.getOutputStream();
                    out.write("ping".getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    ByteBuffer buf = ByteBuffer.allocate(16);
                    while (buf.position() < 4 && c.read(buf) >= 0) {
                        // read until the 4 bytes are in
                    }
                    buf.flip();
                    c.writeFully(buf);
                    InputStream in = client.getInputStream();
                    String echoed = new String(in.readNBytes(4), StandardCharsets.US_ASCII);
                    System.out.println("accepted worker=" + by.slot() + " echoed=" + echoed);
                }
            }
            Path dir = Files.createTempDirectory("rp-module-test",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            Path socket = dir.resolve("ctl");
            ControlSocket control = ControlSocket.serve(group, socket, false);
            try (ControlClient client = ControlClient.connect(socket)) {
                ControlClient.Reply reply = client.request("status");
                System.out.println("control ok=" + reply.ok() + " lines=" + reply.body().size());
            } finally {
                control.close();
                Files.deleteIfExists(socket);
                Files.delete(dir);
            }
        }
        try {
            Class<?> sys = Class.forName("dev.reuseport.sys.internal.Sys");
            Object uid = sys.getMethod("uid").invoke(null);
            System.out.println("internal=accessible (uid " + uid + ")");
        } catch (IllegalAccessException e) {
            System.out.println("internal=denied (" + e.getMessage() + ")");
        }
    }
}
