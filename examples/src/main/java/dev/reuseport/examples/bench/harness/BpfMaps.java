package dev.reuseport.examples.bench.harness;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * The BPF maps this process holds, as the kernel describes them in {@code /proc/self/fdinfo} (type, key
 * and value sizes, entries, and the memory the kernel charges for each, {@code memlock}): a group's maps
 * are the difference between two snapshots around its open.
 */
public final class BpfMaps {
    private BpfMaps() {
    }

    /**
     * One map.
     *
     * @param id         the kernel's map id
     * @param type       map_type (e.g. 9 LRU_HASH, 20 REUSEPORT_SOCKARRAY)
     * @param keySize    bytes per key
     * @param valueSize  bytes per value
     * @param maxEntries capacity
     * @param memlock    bytes the kernel charges for the map
     */
    public record Info(int id, int type, int keySize, int valueSize, long maxEntries, long memlock) {
    }

    /**
     * The maps open in this process now, by id.
     *
     * @return the snapshot (empty where fdinfo is unreadable)
     */
    public static Map<Integer, Info> snapshot() {
        Map<Integer, Info> out = new TreeMap<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(Path.of("/proc/self/fdinfo"))) {
            for (Path p : ds) {
                Map<String, String> kv = new java.util.HashMap<>();
                try {
                    for (String line : Files.readAllLines(p)) {
                        int c = line.indexOf(':');
                        if (c > 0) {
                            kv.put(line.substring(0, c).trim(), line.substring(c + 1).trim());
                        }
                    }
                } catch (IOException e) {
                    continue; // closed meanwhile
                }
                if (kv.containsKey("map_type") && kv.containsKey("map_id")) {
                    int id = Integer.parseInt(kv.get("map_id"));
                    out.put(id, new Info(id, Integer.parseInt(kv.get("map_type")), num(kv, "key_size"),
                            num(kv, "value_size"), Long.parseLong(kv.getOrDefault("max_entries", "0")),
                            Long.parseLong(kv.getOrDefault("memlock", "0"))));
                }
            }
        } catch (IOException e) {
            return out;
        }
        return out;
    }

    private static int num(Map<String, String> kv, String k) {
        return Integer.parseInt(kv.getOrDefault(k, "0"));
    }

    /**
     * The maps in {@code after} that were not in {@code before}.
     *
     * @param before a snapshot
     * @param after  a later snapshot
     * @return the new maps, by id
     */
    public static Map<Integer, Info> added(Map<Integer, Info> before, Map<Integer, Info> after) {
        Map<Integer, Info> out = new TreeMap<>(after);
        out.keySet().removeAll(before.keySet());
        return out;
    }

    /**
     * Total memlock of some maps.
     *
     * @param maps the maps
     * @return bytes
     */
    public static long memlock(Map<Integer, Info> maps) {
        return maps.values().stream().mapToLong(Info::memlock).sum();
    }
}
