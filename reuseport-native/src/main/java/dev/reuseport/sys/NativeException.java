package dev.reuseport.sys;

import java.io.IOException;

/**
 * A native call failed. Carries the call's name and the errno it set; the message reads
 * {@code bind: EADDRINUSE (98): Address already in use}, optionally followed by what was being done.
 *
 * <p>Every failed system call or libbpf call of reuseport surfaces as this exception (or a subclass such as
 * {@code dev.reuseport.bpf.BpfLoadException}), declared as the {@link IOException} it extends where the
 * API says {@code throws IOException}. Compare the errno with the constants of {@link Errno}:
 * {@code e.is(Errno.EPERM)}.
 */
public class NativeException extends IOException {
    private static final long serialVersionUID = 1L;

    /** The failed call's name, e.g. {@code bind}. */
    private final String call;
    /** The errno the call set, positive. */
    private final int errno;

    /**
     * A failure of {@code call} with {@code errno}.
     *
     * @param call  the failed call's name, e.g. {@code bind} or {@code bpf_map_update_elem}
     * @param errno the errno it set, positive
     */
    public NativeException(String call, int errno) {
        this(call, errno, null);
    }

    /**
     * A failure of {@code call} with {@code errno}, with a note on what was being done.
     *
     * @param call   the failed call's name, e.g. {@code bind} or {@code bpf_map_update_elem}
     * @param errno  the errno it set, positive
     * @param detail what was being done, appended to the message after {@code ; }, or null for nothing
     */
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

    /**
     * The call that failed.
     *
     * @return its name, e.g. {@code bind} or {@code bpf_map_update_elem}
     */
    public String call() {
        return call;
    }

    /**
     * The errno the call set.
     *
     * @return the errno value, positive; compare with the constants of {@link Errno}
     */
    public int errno() {
        return errno;
    }

    /**
     * The errno's symbolic name.
     *
     * @return e.g. {@code EADDRINUSE}, or {@code errno <n>} for a value {@link Errno} does not know
     */
    public String errnoName() {
        return Errno.name(errno);
    }

    /**
     * Whether the call failed with a given errno.
     *
     * @param expected an errno value, e.g. {@link Errno#EADDRINUSE}
     * @return true when this failure's errno is {@code expected}
     */
    public boolean is(int expected) {
        return errno == expected;
    }
}
