package dev.reuseport.examples.bench.harness;

import java.io.PrintWriter;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads the controller's transitions back from a group's audit trail (JSON lines). */
public final class AuditTrail {
    private static final Pattern REASON = Pattern.compile("\"reason\":\"((?:[^\"\\\\]|\\\\.)*)\"");

    private AuditTrail() {
    }

    /** The reason of the last transition entry among {@code tail}. */
    public static String lastTransitionReason(List<String> tail) {
        for (int i = tail.size() - 1; i >= 0; i--) {
            if (tail.get(i).contains("\"event\":\"transition\"")) {
                Matcher mt = REASON.matcher(tail.get(i));
                return mt.find() ? mt.group(1).replace("\\\"", "\"") : "?";
            }
        }
        return "no transition entry in the audit trail";
    }

    /** Prints {@code entries} and how many of {@code transitions} ("FROM->TO") they hold. */
    public static void printCheck(PrintWriter out, List<String> entries, List<String> transitions) {
        out.println("AUDIT TRAIL of the incident (group.audit().entries()):");
        for (String l : entries) {
            out.println("  " + l);
        }
        int found = 0;
        for (String t : transitions) {
            String[] ft = t.split("->");
            String want = "\"from\":\"" + ft[0] + "\",\"to\":\"" + ft[1] + "\"";
            if (entries.stream().anyMatch(l -> l.contains("\"event\":\"transition\"") && l.contains(want))) {
                found++;
            }
        }
        out.printf("audit check: %d of %d transitions seen in the table are in the audit trail (%s)%n", found,
                transitions.size(), String.join(", ", transitions));
    }
}
