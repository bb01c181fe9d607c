/**
 * Syscalls and libbpf for reuseport, behind one interface with two backends: the Foreign Function and
 * Memory API on JDK 22 and later (in {@code META-INF/versions/22} of this multi-release JAR) and jnr-ffi
 * on JDK 17 to 21.
 *
 * <p>The only API is {@link dev.reuseport.sys.NativeException}, the exception every failed native call
 * surfaces as, and {@link dev.reuseport.sys.Errno}, the errno values it carries. The raw calls live in
 * {@code dev.reuseport.sys.internal}, exported only to the two reuseport modules built on them.
 *
 * <p>On JDK 22 and later the FFM backend calls restricted methods: grant this module native access with
 * {@code --enable-native-access=dev.reuseport.sys} when it is on the module path
 * ({@code --enable-native-access=ALL-UNNAMED} on the class path).
 */
// "module": the targets of the qualified export below are compiled after this module, so javac cannot
// see them yet. "requires-automatic": jnr-ffi and jffi ship no module-info; their names come from the
// Automatic-Module-Name in their manifests.
@SuppressWarnings({"module", "requires-automatic"})
module dev.reuseport.sys {
    // jnr-ffi binds libc and libbpf on JDK 17-21; jffi is called directly for the six-argument
    // functions (see JnrBackend).
    requires org.jnrproject.ffi;
    requires org.jnrproject.jffi;
    // Not used by this module's code: jnr-ffi generates its invokers with ASM. jnr-ffi is an automatic
    // module, which declares no requires, and ASM is an explicit module, which nothing else would bring
    // into the module graph: without this, jnr-ffi fails with NoClassDefFoundError
    // org/objectweb/asm/ClassVisitor on the module path. (jnr-x86asm and jnr-a64asm, the other two
    // things jnr-ffi uses, are automatic modules and resolve with it.)
    requires org.objectweb.asm;

    exports dev.reuseport.sys;
    exports dev.reuseport.sys.internal to dev.reuseport.bpf, dev.reuseport;
    // jnr-ffi defines the implementations it generates for JnrLibC and JnrLibBpf in a class loader of its
    // own, whose unnamed module must be able to implement them; no qualified export can name that
    // module. "opens" grants access at run time only (nothing compiles against the package), and the
    // package holds nothing but those two interfaces.
    opens dev.reuseport.sys.internal.jnr;
}
