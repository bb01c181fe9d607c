package dev.reuseport;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.Executor;

/**
 * How a group lends its sockets: to the library's own event loops ({@code serve}, {@code serveDatagrams})
 * or to any {@link SocketListener} ({@code attach}, {@code detach}). The public methods here are
 * {@link ReuseportGroup}'s (its only final subclass, through {@link GroupDissectors}; javadoc shows them
 * there): they check their arguments and make one call, to {@link Serving} or to the engine, as the rest
 * of the facade does.
 */
abstract sealed class GroupLending permits GroupDissectors {
    GroupLending() {
    }

    /** The group's engine ({@link ReuseportGroup#engine()}). */
    abstract GroupEngine engine();

    /**
     * Serves this TCP group with the library's own event loops: one epoll loop per worker accepts in
     * batches without blocking and hands each connection, once its first bytes arrived, to {@code handler}
     * on {@code executor}. Serving follows membership by itself (see {@link Serving}): added workers are
     * served at once, removed ones stop after their queue went to the others, restarts and hand-offs drain.
     * Virtual threads work: {@code Executors.newVirtualThreadPerTaskExecutor()} never pins a carrier, as
     * {@link ServedConnection} waits in Java, not in native calls.
     *
     * @param handler  serves one connection; its failures are logged and counted
     * @param executor runs the handlers; a rejection is logged and counted (the connection is closed)
     * @return the serving handle; close it (or the group) to stop
     * @throws IllegalArgumentException {@code handler} or {@code executor} is null
     * @throws UnsupportedOperationException this is a UDP group (use {@link #serveDatagrams(DatagramHandler)})
     * @throws IllegalStateException    the group is served already (by {@code serve} or another I/O engine)
     * @throws GroupClosedException     the group is closed
     * @throws IOException              a loop could not be created (epoll_create1, eventfd)
     */
    public Serving serve(ConnectionHandler handler, Executor executor) throws IOException {
        return Serving.streams((ReuseportGroup) this, handler, executor, Serving.DEFAULT_DRAIN);
    }

    /**
     * As {@link #serve(ConnectionHandler, Executor)}, with the time a retiring loop (a removed worker, a
     * closed or handed-off group, {@link Serving#close()}) gives its connections to finish before closing
     * them.
     *
     * @param handler  serves one connection
     * @param executor runs the handlers
     * @param drain    how long connections in flight may finish when their loop retires; zero or more
     * @return the serving handle
     * @throws IllegalArgumentException a null argument or a negative drain
     * @throws UnsupportedOperationException this is a UDP group
     * @throws IllegalStateException    the group is served already
     * @throws GroupClosedException     the group is closed
     * @throws IOException              a loop could not be created
     */
    public Serving serve(ConnectionHandler handler, Executor executor, Duration drain) throws IOException {
        return Serving.streams((ReuseportGroup) this, handler, executor, drain);
    }

    /**
     * Serves this UDP group with the library's own event loops, calling {@code handler} for every datagram:
     * inline on each worker's loop when {@code executor} is null (keep it short and non-blocking), else on
     * {@code executor} (a rejection drops the datagram, logged and counted). Membership is followed as for
     * {@link #serve(ConnectionHandler, Executor)}; datagrams drained from a leaving socket go to the heir.
     *
     * @param handler  answers one datagram; its failures are logged and counted
     * @param executor runs the handlers, or null to run them on the loops
     * @return the serving handle
     * @throws IllegalArgumentException {@code handler} is null
     * @throws UnsupportedOperationException this is a TCP group
     * @throws IllegalStateException    the group is served already
     * @throws GroupClosedException     the group is closed
     * @throws IOException              a loop could not be created
     */
    public Serving serveDatagrams(DatagramHandler handler, Executor executor) throws IOException {
        return Serving.datagrams((ReuseportGroup) this, handler, executor, Serving.DEFAULT_DRAIN);
    }

    /**
     * {@link #serveDatagrams(DatagramHandler, Executor)} with the handler on the loops.
     *
     * @param handler answers one datagram
     * @return the serving handle
     * @throws IllegalArgumentException {@code handler} is null
     * @throws UnsupportedOperationException this is a TCP group
     * @throws IllegalStateException    the group is served already
     * @throws GroupClosedException     the group is closed
     * @throws IOException              a loop could not be created
     */
    public Serving serveDatagrams(DatagramHandler handler) throws IOException {
        return serveDatagrams(handler, null);
    }

    /**
     * Hands the group's sockets to an external I/O engine: {@code listener} is told of every socket now
     * (with {@link SocketListener#joined}, a duplicate each) and of every later change, as
     * {@link SocketListener} describes, until {@link #detach(SocketListener)} or {@link ReuseportGroup#close()}. One
     * listener that serves traffic ({@link SocketListener#servesTraffic()}: an I/O engine such as
     * {@link #serve serve}'s loops or the Netty adapter) at a time, beside any number of observers (a
     * meter binder, say). If {@code joined} fails for a socket, those already given are taken back
     * ({@code leaving}) and the failure is thrown.
     *
     * @param listener the engine to serve the sockets
     * @throws IOException           what {@code joined} threw, after the sockets given were taken back
     * @throws IllegalStateException {@code listener} is attached already, or it serves traffic and another
     *                               listener that serves traffic is attached
     * @throws GroupClosedException  the group is closed
     */
    public void attach(SocketListener listener) throws IOException {
        engine().attach(BuilderChecks.listener(listener));
    }

    /**
     * Takes the sockets back from {@code listener}: {@link SocketListener#leaving} for each socket it
     * holds; the group keeps serving them itself ({@link Worker#accept}, {@link Worker#receive}). Nothing
     * happens when {@code listener} is not the one attached (or the group is closed: closing told it).
     *
     * @param listener the listener attached with {@link #attach(SocketListener)}
     */
    public void detach(SocketListener listener) {
        engine().detach(listener);
    }
}
