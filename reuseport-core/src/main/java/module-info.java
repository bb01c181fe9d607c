/**
 * SO_REUSEPORT listener groups: {@link dev.reuseport.ReuseportGroup} and its workers, steering policies,
 * per-worker metrics, the control state machine, restarts and the cross-process hand-off;
 * {@link dev.reuseport.micrometer.ReuseportMeterBinder} when Micrometer is present.
 *
 * <p>Use it with {@code requires dev.reuseport;}. On JDK 22 and later, start the JVM with
 * {@code --enable-native-access=dev.reuseport.sys,org.jnrproject.jffi}: {@code dev.reuseport.sys} makes
 * the native calls through the FFM API, and jnr-unixsocket, which the control socket and the hand-off
 * use, loads jffi's JNI stub from module {@code org.jnrproject.jffi}. On the class path the flag is
 * {@code --enable-native-access=ALL-UNNAMED}.
 */
// Every third-party module required here is automatic (none ships a module-info), which javac flags
// on each such requires; the names come from their manifests, except HdrHistogram's (see below).
@SuppressWarnings("requires-automatic")
module dev.reuseport {
    // Capabilities and ReuseportGroup expose dev.reuseport.bpf types (Feature, SteerProgram.SlotCounters);
    // NativeException (dev.reuseport.sys) is what failed native calls throw.
    requires transitive dev.reuseport.bpf;
    requires transitive dev.reuseport.sys;

    // The control socket and the hand-off (AF_UNIX, SCM_RIGHTS) are built on jnr-unixsocket.
    requires org.jnrproject.unixsocket;
    // MetricsSampler's latency histograms. HdrHistogram 2.2.2 declares no module name: this is the name
    // derived from its JAR file name, HdrHistogram-2.2.2.jar.
    requires HdrHistogram;
    // Optional: only dev.reuseport.micrometer uses it, and only when the application brings Micrometer
    // (an application that uses ReuseportMeterBinder requires micrometer.core itself). Not transitive:
    // javac resolves a "requires static transitive" module for every module compiled against this one,
    // so an application without Micrometer would no longer compile.
    requires static micrometer.core;
    // ReuseportEvents: JFR events for state transitions, policy changes and restarts.
    requires jdk.jfr;
    // MetricsEndpoint: the optional /metrics HTTP endpoint on the JDK's own server (off unless started).
    requires jdk.httpserver;

    exports dev.reuseport;
    exports dev.reuseport.micrometer;
}
