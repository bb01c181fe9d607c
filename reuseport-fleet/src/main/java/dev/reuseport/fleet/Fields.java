package dev.reuseport.fleet;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/** The value format of every fleet key: one {@code name=value} per line, UTF-8; values never hold a newline. */
final class Fields {
    private Fields() {
    }

    static byte[] encode(Map<String, ?> m) {
        StringBuilder b = new StringBuilder();
        for (Map.Entry<String, ?> e : m.entrySet()) {
            String v = String.valueOf(e.getValue());
            if (v.indexOf('\n') >= 0 || e.getKey().indexOf('=') >= 0) {
                throw new IllegalArgumentException("field " + e.getKey() + " holds a newline or '='");
            }
            b.append(e.getKey()).append('=').append(v).append('\n');
        }
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    static Map<String, String> decode(byte[] bytes) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : new String(bytes, StandardCharsets.UTF_8).split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                m.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        return m;
    }

    static long num(Map<String, String> m, String k, long dflt) {
        try {
            String v = m.get(k);
            return v == null ? dflt : Long.parseLong(v);
        } catch (NumberFormatException e) {
            return dflt;
        }
    }

    static double dbl(Map<String, String> m, String k) {
        try {
            String v = m.get(k);
            return v == null ? 0 : Double.parseDouble(v);
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
