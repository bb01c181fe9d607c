package dev.reuseport.sys;

import java.io.IOException;

/**
 * A native call failed. Carries the call's name and the errno it set; the message reads
 * {@code bind: EADDRINUSE (98): Address already in use}, optionally followed by what was being done.
 */
public class NativeException extends IOException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int errno;

    /** A failure of {@code call} with {@code errno} (positive). */
    public NativeException(String call, int errno) {
        this(call, errno, null);
    }

    /** A failure of {@code call} with {@code errno} (positive), with a note on what was being done. */
    public NativeException(String call, int errno, String detail) {
        super(format(call, errno, detail));
        this.call = call;
        this.errno = errno;
    }

    /** {@code call: NAME (n): message[; detail]}. */
    static String format(String call, int errno, String detail) {
        String base = call + ": " + Errno.name(errno) + " (" + errno + "): " + Errno.message(errno);
        return detail == null ? base : base + "; " + detail;
    }

    /** The failed call, e.g. {@code bind} or {@code bpf_map_update_elem}. */
    public String call() {
        return call;
    }

    /** The errno value (positive). */
    public int errno() {
        return errno;
    }

    /** The errno's symbolic name, e.g. {@code EADDRINUSE}. */
    public String errnoName() {
        return Errno.name(errno);
    }

    /** Whether this failure carries {@code expected}. */
    public boolean is(int expected) {
        return errno == expected;
    }
}
