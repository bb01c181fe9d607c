package dev.reuseport;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The append-only audit trail of a group: one JSON object per line for every state transition, policy
 * change (with its version and the program's id and tag), restart, resize, hand-off, refused peer and
 * failed map update, each with the kernel release and backend. Kept in memory (the last
 * {@value #KEEP} entries) and, when a file is given, appended to it and flushed line by line.
 */
public final class AuditLog {
    /** Entries kept in memory. */
    public static final int KEEP = 10_000;
    /** The longest text value of a field, in characters; a longer one is cut and marked. */
    public static final int MAX_VALUE = 1024;
    /** Characters of entries kept in memory at most (the oldest go first past it, or past {@link #KEEP}). */
    public static final long MAX_RETAINED = 8L * 1024 * 1024;
    private long retained;

    private final List<String> lines = new ArrayList<>();
    private final Map<String, Long> counts = new java.util.HashMap<>();
    private final String kernel;
    private final String backend;
    private volatile Path file;

    AuditLog(String kernel, String backend) {
        this.kernel = kernel;
        this.backend = backend;
    }

    /**
     * Also appends every entry to {@code path} (created if missing, never truncated), starting with
     * the entries already recorded. Replaces a file given before. A later write that fails is logged
     * (System.Logger {@code dev.reuseport}, WARNING) and the entry stays in memory.
     *
     * @param path the audit file
     * @throws IOException when the entries recorded so far cannot be written; the file is then not used
     */
    public synchronized void appendTo(Path path) throws IOException {
        StringBuilder b = new StringBuilder();
        for (String l : lines) {
            b.append(l).append('\n');
        }
        if (!Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            // the trail names sockets, peers and reasons: readable by this user only, whatever the umask
            Files.createFile(path, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                    java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
        }
        Files.write(path, b.toString().getBytes(StandardCharsets.UTF_8), StandardOpenOption.APPEND);
        this.file = path;
    }

    /**
     * Records an event as one JSON line: {@code time} (ISO-8601, UTC), {@code event}, the fields in their
     * map order, then {@code kernel} and {@code backend}.
     *
     * @param event  the event's name, e.g. {@code policy}
     * @param fields the event's fields; numbers and booleans stay JSON numbers and booleans, null becomes
     *               {@code null}, anything else its {@code toString()} as a JSON string
     */
    public synchronized void record(String event, Map<String, Object> fields) {
        Map<String, Object> all = new LinkedHashMap<>();
        all.put("time", Instant.now().toString());
        all.put("event", event);
        for (Map.Entry<String, Object> e : fields.entrySet()) {
            Object v = e.getValue();
            all.put(e.getKey(), v instanceof Number || v instanceof Boolean || v == null ? v : cut(String.valueOf(v)));
        }
        all.put("kernel", kernel);
        all.put("backend", backend);
        String line = json(all);
        counts.merge(event, 1L, Long::sum);
        ReuseportEvents.audited(event, fields);
        lines.add(line);
        retained += line.length();
        while (lines.size() > KEEP || retained > MAX_RETAINED && lines.size() > 1) {
            retained -= lines.remove(0).length();
        }
        Path f = file;
        if (f != null) {
            try {
                Files.write(f, (line + "\n").getBytes(StandardCharsets.UTF_8), StandardOpenOption.APPEND);
            } catch (IOException e) {
                System.getLogger("dev.reuseport").log(System.Logger.Level.WARNING, "audit file " + f + ": " + e);
            }
        }
    }

    /**
     * A shorthand for {@link #record(String, Map)} with key/value pairs.
     *
     * @param event the event's name
     * @param kv    alternating keys and values, e.g. {@code "slot", 3, "reason", "stalled"}; a trailing key
     *              without a value is ignored
     */
    public void record(String event, Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i + 1 < kv.length; i += 2) {
            m.put(String.valueOf(kv[i]), kv[i + 1]);
        }
        record(event, m);
    }

    /**
     * The entries in memory.
     *
     * @return an immutable copy of the last {@value #KEEP} JSON lines at most, oldest first
     */
    public synchronized List<String> entries() {
        return List.copyOf(lines);
    }

    /**
     * The most recent entries.
     *
     * @param n how many, at least 0
     * @return an immutable copy of the last {@code n} JSON lines (fewer when fewer are kept), oldest first
     */
    public synchronized List<String> tail(int n) {
        return List.copyOf(lines.subList(Math.max(0, lines.size() - n), lines.size()));
    }

    /**
     * How many entries of one kind were recorded since the trail was created, whatever {@link #KEEP}
     * dropped from memory since: what the Prometheus exposition counts hand-offs, take-overs, watchdog
     * removals and failed map updates with.
     *
     * @param event the event's name, e.g. {@code handoff}
     * @return the count, 0 for a name never recorded
     */
    public synchronized long count(String event) {
        return counts.getOrDefault(event, 0L);
    }

    /** A value cut to {@link #MAX_VALUE} characters, marked with how much was dropped. */
    static String cut(String v) {
        if (v.length() <= MAX_VALUE) {
            return v;
        }
        return v.substring(0, MAX_VALUE) + "...[truncated " + (v.length() - MAX_VALUE) + " chars]";
    }

    /** Characters of the entries kept in memory now. */
    synchronized long retained() {
        return retained;
    }

    static String json(Map<String, Object> m) {
        StringBuilder b = new StringBuilder("{");
        boolean first = true;
        for (Map.Entry<String, Object> e : m.entrySet()) {
            if (!first) {
                b.append(',');
            }
            first = false;
            b.append('"').append(escape(e.getKey())).append("\":");
            Object v = e.getValue();
            if (v == null) {
                b.append("null");
            } else if (v instanceof Number || v instanceof Boolean) {
                b.append(v);
            } else {
                b.append('"').append(escape(String.valueOf(v))).append('"');
            }
        }
        return b.append('}').toString();
    }

    private static String escape(String s) {
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.toString();
    }
}
