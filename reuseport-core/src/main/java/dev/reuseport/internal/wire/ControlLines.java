package dev.reuseport.internal.wire;

import dev.reuseport.sys.Errno;
import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.Sys;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * Line I/O on a connected Unix socket, straight on its descriptor, so that text lines and the
 * SCM_RIGHTS messages of a hand-off share one stream without a buffer reading past a message.
 */
public final class ControlLines {
    /** The longest line accepted, in bytes. */
    public static final int MAX_LINE = 64 * 1024;
    /** How much of an over-long line is read and dropped before the session gives up on the peer. */
    public static final long MAX_DISCARD = 1024 * 1024;

    private final int fd;
    private final ByteBuffer peeked = ByteBuffer.allocateDirect(4096);

    public ControlLines(int fd) {
        this.fd = fd;
    }

    public int fd() {
        return fd;
    }

    /**
     * Every directory above the socket's: owned by root or this user, and writable by no one else unless
     * it is root's and sticky (like /tmp: no one else can rename or remove what is ours in it). Otherwise
     * another user could swap a directory on the way to the socket for one of theirs.
     *
     * @param from the first directory to check (the socket directory's parent)
     * @throws IllegalArgumentException naming the first directory that is not so
     * @throws IOException when a directory's attributes cannot be read
     */
    public static void checkAncestors(Path from) throws IOException {
        for (Path d = from; d != null; d = d.getParent()) {
            int owner = (Integer) Files.getAttribute(d, "unix:uid", LinkOption.NOFOLLOW_LINKS);
            int mode = (Integer) Files.getAttribute(d, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            boolean othersWrite = (mode & 0022) != 0;
            boolean sticky = (mode & 01000) != 0;
            if (owner != 0 && owner != Sys.uid() || othersWrite && !(sticky && owner == 0)) {
                throw new IllegalArgumentException("control socket ancestor directory " + d + " is owned by uid "
                        + owner + " with mode " + String.format("%04o", mode & 07777) + "; accepted: every "
                        + "directory above the socket owned by root or uid " + Sys.uid() + " and writable by no one "
                        + "else (a root-owned sticky directory such as /tmp may be)");
            }
        }
    }

    /**
     * The absolute form of a control socket path, checked for what a Unix socket address can hold.
     *
     * @param path the path
     * @return its absolute form
     * @throws IllegalArgumentException when {@code path} is null or longer than 107 bytes
     */
    public static Path checkPath(Path path) {
        if (path == null) {
            throw new IllegalArgumentException("control socket path null; accepted: a path in a directory owned by "
                    + "uid " + Sys.uid() + " and writable by no one else (e.g. 0700)");
        }
        Path abs = path.toAbsolutePath();
        int bytes = abs.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        if (bytes > 107) {
            throw new IllegalArgumentException("control socket path " + Shown.quote(abs.toString()) + " is longer than "
                    + "107 bytes (" + bytes + "); accepted: a shorter path (sockaddr_un holds 108 bytes)");
        }
        return abs;
    }

    /** A line longer than {@link #MAX_LINE}: it was read to its end and dropped, the stream stays usable. */
    public static final class LineTooLongException extends IOException {
        private static final long serialVersionUID = 1L;

        LineTooLongException(long length) {
            super("control line of " + length + " bytes is too long; accepted: at most " + MAX_LINE + " bytes");
        }
    }

    /**
     * Reads one line (without its newline); null at end of stream. Each step peeks at what is queued and
     * then reads exactly up to and including the newline, so nothing after the line leaves the socket
     * (the descriptor frames of a hand-off follow a line on the same stream). A line longer than
     * {@link #MAX_LINE} is read to its end and reported as {@link LineTooLongException} (past
     * {@link #MAX_DISCARD} bytes without a newline, as a plain IOException: the peer is not speaking
     * lines); a read that times out (SO_RCVTIMEO) is an IOException naming what happened.
     */
    public String readLine() throws IOException {
        byte[] buf = new byte[256];
        int n = 0;
        long length = 0;
        for (;;) {
            peeked.clear();
            int r;
            try {
                r = Sys.peek(fd, peeked);
            } catch (NativeException e) {
                if (e.is(Errno.EAGAIN)) {
                    throw new IOException("control peer sent no complete line in time", e);
                }
                throw e;
            }
            if (r < 0) {
                return length == 0 ? null : length > MAX_LINE ? null : new String(buf, 0, n, StandardCharsets.UTF_8);
            }
            if (r == 0) {
                throw new IOException("control peer sent no complete line in time");
            }
            int take = r;
            boolean end = false;
            for (int i = 0; i < r; i++) {
                if (peeked.get(i) == '\n') {
                    take = i + 1;
                    end = true;
                    break;
                }
            }
            consume(take);
            int content = end ? take - 1 : take;
            if (length + content <= MAX_LINE) {
                if (n + content > buf.length) {
                    buf = java.util.Arrays.copyOf(buf, Math.min(MAX_LINE, Math.max(buf.length * 2, n + content)));
                }
                peeked.get(0, buf, n, content);
                n += content;
            }
            length += content;
            if (!end && length > MAX_DISCARD) {
                throw new IOException("control peer sent " + length + " bytes without a newline; accepted: lines of at "
                        + "most " + MAX_LINE + " bytes");
            }
            if (end) {
                if (length > MAX_LINE) {
                    throw new LineTooLongException(length);
                }
                return new String(buf, 0, n, StandardCharsets.UTF_8);
            }
        }
    }

    /** Reads and drops {@code count} bytes that a peek has just shown are queued. */
    private void consume(int count) throws IOException {
        ByteBuffer b = peeked.duplicate().clear().limit(count);
        while (b.hasRemaining()) {
            if (Sys.read(fd, b) <= 0) {
                throw new IOException("control peer's queued bytes went away");
            }
        }
    }

    /** Writes {@code line} and a newline, all of it. */
    public void writeLine(String line) throws IOException {
        ByteBuffer b = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) {
            if (Sys.write(fd, b) == 0) {
                throw new IOException("control peer is not reading");
            }
        }
    }

    /**
     * Ends our side of the stream, then reads and drops what the peer still sends, until it closes or for
     * at most {@code millis} and {@link #MAX_LINE} bytes: the last words (an {@code ERR}) stay readable
     * and the peer's write of its request does not fail. The caller closes afterwards.
     */
    public void lingerForRequest(int millis) {
        try {
            Sys.shutdown(fd, Sys.SHUT_WR);
            Sys.setTimeouts(fd, millis);
            ByteBuffer drop = ByteBuffer.allocate(4096);
            long deadline = System.nanoTime() + millis * 1_000_000L;
            for (int read = 0; read < MAX_LINE && System.nanoTime() - deadline < 0; ) {
                int n = Sys.read(fd, drop.clear());
                if (n <= 0) { // EOF, or the receive timeout (EAGAIN)
                    return;
                }
                read += n;
            }
        } catch (IOException e) {
            // the peer is gone or broke the stream: nothing left to wait for
        }
    }
}
