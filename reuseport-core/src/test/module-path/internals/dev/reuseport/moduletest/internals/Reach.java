package dev.reuseport.moduletest.internals;

/** One use of a public type from each package that reuseport does not export to everyone. */
final class Reach {
    private Reach() {
    }

    static int uid() {
        return dev.reuseport.sys.internal.Sys.uid();
    }

    static Class<?> libc() {
        return dev.reuseport.sys.internal.jnr.JnrLibC.class;
    }
}
