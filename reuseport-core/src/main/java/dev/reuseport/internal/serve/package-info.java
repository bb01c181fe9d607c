/**
 * The serving loop behind {@code ReuseportGroup.serve} and {@code serveDatagrams}: one epoll event loop
 * per worker slot, fed by the group's socket-lending mechanism. Internal: not exported; it knows nothing
 * of the facade package, which adapts its workers to {@link dev.reuseport.internal.serve.Member}.
 */
package dev.reuseport.internal.serve;
