/**
 * gRPC-java on a reuseport group: {@link dev.reuseport.grpc.GrpcReuseport#serverBuilder} gives a
 * {@code NettyServerBuilder} whose server serves the group's sockets. gRPC ({@code grpc-netty}) and Netty's
 * epoll transport are the application's dependencies ({@code provided} here).
 */
package dev.reuseport.grpc;
