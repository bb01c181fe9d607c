package dev.reuseport.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;

/**
 * A census of this process's descriptors ({@code /proc/self/fd}), for leak checks: what a test opened
 * and did not close. Entries read {@code "fd -> target"}.
 */
public final class Descriptors {
    private Descriptors() {
    }

    /** Open descriptors of this process (the listing's own included). */
    public static int count() throws IOException {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return (int) s.count();
        }
    }

    /**
     * The descriptors this library could leak: sockets and BPF objects (programs, maps). JAR files the JVM
     * opens lazily for class loading are not among them.
     */
    public static Set<String> sockets() throws IOException {
        return matching(t -> t.startsWith("socket:") || t.startsWith("anon_inode:bpf"));
    }

    /** This process's descriptors whose link target {@code keep} accepts. */
    public static Set<String> matching(Predicate<String> keep) throws IOException {
        Set<String> out = new TreeSet<>();
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : (Iterable<Path>) s::iterator) {
                try {
                    String target = Files.readSymbolicLink(p).toString();
                    if (keep.test(target)) {
                        out.add(p.getFileName() + " -> " + target);
                    }
                } catch (IOException gone) {
                    // closed while listing (the listing's own descriptor, or a close in another thread)
                }
            }
        }
        return out;
    }

    /** Sockets and BPF objects open now that were not open at {@code before} (a {@link #sockets()} census). */
    public static Set<String> leakedSince(Set<String> before) throws IOException {
        Set<String> now = sockets();
        now.removeAll(before);
        return now;
    }
}
