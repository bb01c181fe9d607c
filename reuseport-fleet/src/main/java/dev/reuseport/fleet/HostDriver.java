package dev.reuseport.fleet;

import dev.reuseport.Controller;
import java.io.IOException;

/** What the agent drives on its host: a group's controller, or a simulated host for scale runs. */
interface HostDriver {
    /** One window's figures. */
    record Window(double imbalance, long drops, long p99Micros, long setupFailures, long restartFailures) {
    }

    Controller.State state();

    /** The candidate the controller shadows and enforces. */
    String candidate();

    /** The policy in force. */
    String policy();

    long tableVersion();

    Window tick() throws IOException;

    void to(Controller.State target, String reason) throws IOException;

    /** A controller for another candidate, starting in OBSERVE (the current state is OBSERVE or FALLBACK). */
    void candidate(String spec) throws IOException;

    void recordSetupFailures(long n);

    void recordRestartFailures(long n);

    void audit(String event, Object... kv);

    void close();
}
