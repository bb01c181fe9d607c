package dev.reuseport.sys.internal;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Locale;

/**
 * Chooses the native backend once: FFM on JDK 22+ (the class lives in the multi-release part of the
 * JAR), jnr-ffi otherwise. {@code -Dreuseport.backend=ffm|jnr} forces one; a forced backend that cannot
 * load is an error, an automatic choice falls back to jnr and records why.
 */
public final class Native {
    /** The system property that forces a backend. */
    public static final String BACKEND_PROPERTY = "reuseport.backend";

    private static final System.Logger LOG = System.getLogger("dev.reuseport.sys");
    private static final NativeBackend BACKEND;
    private static final String CHOICE_REASON;

    static {
        String forced = System.getProperty(BACKEND_PROPERTY, "").trim().toLowerCase(Locale.ROOT);
        int feature = Runtime.version().feature();
        NativeBackend chosen;
        String reason;
        switch (forced) {
            case "ffm" -> {
                chosen = loadFfm(feature); // throws with the reason when it cannot
                reason = "forced by -D" + BACKEND_PROPERTY + "=ffm";
            }
            case "jnr" -> {
                chosen = new JnrBackend();
                reason = "forced by -D" + BACKEND_PROPERTY + "=jnr";
            }
            case "" -> {
                NativeBackend ffm = null;
                String why;
                if (feature >= 22) {
                    try {
                        ffm = loadFfm(feature);
                        why = "JDK " + feature + " has the Foreign Function & Memory API";
                    } catch (RuntimeException | LinkageError e) {
                        why = "FFM unavailable on JDK " + feature + " (" + e.getMessage() + "), using jnr-ffi";
                        LOG.log(System.Logger.Level.WARNING, why);
                    }
                } else {
                    why = "JDK " + feature + " has no final FFM API (needs 22+), using jnr-ffi";
                }
                chosen = ffm != null ? ffm : new JnrBackend();
                reason = why;
            }
            default -> throw new IllegalArgumentException("-D" + BACKEND_PROPERTY + "=" + forced
                    + " is not a backend; accepted: ffm, jnr");
        }
        BACKEND = chosen;
        CHOICE_REASON = reason;
        LOG.log(System.Logger.Level.DEBUG, "native backend " + chosen.name() + ": " + reason);
    }

    private Native() {
    }

    private static NativeBackend loadFfm(int feature) {
        if (feature < 22) {
            throw new IllegalStateException("the FFM backend needs JDK 22 or later; this is JDK " + feature);
        }
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            Class<?> type = lookup.findClass("dev.reuseport.sys.internal.FfmBackend");
            MethodHandle create = lookup.findStatic(type, "create", MethodType.methodType(NativeBackend.class));
            return (NativeBackend) create.invokeExact();
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("the FFM backend class is missing: run from the reuseport-native JAR "
                    + "(its META-INF/versions/22 holds it; a classes directory does not)", e);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("cannot create the FFM backend: " + e, e);
        }
    }

    static NativeBackend backend() {
        return BACKEND;
    }

    /** The backend in use: {@code ffm} or {@code jnr}. */
    public static String backendName() {
        return BACKEND.name();
    }

    /** Why that backend was chosen. */
    public static String backendReason() {
        return CHOICE_REASON;
    }
}
