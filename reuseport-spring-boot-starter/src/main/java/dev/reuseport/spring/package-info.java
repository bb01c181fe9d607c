/**
 * Spring Boot 4 starter: {@code reuseport.*} properties open a group, WebFlux's Reactor Netty server serves
 * its sockets ({@link dev.reuseport.spring.ReuseportLoopResources}), with a Micrometer binder, a health
 * indicator and the {@code reuseport} Actuator endpoint ({@link dev.reuseport.spring.ReuseportEndpoint}).
 */
package dev.reuseport.spring;
