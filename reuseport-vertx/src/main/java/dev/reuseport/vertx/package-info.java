/**
 * Vert.x 5 on a reuseport group: {@link dev.reuseport.vertx.VertxReuseport#transport} gives a transport whose
 * TCP and HTTP servers serve the group's sockets. Vert.x and Netty's epoll transport are the application's
 * dependencies ({@code provided} here).
 */
package dev.reuseport.vertx;
