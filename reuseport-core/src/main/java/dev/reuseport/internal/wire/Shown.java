package dev.reuseport.internal.wire;

/** How a value a caller gave is quoted in an error: control characters as '?', long values cut short. */
public final class Shown {
    /** The most characters of a value an error message repeats. */
    public static final int MAX = 64;

    private Shown() {
    }

    /** {@code 'value'}, or {@code null}; past {@link #MAX} characters, the start and the full length. */
    public static String quote(String value) {
        if (value == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder("'")
                .append(printable(value.length() > MAX ? value.substring(0, MAX) : value)).append('\'');
        if (value.length() > MAX) {
            b.append("... (").append(value.length()).append(" characters)");
        }
        return b.toString();
    }

    /** {@code s} with every character outside printable ASCII as '?' (a reply line stays one line); "" for null. */
    public static String printable(String s) {
        if (s == null) {
            return "";
        }
        StringBuilder b = new StringBuilder(s.length());
        for (char ch : s.toCharArray()) {
            b.append(ch >= 0x20 && ch < 0x7f ? ch : '?');
        }
        return b.toString();
    }
}
