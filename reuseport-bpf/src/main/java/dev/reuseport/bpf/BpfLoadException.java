package dev.reuseport.bpf;

import dev.reuseport.sys.NativeException;

/**
 * The kernel refused to load a program. The message ends with the verifier's last meaningful line;
 * {@link #fullLog()} has the whole verifier log.
 */
public final class BpfLoadException extends NativeException {
    private static final long serialVersionUID = 1L;
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

    /** The verifier log as the kernel wrote it. */
    public String fullLog() {
        return fullLog;
    }
}
