package dev.reuseport;

import dev.reuseport.sys.Errno;
import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.Sys;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Line I/O on a connected Unix socket, straight on its descriptor, so that text lines and the
 * SCM_RIGHTS messages of a hand-off share one stream without a buffer reading past a message.
 */
final class ControlLines {
    /** The longest line accepted, in bytes. */
    static final int MAX_LINE = 64 * 1024;

    private final int fd;
    private final ByteBuffer one = ByteBuffer.allocateDirect(1);

    ControlLines(int fd) {
        this.fd = fd;
    }

    int fd() {
        return fd;
    }

    /**
     * Reads one line (without its newline); null at end of stream. A line longer than {@link #MAX_LINE}
     * or a read that times out (SO_RCVTIMEO) is an IOException naming what happened.
     */
    String readLine() throws IOException {
        byte[] buf = new byte[256];
        int n = 0;
        for (;;) {
            one.clear();
            int r;
            try {
                r = Sys.read(fd, one);
            } catch (NativeException e) {
                if (e.is(Errno.EAGAIN)) {
                    throw new IOException("control peer sent no complete line in time", e);
                }
                throw e;
            }
            if (r < 0) {
                return n == 0 ? null : new String(buf, 0, n, StandardCharsets.UTF_8);
            }
            if (r == 0) {
                throw new IOException("control peer sent no complete line in time");
            }
            byte c = one.get(0);
            if (c == '\n') {
                return new String(buf, 0, n, StandardCharsets.UTF_8);
            }
            if (n == MAX_LINE) {
                throw new IOException("control line longer than " + MAX_LINE + " bytes");
            }
            if (n == buf.length) {
                buf = java.util.Arrays.copyOf(buf, Math.min(MAX_LINE, buf.length * 2));
            }
            buf[n++] = c;
        }
    }

    /** Writes {@code line} and a newline, all of it. */
    void writeLine(String line) throws IOException {
        ByteBuffer b = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) {
            if (Sys.write(fd, b) == 0) {
                throw new IOException("control peer is not reading");
            }
        }
    }
}
