package dev.reuseport;

import dev.reuseport.bpf.Dissector;
import dev.reuseport.internal.wire.Shown;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;

/**
 * The argument checks of the builder and of the facade's methods: each returns its value, or throws naming
 * it and what is accepted.
 */
final class BuilderChecks {
    private BuilderChecks() {
    }

    static InetAddress address(InetAddress address) {
        if (address == null) {
            throw new IllegalArgumentException("address null is not an address; accepted: an IPv4 or IPv6 "
                    + "address of this host, 0.0.0.0 or ::");
        }
        return address;
    }

    static int port(int port) {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port " + port + " is out of range; accepted: 0..65535 "
                    + "(0 lets the kernel choose)");
        }
        return port;
    }

    static int workers(int workers) {
        if (workers < 1 || workers > ReuseportGroup.MAX_WORKERS) {
            throw new IllegalArgumentException("workers " + workers + " is out of range; accepted: 1.."
                    + ReuseportGroup.MAX_WORKERS);
        }
        return workers;
    }

    static int backlog(int backlog) {
        if (backlog < 1 || backlog > ReuseportGroup.MAX_BACKLOG) {
            throw new IllegalArgumentException("backlog " + backlog + " is out of range; accepted: 1.."
                    + ReuseportGroup.MAX_BACKLOG);
        }
        return backlog;
    }

    static int receiveBuffer(int bytes) {
        if (bytes != 0 && (bytes < ReuseportGroup.MIN_RECEIVE_BUFFER || bytes > ReuseportGroup.MAX_RECEIVE_BUFFER)) {
            throw new IllegalArgumentException("receiveBuffer " + bytes + " is out of range; accepted: 0 "
                    + "(kernel default) or " + ReuseportGroup.MIN_RECEIVE_BUFFER + ".." + ReuseportGroup.MAX_RECEIVE_BUFFER);
        }
        return bytes;
    }

    static Policy policy(Policy policy) {
        if (policy == null) {
            throw new IllegalArgumentException("policy null is not a policy; accepted: "
                    + Policy.Weighted.ACCEPTED);
        }
        return policy;
    }

    static IngestOptions ingest(IngestOptions options) {
        if (options == null) {
            throw new IllegalArgumentException("ingest options null; accepted: IngestOptions.defaults() and its withers");
        }
        return options;
    }

    /** The builder's default address, 0.0.0.0. */
    static InetAddress anyIpv4() {
        try {
            return InetAddress.getByAddress(new byte[4]);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    /** An address literal, not yet parsed ({@link GroupOpening#parseAddress} does that). */
    static String literal(String literal) {
        if (literal == null || literal.isBlank()) {
            throw new IllegalArgumentException("address " + Shown.quote(literal) + " is empty; accepted: an IPv4 "
                    + "or IPv6 literal, 'localhost', '0.0.0.0' or '::'");
        }
        return literal;
    }

    /** A policy to shadow: any but the kernel hash. */
    static Policy shadowCandidate(Policy candidate) {
        if (candidate == null) {
            throw new IllegalArgumentException("policy null cannot be shadowed; accepted: any policy but kernel-hash");
        }
        if (candidate instanceof Policy.KernelHash) {
            throw new IllegalArgumentException("policy kernel-hash cannot be shadowed; accepted: any other policy");
        }
        return candidate;
    }

    /** The watchdog's stall time. */
    static Duration stall(Duration stall) {
        if (stall == null || stall.toMillis() < 10 || stall.toMillis() > 3_600_000) {
            throw new IllegalArgumentException("stall " + stall + "; accepted: 10 ms .. 1 h");
        }
        return stall;
    }

    static SocketListener listener(SocketListener listener) {
        if (listener == null) {
            throw new IllegalArgumentException("socket listener null; accepted: a SocketListener instance");
        }
        return listener;
    }

    static Dissector dissector(Protocol protocol, Dissector d) {
        if (d == null) {
            throw new IllegalArgumentException("dissector null is not a dissector; accepted: Dissector.none(), "
                    + "quic(cidLength), offsetCookie(offset, size), flow(idle)");
        }
        if (protocol == Protocol.TCP && d.kind() != Dissector.Kind.NONE) {
            throw new IllegalArgumentException("dissector " + d + " on a TCP group; accepted for TCP: "
                    + "Dissector.none() (dissectors read UDP datagrams only)");
        }
        return d;
    }
}
