package dev.reuseport.internal.member;

import java.io.IOException;

/**
 * The steps of a membership or policy change, named as the engine passes them, so that a test can make
 * any one of them fail and check that the change is rolled back (or, past its point of no return,
 * completed). Production groups have none: {@link GroupSpec#steps()} is null and the engine uses
 * {@link #NONE}. A test injects one through the spec of a group it builds itself; there is no static hook.
 */
@FunctionalInterface
public interface ChangeSteps {
    /** No injected behaviour. */
    ChangeSteps NONE = (change, step) -> { };

    /**
     * Called as the change reaches {@code step}.
     *
     * @param change the change: {@code remove}, {@code add}, {@code resize}, {@code restart},
     *               {@code replace}, {@code policy} or {@code shadow}
     * @param step   the step just done; names starting with {@code after-commit} come after the point of
     *               no return (the change completes, and the failure is reported after it)
     * @throws IOException to make the change fail at this step
     */
    void at(String change, String step) throws IOException;
}
