package dev.reuseport.internal;

/**
 * Where the internal parts record what they did: the group's audit trail, seen from below (the group
 * passes its trail's {@code record} method).
 */
@FunctionalInterface
public interface Audit {
    /**
     * Records one event.
     *
     * @param event the event name
     * @param kv    alternating field names and values
     */
    void record(String event, Object... kv);
}
