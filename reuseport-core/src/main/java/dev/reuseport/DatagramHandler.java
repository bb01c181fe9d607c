package dev.reuseport;

/**
 * Answers one UDP datagram received by {@link ReuseportGroup#serveDatagrams(DatagramHandler)}: inline on
 * the worker's event loop (keep it short and non-blocking), or on an executor with
 * {@link ReuseportGroup#serveDatagrams(DatagramHandler, java.util.concurrent.Executor)}.
 *
 * <p>A handler that throws is logged and counted ({@link Serving#failures()}); the worker goes on serving.
 */
@FunctionalInterface
public interface DatagramHandler {
    /**
     * Handles {@code datagram}; answer with {@link ServedDatagram#reply}.
     *
     * @param datagram the datagram, its sender and the worker that received it
     * @throws Exception anything: logged and counted, serving goes on
     */
    void handle(ServedDatagram datagram) throws Exception;
}
