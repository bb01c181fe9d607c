/**
 * The precompiled {@code sk_reuseport} steering program (shipped as the resource
 * {@code dev/reuseport/bpf/steer.bpf.o} inside this module), the {@code REUSEPORT_SOCKARRAY} map
 * wrapper and the capability probes.
 */
module dev.reuseport.bpf {
    // NativeException appears in this module's signatures: readers of dev.reuseport.bpf read it too.
    requires transitive dev.reuseport.sys;

    exports dev.reuseport.bpf;
}
