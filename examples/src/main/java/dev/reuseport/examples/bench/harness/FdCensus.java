package dev.reuseport.examples.bench.harness;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/** Open descriptors of this process, and those that are BPF programs and maps. */
public record FdCensus(int total, int progs, int maps, Map<String, Integer> byKind) {
    public static FdCensus now() throws IOException {
        int total = 0;
        int progs = 0;
        int maps = 0;
        Map<String, Integer> kinds = new TreeMap<>();
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String target;
                try {
                    target = Files.readSymbolicLink(p).toString();
                } catch (IOException e) {
                    continue; // the listing's own descriptor, closed by now
                }
                total++;
                if (target.equals("anon_inode:bpf-prog")) {
                    progs++;
                } else if (target.equals("anon_inode:bpf-map")) {
                    maps++;
                }
                String kind = target.startsWith("socket:") ? "socket" : target.startsWith("anon_inode:")
                        ? target : target.startsWith("pipe:") ? "pipe" : target.startsWith("/") ? "file" : target;
                kinds.merge(kind, 1, Integer::sum);
            }
        }
        return new FdCensus(total, progs, maps, kinds);
    }
}
