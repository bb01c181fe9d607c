package dev.reuseport.sys.internal.jnr;

import jnr.ffi.types.size_t;

/**
 * libbpf 1.x as jnr-ffi binds it for {@code JnrBackend}, pointers as raw addresses. Public and opened
 * for the same reason as {@link JnrLibC}.
 */
public interface JnrLibBpf {
    int libbpf_major_version();

    int libbpf_minor_version();

    long libbpf_set_print(long fn);

    int libbpf_num_possible_cpus();

    long bpf_object__open_mem(long objBuf, @size_t long objBufSz, long opts);

    int bpf_object__load(long obj);

    void bpf_object__close(long obj);

    long bpf_object__find_program_by_name(long obj, long name);

    long bpf_object__find_map_by_name(long obj, long name);

    int bpf_program__fd(long prog);

    int bpf_program__set_expected_attach_type(long prog, int type);

    int bpf_program__set_autoload(long prog, int autoload);

    int bpf_program__set_log_buf(long prog, long logBuf, @size_t long logSize);

    int bpf_program__set_log_level(long prog, int logLevel);

    int bpf_map__fd(long map);

    // bpf_map_create (six arguments) is called through jffi: see the class comment.

    int bpf_map_update_elem(int fd, long key, long value, long flags);

    int bpf_map_lookup_elem(int fd, long key, long value);

    int bpf_map_delete_elem(int fd, long key);

    int bpf_map_freeze(int fd);

    int bpf_map_get_next_key(int fd, long key, long nextKey);

    int bpf_obj_get_info_by_fd(int bpfFd, long info, long infoLenPtr);

    int libbpf_probe_bpf_prog_type(int progType, long opts);

    int libbpf_probe_bpf_map_type(int mapType, long opts);

    int libbpf_probe_bpf_helper(int progType, int helperId, long opts);

    // --- recvmmsg/sendmmsg/GRO/GSO: ingest ---

    int bpf_map__set_max_entries(long map, int maxEntries);

    // --- end ingest ---
}
