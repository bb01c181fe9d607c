package dev.reuseport.fleet;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One host's link to etcd, as real TCP: a loopback proxy per etcd member that the host's agent uses as its
 * endpoints. {@link #cut()} is the partition, silent as a link that is down: no byte passes either way, the
 * connections stay open (nothing is reset, nothing times out at the TCP level) and what was sent meanwhile
 * is delivered once {@link #heal()} brings the link back, as TCP retransmission would. Only this host is
 * cut: the coordinator and the other hosts use etcd directly. (The suite's cheapest real cut; {@code bench
 * rollout} downs a veth link of a host in its own network namespace instead.)
 */
final class EtcdLink implements AutoCloseable {
    private final List<ServerSocket> listeners = new ArrayList<>();
    private final List<String> endpoints = new ArrayList<>();
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private volatile boolean cut;
    private volatile boolean closed;

    EtcdLink(List<String> upstream) throws IOException {
        for (String u : upstream) {
            URI uri = URI.create(u);
            InetSocketAddress to = new InetSocketAddress(uri.getHost(), uri.getPort());
            ServerSocket l = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            listeners.add(l);
            endpoints.add("http://127.0.0.1:" + l.getLocalPort());
            Thread t = new Thread(() -> accept(l, to), "etcd-link-" + l.getLocalPort());
            t.setDaemon(true);
            t.start();
        }
    }

    /** The proxies' URLs, one per etcd member. */
    List<String> endpoints() {
        return List.copyOf(endpoints);
    }

    /** The partition: nothing passes until {@link #heal()}. */
    void cut() {
        cut = true;
    }

    /** The link back up. */
    void heal() {
        cut = false;
    }

    private void accept(ServerSocket l, InetSocketAddress to) {
        while (!closed) {
            Socket in;
            try {
                in = l.accept();
            } catch (IOException e) {
                return;
            }
            Socket out = new Socket();
            try {
                in.setTcpNoDelay(true); // gRPC's small frames, as the client would send them itself
                out.setTcpNoDelay(true);
                out.connect(to, 1000);
            } catch (IOException e) {
                reset(in);
                reset(out);
                continue;
            }
            open.add(in);
            open.add(out);
            pump(in, out);
            pump(out, in);
        }
    }

    private void pump(Socket from, Socket to) {
        Thread t = new Thread(() -> {
            byte[] b = new byte[16384];
            try (InputStream i = from.getInputStream(); OutputStream o = to.getOutputStream()) {
                int n;
                while ((n = i.read(b)) >= 0) {
                    while (cut && !closed) {
                        Thread.sleep(5); // held, as a link that is down holds a retransmitted segment
                    }
                    o.write(b, 0, n);
                }
            } catch (IOException | InterruptedException e) {
                // reset or closed: the other direction ends too
            } finally {
                reset(from);
                reset(to);
            }
        }, "etcd-link-pump");
        t.setDaemon(true);
        t.start();
    }

    private void reset(Socket s) {
        open.remove(s);
        try {
            if (!s.isClosed() && s.isConnected()) {
                s.setSoLinger(true, 0); // RST, not FIN: the peer's next read or write fails at once
            }
            s.close();
        } catch (IOException e) {
            // already gone
        }
    }

    @Override
    public void close() {
        closed = true;
        for (ServerSocket l : listeners) {
            try {
                l.close();
            } catch (IOException e) {
                // closing
            }
        }
        for (Socket s : open) {
            reset(s);
        }
    }
}
