package dev.reuseport;

import dev.reuseport.internal.wire.ControlLines;
import dev.reuseport.sys.internal.Sys;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import jnr.unixsocket.UnixSocketAddress;
import jnr.unixsocket.UnixSocketChannel;

/**
 * A client of a {@link ControlSocket}: one request line, one reply. Every read waits at most 30 seconds.
 * The server accepts only clients of its own user (checked with SO_PEERCRED).
 */
public final class ControlClient implements AutoCloseable {
    /**
     * A reply: the body lines, then a final {@code OK [text]} or {@code ERR message} line.
     *
     * @param ok   true for {@code OK}, false for {@code ERR}
     * @param text what followed {@code OK } or {@code ERR }: empty for a plain OK, the error for ERR
     * @param body the lines before the final one, in order (e.g. a table or a metrics page)
     */
    public record Reply(boolean ok, String text, List<String> body) {
    }

    private final UnixSocketChannel channel;
    private final ControlLines lines;

    private ControlClient(UnixSocketChannel channel) throws IOException {
        this.channel = channel;
        this.lines = new ControlLines(channel.getFD());
        Sys.setTimeouts(lines.fd(), 30_000);
    }

    /**
     * Connects to the control socket at {@code path} (AF_UNIX, stream).
     *
     * @param path the socket file a {@link ControlSocket} serves
     * @return the connected client, which the caller closes
     * @throws IOException when nothing listens there (ECONNREFUSED), the file is missing (ENOENT) or not
     *                     accessible (EACCES)
     */
    public static ControlClient connect(Path path) throws IOException {
        return new ControlClient(UnixSocketChannel.open(new UnixSocketAddress(path.toFile())));
    }

    /**
     * Sends one request line, e.g. {@code status} or {@code policy round-robin}, and reads the reply.
     *
     * @param line the request, one line without a newline
     * @return the reply, OK or ERR
     * @throws IllegalArgumentException when {@code line} contains a newline
     * @throws IOException when the server closes the connection before replying, sends no complete line
     *                     within 30 seconds, or a line past 1 MiB (the client is then broken and every later
     *                     request fails: it never reads one reply as another's). A body line over 64 KiB is
     *                     read to its end and stands in the body as {@code [line of N bytes dropped]}, so
     *                     the next request still gets its own reply.
     */
    public Reply request(String line) throws IOException {
        if (line.indexOf('\n') >= 0) {
            throw new IllegalArgumentException("a request is one line; got one with a newline");
        }
        if (broken != null) {
            throw new IOException("control client out of step after an earlier failure (" + broken
                    + "); accepted: a new connection");
        }
        try {
            return exchange(line);
        } catch (IOException | RuntimeException e) {
            broken = e.getMessage();
            throw e;
        }
    }

    /** Why this client stopped, or null. */
    private String broken;

    private Reply exchange(String line) throws IOException {
        try {
            lines.writeLine(line);
        } catch (IOException e) {
            // a server that refused this client (ERR uid …, ERR busy) may have closed before the request
            // arrived, failing the write with EPIPE; its reason is still queued here and says more
            try {
                return reply(line);
            } catch (IOException | RuntimeException unread) {
                e.addSuppressed(unread);
                throw e;
            }
        }
        return reply(line);
    }

    private Reply reply(String line) throws IOException {
        List<String> body = new ArrayList<>();
        for (;;) {
            String l;
            try {
                l = lines.readLine();
            } catch (ControlLines.LineTooLongException e) {
                body.add("[" + e.getMessage().replace("control line of ", "line of ")
                        .replaceFirst(" is too long.*", "") + " dropped]");
                continue;
            }
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
