package dev.reuseport.sys.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Proves which backend ran: the build runs the suite once on JDK 25 expecting ffm, once on JDK 17 expecting jnr. */
class BackendSelectionTest {

    @Test
    void backendIsTheOneThisJdkShouldUse() {
        String expected = System.getProperty("reuseport.expectBackend");
        String forced = System.getProperty(Native.BACKEND_PROPERTY);
        if (expected == null) {
            expected = forced != null && !forced.isBlank() ? forced : Runtime.version().feature() >= 22 ? "ffm" : "jnr";
        }
        System.out.println("backend " + Native.backendName() + " on JDK " + Runtime.version().feature() + ": "
                + Native.backendReason());
        assertThat(Native.backendName()).isEqualTo(expected);
        assertThat(Native.backend().name()).isEqualTo(expected);
    }

    @Test
    void automaticChoiceFollowsTheJdk() {
        if (System.getProperty(Native.BACKEND_PROPERTY) != null) {
            return; // forced: the other test checks the forced value
        }
        assertThat(Native.backendName()).isEqualTo(Runtime.version().feature() >= 22 ? "ffm" : "jnr");
    }
}
