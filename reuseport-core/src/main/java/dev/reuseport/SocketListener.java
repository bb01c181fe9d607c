package dev.reuseport;

import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * Lets an external I/O engine (an event-loop library such as Netty's epoll transport) serve a group's
 * sockets while the group keeps owning them: steering, metrics, fallback, restarts, resizes and removals
 * work as before, and the engine is told of every socket that joins or leaves a slot. Attach one with
 * {@link ReuseportGroup#attach(SocketListener)}; {@code dev.reuseport.netty.NettyReuseport} is the
 * listener for Netty, and {@link ReuseportGroup#serve ReuseportGroup.serve}'s event loops are another.
 * Several listeners may be attached at once: one that serves traffic and any number of observers
 * ({@link #servesTraffic()} false), each told of every change in attach order.
 *
 * <p><b>Ownership.</b> {@link #joined} passes a duplicate of the group's descriptor (fcntl
 * F_DUPFD_CLOEXEC, non-blocking like the original, since both share one open file description). The
 * duplicate is the listener's from the moment {@code joined} is called, even when it throws: the group
 * never closes it. {@link #leaving} asks for it back: the listener stops using it and closes it before
 * the call returns, and only then does the group drain or close its own descriptor. This order matters
 * to the kernel: a socket stays in the SO_REUSEPORT group, and keeps its queue, for as long as any
 * descriptor refers to it.
 * <ul>
 * <li>TCP: when a listener was lent, the group also shuts the leaving socket down for reading
 * ({@code shutdown(SHUT_RD)}) just before closing its own descriptor. On a listener that removes it from
 * the SO_REUSEPORT group and moves its accept queue (with the select-or-migrate program: to the socket
 * the program picks; without it: the queue is reset, exactly as a close would do) even if a duplicate is
 * still open somewhere, so a listener that failed to close in time costs no connection where the kernel
 * migrates.</li>
 * <li>UDP has no such thing: a duplicate left open keeps the old socket in the group, receiving its share
 * of new flows under the kernel hash, with nobody reading it. Close it in {@code leaving}.</li>
 * </ul>
 *
 * <p><b>Order.</b> A restart or {@link ReuseportGroup#replaceWorker replaceWorker} calls {@code joined}
 * with the slot's new socket before {@code leaving} with its old one, so the engine serves the new socket
 * before the old one goes; {@link ReuseportGroup#addWorker addWorker} (and a growing
 * {@link ReuseportGroup#resize resize}) calls {@code joined}; {@link ReuseportGroup#removeWorker
 * removeWorker} (and a shrinking resize) calls {@code leaving} after the steering table stopped naming
 * the slot; {@link ReuseportGroup#close()}, {@link ReuseportGroup#detach(SocketListener)} and a
 * cross-process hand-off call {@code leaving} for every socket. All calls come from the thread running
 * that group operation, with the group held (no other membership or policy change meanwhile), one at a
 * time. Do not call the group's membership or policy methods from inside a callback, and make
 * {@code leaving} bounded: the group waits for it.
 *
 * <p><b>Hand-over.</b> When the kernel cannot move a leaving socket's queue (UDP always; TCP without the
 * select-or-migrate program), the group drains it after {@code leaving} returned and passes what it took
 * to {@link #handedOver(Worker, Connection)} or {@link #handedOver(Worker, byte[], InetSocketAddress)},
 * naming the worker that inherits it (the same worker on a restart, a survivor on a removal). With a
 * listener attached nothing drained goes to {@link Worker#accept}/{@link Worker#receive}.
 *
 * <p><b>Counting.</b> The group does not see what the engine accepts or receives: call
 * {@link Worker#recordAccepted()}, {@link Worker#recordReceived()} and {@link Worker#recordSent()} so that
 * {@link Worker#stats()}, the metrics sampler and the controller count the engine's traffic (handed-over
 * connections and datagrams too: the group counts none of them for you).
 */
public interface SocketListener {
    /**
     * The worker's slot now has a socket and {@code fd} is a duplicate of it that the listener owns.
     * Start serving it. A failure thrown here is reported by the group operation that called it (after that
     * operation completed, for a restart; an added worker is taken out again).
     *
     * @param worker the worker whose slot the socket serves
     * @param fd     a duplicate of the socket's descriptor, owned by the listener from now on
     * @throws IOException when the engine cannot serve it (the group reports it and gives the slot back)
     */
    void joined(Worker worker, int fd) throws IOException;

    /**
     * The socket behind {@code fd} (the duplicate given to {@link #joined}) is leaving the worker's slot:
     * stop using {@code fd} and close it before returning. A failure is logged and audited; the group goes
     * on.
     *
     * @param worker the worker whose slot the socket served
     * @param fd     the duplicate given to {@link #joined}, to close before returning
     */
    void leaving(Worker worker, int fd);

    /**
     * A connection the group accepted from a leaving listener's queue because the kernel could not
     * migrate it; {@code heir} is the worker to serve it. It is non-blocking and now the listener's: serve
     * it, or close it. Take the descriptor with {@link Connection#detach()} to hand it to an engine.
     *
     * @param heir       the worker that inherits the connection
     * @param connection the accepted connection, non-blocking, owned by the listener
     */
    void handedOver(Worker heir, Connection connection);

    /**
     * A datagram the group read from a leaving socket's receive queue, sent by {@code sender}; {@code heir}
     * is the worker to answer it.
     *
     * @param heir     the worker that inherits the datagram
     * @param datagram its payload, the listener's to keep
     * @param sender   where it came from (where an answer goes)
     */
    void handedOver(Worker heir, byte[] datagram, InetSocketAddress sender);

    /**
     * Whether this listener serves the sockets' traffic (an I/O engine, which receives the hand-overs) or
     * only observes membership (a meter binder, an audit hook). A group takes one traffic-serving listener
     * at a time and any number of observers; drained work goes to the traffic-serving one. An observer
     * still gets a duplicate in {@link #joined} and must close it in {@link #leaving}.
     *
     * @return true (the default) for an engine, false for an observer
     */
    default boolean servesTraffic() {
        return true;
    }
}
