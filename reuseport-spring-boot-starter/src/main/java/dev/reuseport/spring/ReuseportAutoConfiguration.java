package dev.reuseport.spring;

import dev.reuseport.ControlSocket;
import dev.reuseport.Policy;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.micrometer.ReuseportMeterBinder;
import io.micrometer.core.instrument.Tags;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.reactor.netty.NettyReactiveWebServerFactory;
import org.springframework.boot.reactor.netty.NettyServerCustomizer;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Lazy;
import org.springframework.core.Ordered;
import org.springframework.core.env.Environment;

/**
 * Opens the group described by {@code reuseport.*} and, when WebFlux runs on Reactor Netty, serves the
 * web server on its sockets; adds the Micrometer binder, the health indicator and the {@code reuseport}
 * Actuator endpoint when those are on the class path.
 */
@AutoConfiguration
@ConditionalOnClass(ReuseportGroup.class)
@ConditionalOnProperty(prefix = "reuseport", name = "enabled", matchIfMissing = true)
@EnableConfigurationProperties(ReuseportProperties.class)
public class ReuseportAutoConfiguration {
    /** Creates the auto-configuration (Spring does). */
    public ReuseportAutoConfiguration() {
    }

    /**
     * The group: {@code reuseport.address}, {@code reuseport.port} (or {@code server.port}),
     * {@code reuseport.workers}, {@code reuseport.backlog} and {@code reuseport.policy}. Closed with the
     * context.
     *
     * @param props the bound properties
     * @param env   for {@code server.port}
     * @return the open group
     * @throws IOException the group could not be opened (the address in use, for instance)
     */
    @Bean(destroyMethod = "close")
    @ConditionalOnMissingBean
    public ReuseportGroup reuseportGroup(ReuseportProperties props, Environment env) throws IOException {
        int port = props.getPort() != null ? props.getPort() : env.getProperty("server.port", Integer.class, 8080);
        ReuseportGroup.Builder b = ReuseportGroup.tcp().address(props.getAddress()).port(port)
                .workers(props.getWorkers()).backlog(props.getBacklog()).policy(Policy.parse(props.getPolicy()));
        ReuseportProperties.Control control = props.getControl();
        if (control.isTakeOver()) {
            if (control.getPath() == null) {
                throw new IllegalArgumentException("reuseport.control.take-over=true needs reuseport.control.path; "
                        + "accepted: the path of the control socket the running application serves");
            }
            return ReuseportGroup.takeOver(Path.of(control.getPath()), b);
        }
        return b.open();
    }

    /**
     * The control socket at {@code reuseport.control.path} (taken over from the application serving it when
     * {@code reuseport.control.take-over}); closed with the context. Once it handed the group off, the group
     * here is closed and the health indicator says DOWN: stop the application. Served once the web server
     * has started ({@link #reuseportControlStarter}), so that with {@code spring.main.lazy-initialization}
     * nothing asks for the group before the web server binds: a taking-over application then takes the
     * group over when it is ready to serve it, and new connections do not wait in the sockets' queues for
     * the rest of its start.
     *
     * @param group the group
     * @param props the bound properties
     * @return the serving control socket
     * @throws IOException the socket could not be created
     */
    @Bean(destroyMethod = "close")
    @Lazy
    @ConditionalOnMissingBean
    @ConditionalOnProperty(prefix = "reuseport.control", name = "path")
    public ControlSocket reuseportControlSocket(ReuseportGroup group, ReuseportProperties props) throws IOException {
        return ControlSocket.serve(group, Path.of(props.getControl().getPath()), props.getControl().isTakeOver());
    }

    /**
     * Serves the control socket bean once the web server has started (the phase right after Boot's web
     * server start), or at once where there is no web server.
     *
     * @param control the control socket bean, created on start
     * @return the lifecycle bean
     */
    @Bean
    @Lazy(false)
    @ConditionalOnProperty(prefix = "reuseport.control", name = "path")
    public SmartLifecycle reuseportControlStarter(ObjectProvider<ControlSocket> control) {
        return new SmartLifecycle() {
            private volatile boolean running;

            @Override
            public void start() {
                control.getObject();
                running = true;
            }

            @Override
            public void stop() {
                running = false; // the bean closes with the context
            }

            @Override
            public boolean isRunning() {
                return running;
            }

            @Override
            public int getPhase() {
                return Integer.MAX_VALUE - 2048 + 1; // Boot's web server starts at MAX_VALUE - 2048
            }
        };
    }

    /**
     * One epoll event loop per worker, serving the group's sockets; shut down with the context.
     *
     * @param props the bound properties
     * @return the loops, wrapped for a graceful shutdown
     */
    @Bean
    @ConditionalOnMissingBean
    public ReuseportEventLoops reuseportEventLoops(ReuseportProperties props) {
        return new ReuseportEventLoops(new MultiThreadIoEventLoopGroup(props.getWorkers(),
                EpollIoHandler.newFactory()));
    }

