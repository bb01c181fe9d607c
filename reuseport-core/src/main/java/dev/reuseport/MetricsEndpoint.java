package dev.reuseport;

import dev.reuseport.internal.wire.Shown;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * An optional HTTP endpoint serving {@code GET /metrics} in the Prometheus text format from a
 * {@link PrometheusExporter}, on the JDK's own HTTP server (module {@code jdk.httpserver}). Nothing listens
 * unless the application starts one, on the address it chooses. Each scrape reads counters only, so
 * scrapes never disturb another reader's windows. Other paths get 404, other methods 405.
 */
public final class MetricsEndpoint implements AutoCloseable {
    private final HttpServer server;
    private final ExecutorService executor;

    private MetricsEndpoint(HttpServer server, ExecutorService executor) {
        this.server = server;
        this.executor = executor;
    }

    /**
     * Starts serving {@code /metrics} at {@code address} on one daemon thread named
     * {@code reuseport-metrics-http}.
     *
     * @param address  where to listen, e.g. {@code 127.0.0.1:9464}; port 0 picks a free one
     * @param exporter what to serve
     * @return the running endpoint; {@link #close()} stops it
     * @throws IllegalArgumentException when an argument is null or the address is unresolved
     * @throws AddressInUseException when the port is taken, naming the address
     * @throws IOException when the server cannot be started for another reason
     */
    public static MetricsEndpoint start(InetSocketAddress address, PrometheusExporter exporter) throws IOException {
        if (address == null || exporter == null) {
            throw new IllegalArgumentException("address " + address + ", exporter " + exporter
                    + "; accepted: an address to listen on and an exporter");
        }
        if (address.isUnresolved()) {
            throw new IllegalArgumentException("metrics address " + address + " is unresolved; accepted: an IP "
                    + "address and port, e.g. 127.0.0.1:9464");
        }
        HttpServer server;
        try {
            server = HttpServer.create(address, 16);
        } catch (BindException e) {
            throw new AddressInUseException("metrics endpoint: cannot listen on " + address.getAddress()
                    .getHostAddress() + ":" + address.getPort() + " (" + e.getMessage() + "); accepted: a free port",
                    e);
        }
        ExecutorService ex = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "reuseport-metrics-http");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(ex);
        server.createContext("/", x -> handle(x, exporter));
        server.start();
        return new MetricsEndpoint(server, ex);
    }

    private static void handle(HttpExchange x, PrometheusExporter exporter) throws IOException {
        try (x) {
            String path = x.getRequestURI().getPath();
            if (!path.equals("/metrics")) {
                reply(x, 404, "text/plain; charset=utf-8", "not found: " + Shown.printable(path)
                        + "; served: /metrics\n");
                return;
            }
            if (!x.getRequestMethod().equals("GET") && !x.getRequestMethod().equals("HEAD")) {
                reply(x, 405, "text/plain; charset=utf-8", "method " + Shown.printable(x.getRequestMethod())
                        + " not allowed; accepted: GET, HEAD\n");
                return;
            }
            reply(x, 200, PrometheusExporter.CONTENT_TYPE, exporter.scrape());
        }
    }

    private static void reply(HttpExchange x, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        x.getResponseHeaders().set("Content-Type", type);
        boolean head = x.getRequestMethod().equals("HEAD");
        x.sendResponseHeaders(status, head ? -1 : bytes.length);
        if (!head) {
            try (OutputStream o = x.getResponseBody()) {
                o.write(bytes);
            }
        }
    }

    /**
     * Where the endpoint listens (the port chosen when 0 was asked for).
     *
     * @return the bound address
     */
    public InetSocketAddress address() {
        return server.getAddress();
    }

    /** Stops listening at once and ends the thread. */
    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
