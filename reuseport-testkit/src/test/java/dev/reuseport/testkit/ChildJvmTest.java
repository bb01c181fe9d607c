package dev.reuseport.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class ChildJvmTest {
    /** Prints its network namespace and its first argument; exits with status 3. */
    public static final class PrintNamespace {
        public static void main(String[] args) throws Exception {
            System.out.println("NS " + Files.readSymbolicLink(Path.of("/proc/self/ns/net")));
            System.out.println("ARG " + args[0] + " PROP " + System.getProperty("testkit.prop"));
            System.exit(3);
        }
    }

    @Test
    void aChildInAFreshNamespaceIsNotInOurs() throws Exception {
        String ours = Files.readSymbolicLink(Path.of("/proc/self/ns/net")).toString();
        ChildJvm.Outcome o = ChildJvm.inNetns("test -r /proc/self/ns/net", PrintNamespace.class, "it's quoted");
        assertThat(o.exit()).as(o.output()).isEqualTo(3);
        assertThat(o.output()).contains("NS net:[").doesNotContain("NS " + ours).contains("ARG it's quoted");
    }

    @Test
    void aChildHereSharesOurNamespaceAndGetsItsJvmOptions() throws Exception {
        String ours = Files.readSymbolicLink(Path.of("/proc/self/ns/net")).toString();
        ChildJvm.Outcome o = ChildJvm.run(List.of("-Dtestkit.prop=set"), PrintNamespace.class, "x");
        assertThat(o.exit()).as(o.output()).isEqualTo(3);
        assertThat(o.output()).contains("NS " + ours).contains("ARG x PROP set");
    }

    @Test
    void theCensusSeesASocketOpenAndThenClosed() throws Exception {
        // the JDK keeps descriptors of its own from its first channel on (e.g. the socketpair it dup2()s
        // over closing descriptors): open and close one first
        java.nio.channels.ServerSocketChannel.open().close();
        var before = Descriptors.sockets();
        try (var s = java.nio.channels.ServerSocketChannel.open()) {
            assertThat(Descriptors.leakedSince(before)).hasSize(1).allMatch(e -> e.contains("socket:"));
        }
        assertThat(Descriptors.leakedSince(before)).isEmpty();
    }
}
