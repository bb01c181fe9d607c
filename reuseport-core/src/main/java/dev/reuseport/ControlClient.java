package dev.reuseport;

import dev.reuseport.sys.internal.Sys;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import jnr.unixsocket.UnixSocketAddress;
import jnr.unixsocket.UnixSocketChannel;

/** A client of a {@link ControlSocket}: one request line, one reply. */
public final class ControlClient implements AutoCloseable {
    /** A reply: body lines, and OK with its text or ERR with the message. */
    public record Reply(boolean ok, String text, List<String> body) {
    }

    private final UnixSocketChannel channel;
    private final ControlLines lines;

    private ControlClient(UnixSocketChannel channel) throws IOException {
        this.channel = channel;
        this.lines = new ControlLines(channel.getFD());
        Sys.setTimeouts(lines.fd(), 30_000);
    }

    /** Connects to the control socket at {@code path}. */
    public static ControlClient connect(Path path) throws IOException {
        return new ControlClient(UnixSocketChannel.open(new UnixSocketAddress(path.toFile())));
    }

    /** Sends one request line and reads the reply. */
    public Reply request(String line) throws IOException {
        if (line.indexOf('\n') >= 0) {
            throw new IllegalArgumentException("a request is one line; got one with a newline");
        }
        lines.writeLine(line);
        List<String> body = new ArrayList<>();
        for (;;) {
            String l = lines.readLine();
            if (l == null) {
                throw new IOException("control socket closed before replying to '" + line + "'");
            }
            if (l.equals("OK") || l.startsWith("OK ")) {
                return new Reply(true, l.length() > 3 ? l.substring(3) : "", body);
            }
            if (l.startsWith("ERR ")) {
                return new Reply(false, l.substring(4), body);
            }
            body.add(l);
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
