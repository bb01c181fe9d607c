package dev.reuseport;

/**
 * Serves one TCP connection accepted by {@link ReuseportGroup#serve(ConnectionHandler,
 * java.util.concurrent.Executor)}. It runs on the executor given to {@code serve}, once the connection's
 * first bytes arrived (or its peer closed); the connection is closed when it returns or throws. Reads and
 * writes on a {@link ServedConnection} never block in native code: a virtual thread waiting on one
 * unmounts from its carrier.
 *
 * <p>A handler that throws is logged and counted ({@link Serving#failures()}); the worker goes on serving.
 */
@FunctionalInterface
public interface ConnectionHandler {
    /**
     * Serves {@code connection}.
     *
     * @param connection the accepted connection; closed by the library when this returns
     * @throws Exception anything: logged and counted, the connection closed, serving goes on
     */
    void handle(ServedConnection connection) throws Exception;
}
