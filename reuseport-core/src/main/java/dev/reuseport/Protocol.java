package dev.reuseport;

/** The transport of a listener group. */
public enum Protocol {
    /** Listening TCP sockets; workers accept connections. */
    TCP,
    /** Bound UDP sockets; workers receive and send datagrams. */
    UDP
}