    /**
     * The Micrometer binder: per-worker kernel metrics on every registry.
     *
     * @param group the group
     * @param props the bound properties ({@code reuseport.metrics.refresh})
     * @return the binder
     */
    @Bean
    @ConditionalOnMissingBean
    @ConditionalOnClass(name = "io.micrometer.core.instrument.binder.MeterBinder")
    public ReuseportMeterBinder reuseportMeterBinder(ReuseportGroup group, ReuseportProperties props) {
        return new ReuseportMeterBinder(group, props.getMetrics().getRefresh(), Tags.empty());
    }

    /**
     * The health indicator {@code reuseport}.
     *
     * @param group the group
     * @return DOWN when the group is closed, no worker serves, or the controller holds FALLBACK
     */
    @Bean
    @ConditionalOnMissingBean
    @ConditionalOnClass(name = "org.springframework.boot.health.contributor.HealthIndicator")
    public ReuseportHealthIndicator reuseportHealthIndicator(ReuseportGroup group) {
        return new ReuseportHealthIndicator(group);
    }

    /**
     * The Actuator endpoint {@code reuseport} (expose it with
     * {@code management.endpoints.web.exposure.include}).
     *
     * @param group the group
     * @param props the bound properties ({@code reuseport.endpoint.writes-enabled})
     * @return the endpoint
     */
    @Bean
    @ConditionalOnMissingBean
    @ConditionalOnClass(name = "org.springframework.boot.actuate.endpoint.annotation.Endpoint")
    public ReuseportEndpoint reuseportEndpoint(ReuseportGroup group, ReuseportProperties props) {
        return new ReuseportEndpoint(group, props.getEndpoint().isWritesEnabled());
    }

    /** WebFlux's Reactor Netty server on the group's sockets. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = {"reactor.netty.http.server.HttpServer",
            "org.springframework.boot.reactor.netty.NettyServerCustomizer"})
    @ConditionalOnProperty(prefix = "reuseport.web", name = "enabled", matchIfMissing = true)
    public static class WebFlux {
        /** Creates the configuration (Spring does). */
        public WebFlux() {
        }

        /**
         * Makes Reactor Netty bind a {@link dev.reuseport.netty.GroupServerChannel} at the group's address
         * and run on the group's loops. Boot's web server would replace the server's loop resources with
         * its {@code ReactorResourceFactory}'s when it starts ({@code NettyWebServer} calls
         * {@code runOn} with them if the factory has one), so this customizer also takes that resource
         * factory off the web server factory; the application's {@code WebClient}s keep using it.
         *
         * @param group the group
         * @param loops its loops
         * @return the customizer Boot applies to the web server factory
         */
        @Bean
        public WebServerFactoryCustomizer<NettyReactiveWebServerFactory> reuseportWebServerCustomizer(
                ObjectProvider<ReuseportGroup> group, ReuseportEventLoops loops) {
            // the group is asked for when the server binds, not now: see reuseportControlSocket
            ReuseportLoopResources resources = new ReuseportLoopResources(group::getObject, loops.group());
            return new WebServerCustomizer(group::getObject, resources);
        }
    }

    /** Runs last among the factory customizers, so the group's address and loops are what Reactor Netty gets. */
    static final class WebServerCustomizer implements WebServerFactoryCustomizer<NettyReactiveWebServerFactory>,
            Ordered {
        private final java.util.function.Supplier<ReuseportGroup> group;
        private final ReuseportLoopResources resources;

        WebServerCustomizer(java.util.function.Supplier<ReuseportGroup> group, ReuseportLoopResources resources) {
            this.group = group;
            this.resources = resources;
        }

        @Override
        public void customize(NettyReactiveWebServerFactory factory) {
            factory.setResourceFactory(null);
            // the bind address (and so the port the web server reports) is the group's, asked for at bind
            factory.addServerCustomizers((NettyServerCustomizer) server -> server.runOn(resources, true)
                    .bindAddress(() -> group.get().localAddress()));
        }

        @Override
        public int getOrder() {
            return Ordered.LOWEST_PRECEDENCE;
        }
    }

    /** The group's event loops as a bean that shuts them down with the context. */
    public static final class ReuseportEventLoops implements DisposableBean {
        private final EventLoopGroup group;

        /**
         * Wraps loops.
         *
         * @param group epoll loops
         */
        public ReuseportEventLoops(EventLoopGroup group) {
            this.group = group;
        }

        /**
         * The loops.
         *
         * @return the event loop group
         */
        public EventLoopGroup group() {
            return group;
        }

        @Override
        public void destroy() {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
