package dev.reuseport.bpf;

import dev.reuseport.sys.NativeException;

/**
 * The kernel refused to load a program. The message ends with the verifier's last meaningful line;
 * {@link #fullLog()} has the whole verifier log.
 */
public final class BpfLoadException extends NativeException {
    private static final long serialVersionUID = 1L;
    /** The verifier log, empty when the kernel wrote none. */
    private final String fullLog;

    BpfLoadException(String program, int errno, String fullLog) {
        super("bpf_object__load", errno, "program " + program + " rejected" + lastLine(fullLog));
        this.fullLog = fullLog == null ? "" : fullLog;
    }

    private static String lastLine(String log) {
        if (log == null || log.isBlank()) {
            return "";
        }
        String[] lines = log.strip().split("\n");
        for (int i = lines.length - 1; i >= 0; i--) {
            String l = lines[i].strip();
            if (!l.isEmpty() && !l.startsWith("processed ") && !l.startsWith("verification time")
                    && !l.startsWith("stack depth") && !l.startsWith("-- END PROG LOAD LOG --")) {
                return ": " + l;
            }
        }
        return ": " + lines[lines.length - 1].strip();
    }

    /**
     * The whole verifier log of the rejected program, as the kernel wrote it; the exception's message
     * carries only its last meaningful line.
     *
     * @return the log, or an empty string when the kernel wrote none (e.g. a failure before verification)
     */
    public String fullLog() {
        return fullLog;
    }
}
