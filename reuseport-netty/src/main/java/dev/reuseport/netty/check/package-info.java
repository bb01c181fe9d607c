/**
 * Checking QUIC on a group end to end, for tests, benchmarks and demos: a self-signed server certificate
 * ({@link dev.reuseport.netty.check.QuicEcho#selfSignedServerSsl()}), an echo server codec, long-lived clients
 * that open a checked echo stream every period ({@link dev.reuseport.netty.check.QuicEchoClients}) and a UDP
 * relay that moves clients to new source ports as a NAT rebinding does ({@link dev.reuseport.netty.check.NatRelay}).
 * The library's tests, {@code bench quic} and {@code netty-echo --quic} share these.
 *
 * <p>Not for production traffic: the certificate is self-signed and the clients trust any certificate.
 * Needs Netty's QUIC codec ({@code netty-codec-classes-quic} and its native) and the epoll transport at run
 * time, as {@link dev.reuseport.netty.NettyQuic} does.
 */
package dev.reuseport.netty.check;
