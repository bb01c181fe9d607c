package dev.reuseport.internal.serve;

/** Serves one accepted connection; the engine closes it when this returns or throws. */
@FunctionalInterface
public interface StreamService {
    /** Serves {@code stream} on an executor thread. */
    void serve(Stream stream) throws Exception;
}
