package dev.reuseport.examples.bench.harness;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The C side of the UDP ingest bench, compiled at run time with the machine's {@code cc} (as the
 * reference harness in {@code perf/} does): a GSO sender, the C receivers that set the limits, the
 * flow calibration, and a raw-socket flow sender that gives every datagram its own source address and
 * port. One binary, several modes:
 * <ul>
 * <li>{@code send PORT PAYLOAD SEGS SECONDS P1,P2,...}: one connected socket per source port (bound
 *     to it, so the flows are the calibrated ones), sendmmsg of 4 UDP_SEGMENT trains of SEGS x PAYLOAD
 *     per call, round robin over the flows, until SECONDS pass.</li>
 * <li>{@code recv PORT WORKERS mmsg|gro BATCH WARM SECONDS}: WORKERS SO_REUSEPORT sockets bound in order,
 *     a thread each, blocking recvmmsg (GRO: segments counted from the UDP_GRO message); prints
 *     {@code READY port}; the window opens WARM seconds after the first datagram; prints the
 *     {@link IngestRun} RESULT line (rate, the process's CPU per datagram, receive-buffer drops).</li>
 * <li>{@code map PORT WORKERS PER}: finds PER source ports that the kernel's reuseport hash gives each
 *     of WORKERS sockets bound in order on PORT; prints them interleaved (worker 0, 1, .., 0, 1, ..).</li>
 * <li>{@code flows PORT FIRST COUNT CHUNK [rev]}: raw IPv4 UDP datagrams (with {@code rev}, flows in
 *     descending order) to 127.0.0.1:PORT, flow {@code i}
 *     from 127.1.(i / 50000 / 256).(i / 50000 % 256) port 10000 + i % 50000 carrying {@code i} (4 bytes,
 *     host order); after each CHUNK it prints {@code CHUNK n} and waits for a line on standard input.</li>
 * <li>{@code spray PORT FLOWS SECONDS}: the same datagrams, flows 0..FLOWS-1 over and over as fast as one
 *     thread sends them, until SECONDS pass; prints {@code SENT n}.</li>
 * </ul>
 */
public final class IngestC {
    private final Path binary;

    private IngestC(Path binary) {
        this.binary = binary;
    }

    /**
     * Writes the source into {@code dir} and compiles it ({@code $CC} or {@code cc}).
     *
     * @param dir a private temporary directory
     * @return the compiled program
     * @throws IOException when the compiler is missing or fails (its output is in the message)
     * @throws InterruptedException when interrupted
     */
    public static IngestC compile(Path dir) throws IOException, InterruptedException {
        Path src = dir.resolve("ingest.c");
        Files.writeString(src, SOURCE);
        Path bin = dir.resolve("ingest");
        String cc = System.getenv().getOrDefault("CC", "cc");
        run(List.of(cc, "-O2", "-pthread", "-o", bin.toString(), src.toString()), 120);
        return new IngestC(bin);
    }

    /**
     * The command line of a mode, prefixed with {@code taskset -c CPU} when {@code cpu >= 0}.
     *
     * @param cpu  the CPU to confine the whole process to, or -1
     * @param args the mode and its arguments
     * @return the command
     */
    public List<String> command(int cpu, String... args) {
        List<String> cmd = new ArrayList<>(pinned(cpu));
        cmd.add(binary.toString());
        cmd.addAll(List.of(args));
        return cmd;
    }

    /**
     * {@code taskset -c CPU} (the whole process and every thread it starts), or nothing.
     *
     * @param cpu a CPU number, or -1 for none
     * @return the prefix
     */
    public static List<String> pinned(int cpu) {
        return cpu < 0 ? List.of() : List.of("taskset", "-c", Integer.toString(cpu));
    }

    /**
     * Source ports that spread evenly over {@code workers} reuseport sockets bound in order on {@code port}.
     *
     * @param port      the receivers' port
     * @param workers   the sockets
     * @param perWorker flows per socket
     * @return {@code workers * perWorker} ports, interleaved
     * @throws IOException when the calibration fails
     * @throws InterruptedException when interrupted
     */
    public int[] calibrate(int port, int workers, int perWorker) throws IOException, InterruptedException {
        String out = run(command(-1, "map", Integer.toString(port), Integer.toString(workers),
                Integer.toString(perWorker)), 60);
        String[] parts = out.trim().split(",");
        int[] ports = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            ports[i] = Integer.parseInt(parts[i].trim());
        }
        return ports;
    }

    /**
     * Runs a command to its end within the timeout.
     *
     * @param cmd            the command
     * @param timeoutSeconds the most it may take
     * @return its standard output (and error)
     * @throws IOException when it fails or takes too long
     * @throws InterruptedException when interrupted
     */
    public static String run(List<String> cmd, int timeoutSeconds) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(cmd + " did not finish in " + timeoutSeconds + " s");
        }
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed (" + p.exitValue() + "): " + text);
        }
        return text;
    }

    private static final String SOURCE = """
            #define _GNU_SOURCE
            #include <arpa/inet.h>
            #include <errno.h>
            #include <netinet/in.h>
            #include <netinet/ip.h>
            #include <netinet/udp.h>
            #include <poll.h>
            #include <pthread.h>
            #include <stdio.h>
            #include <stdlib.h>
            #include <string.h>
            #include <sys/resource.h>
            #include <sys/socket.h>
            #include <time.h>
            #include <unistd.h>
            #ifndef SOL_UDP
            #define SOL_UDP 17
            #endif
            #define UDP_SEGMENT_OPT 103
            #define UDP_GRO_OPT 104

            static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
            static double cpu_now(void) {
                struct rusage ru; getrusage(RUSAGE_SELF, &ru);
                return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
            }
            static unsigned long long rcvbuf_errors(void) {
                FILE *f = fopen("/proc/net/snmp", "r"); char line[1024]; int seen = 0; unsigned long long e = 0;
                if (!f) return 0;
                while (fgets(line, sizeof line, f))
                    if (!strncmp(line, "Udp:", 4) && ++seen == 2) {
                        unsigned long long a, b, c, d; sscanf(line, "Udp: %llu %llu %llu %llu %llu", &a, &b, &c, &d, &e);
                    }
                fclose(f); return e;
            }
            static int bound(int port, int reuse) {
                int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1, rb = 4 << 20;
                struct sockaddr_in me = {.sin_family = AF_INET, .sin_port = htons(port)};
                inet_pton(AF_INET, "127.0.0.1", &me.sin_addr);
                if (reuse) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
                else setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);
                if (bind(fd, (struct sockaddr *)&me, sizeof me) != 0) { perror("bind"); exit(2); }
                return fd;
            }

            static int do_send(char **a) {
                int port = atoi(a[0]), payload = atoi(a[1]), segs = atoi(a[2]);
                double secs = atof(a[3]);
                int flows = 1; for (char *c = a[4]; *c; c++) flows += *c == ',';
                int *fd = calloc(flows, sizeof(int));
                struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(port)};
                inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
                char *tok = strtok(a[4], ",");
                for (int i = 0; i < flows && tok; i++, tok = strtok(NULL, ",")) {
                    fd[i] = bound(atoi(tok), 0);
                    int sb = 4 << 20; setsockopt(fd[i], SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
                    if (connect(fd[i], (struct sockaddr *)&dst, sizeof dst) != 0) { perror("connect"); return 1; }
                }
                enum { B = 4 };
                size_t len = (size_t)payload * segs;
                char *buf = calloc(1, len);
                struct mmsghdr m[B]; struct iovec iov[B];
                char ctl[B][CMSG_SPACE(sizeof(unsigned short))];
                memset(m, 0, sizeof m); memset(ctl, 0, sizeof ctl);
                for (int i = 0; i < B; i++) {
                    iov[i].iov_base = buf; iov[i].iov_len = len;
                    m[i].msg_hdr.msg_iov = &iov[i]; m[i].msg_hdr.msg_iovlen = 1;
                    if (segs > 1) {
                        m[i].msg_hdr.msg_control = ctl[i]; m[i].msg_hdr.msg_controllen = sizeof ctl[i];
                        struct cmsghdr *c = CMSG_FIRSTHDR(&m[i].msg_hdr);
                        c->cmsg_level = SOL_UDP; c->cmsg_type = UDP_SEGMENT_OPT; c->cmsg_len = CMSG_LEN(sizeof(unsigned short));
                        unsigned short s = payload; memcpy(CMSG_DATA(c), &s, sizeof s);
                    }
                }
                double end = now() + secs; unsigned long calls = 0;
                for (int f = 0; ; f = (f + 1) % flows) {
                    if ((calls & 63) == 0 && now() > end) break;
                    sendmmsg(fd[f], m, B, 0);
                    calls++;
                }
                return 0;
            }

            struct rx { int fd, gro, batch; volatile unsigned long n; char pad[64]; };

            static void *rx_run(void *arg) {
                struct rx *x = arg;
                int b = x->batch; size_t bl = x->gro ? 65536 : 2048;
                char *buf = malloc(bl * b);
                struct mmsghdr *m = calloc(b, sizeof *m); struct iovec *iov = calloc(b, sizeof *iov);
                struct sockaddr_in *from = calloc(b, sizeof *from);
                char (*ctl)[64] = calloc(b, 64);
                for (;;) {
                    for (int i = 0; i < b; i++) {
                        iov[i].iov_base = buf + bl * i; iov[i].iov_len = bl;
                        m[i].msg_hdr.msg_iov = &iov[i]; m[i].msg_hdr.msg_iovlen = 1;
                        m[i].msg_hdr.msg_name = &from[i]; m[i].msg_hdr.msg_namelen = sizeof from[i];
                        m[i].msg_hdr.msg_control = x->gro ? ctl[i] : NULL; m[i].msg_hdr.msg_controllen = x->gro ? 64 : 0;
                    }
                    int r = recvmmsg(x->fd, m, b, MSG_WAITFORONE, NULL);
                    if (r < 0) { if (errno == EINTR) continue; perror("recvmmsg"); exit(3); }
                    unsigned long add = 0;
                    for (int i = 0; i < r; i++) {
                        int gso = 0;
                        if (x->gro)
                            for (struct cmsghdr *c = CMSG_FIRSTHDR(&m[i].msg_hdr); c; c = CMSG_NXTHDR(&m[i].msg_hdr, c))
                                if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO_OPT) memcpy(&gso, CMSG_DATA(c), sizeof gso);
                        add += gso > 0 ? (m[i].msg_len + gso - 1) / gso : 1;
                    }
                    x->n += add;
                }
                return NULL;
            }

            static unsigned long total(struct rx *x, int w) { unsigned long s = 0; for (int i = 0; i < w; i++) s += x[i].n; return s; }

            static int do_recv(char **a) {
                int port = atoi(a[0]), w = atoi(a[1]), gro = !strcmp(a[2], "gro"), batch = atoi(a[3]);
                double warm = atof(a[4]), secs = atof(a[5]);
                struct rx *x = calloc(w, sizeof *x);
                for (int i = 0; i < w; i++) {
                    int one = 1;
                    x[i].fd = bound(port, 1);
                    if (gro && setsockopt(x[i].fd, SOL_UDP, UDP_GRO_OPT, &one, sizeof one) != 0) { perror("UDP_GRO"); return 1; }
                    x[i].gro = gro; x[i].batch = batch;
                }
                for (int i = 0; i < w; i++) { pthread_t t; pthread_create(&t, NULL, rx_run, &x[i]); }
                printf("READY %d\\n", port); fflush(stdout);
                double limit = now() + 30;
                while (total(x, w) == 0) { if (now() > limit) { fprintf(stderr, "no datagram in 30 s\\n"); return 4; } usleep(1000); }
                usleep((useconds_t)(warm * 1e6));
                unsigned long long e0 = rcvbuf_errors();
                double c0 = cpu_now(), t0 = now(); unsigned long n0 = total(x, w);
                usleep((useconds_t)(secs * 1e6));
                unsigned long n1 = total(x, w); double t1 = now(), c1 = cpu_now();
                unsigned long long e1 = rcvbuf_errors();
                double n = (double)(n1 - n0);
                printf("RESULT rate=%.0f cpu_ns=%.1f drops=%.0f gcs=0 alloc=-1\\n", n / (t1 - t0),
                       n > 0 ? (c1 - c0) * 1e9 / n : 0, (e1 - e0) / (t1 - t0));
                fflush(stdout);
                _exit(0);
            }

            static int do_map(char **a) {
                int port = atoi(a[0]), w = atoi(a[1]), per = atoi(a[2]);
                int *fd = calloc(w, sizeof(int)), *cnt = calloc(w, sizeof(int)), *got = calloc((size_t)w * per, sizeof(int));
                for (int i = 0; i < w; i++) fd[i] = bound(port, 1);
                struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(port)};
                inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
                int done = 0; char b[8] = {0};
                for (int p = 20000; p < 60000 && done < w; p++) {
                    int s = socket(AF_INET, SOCK_DGRAM, 0), one = 1;
                    struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = htons(p)};
                    inet_pton(AF_INET, "127.0.0.1", &src.sin_addr);
                    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
                    if (bind(s, (struct sockaddr *)&src, sizeof src) != 0) { close(s); continue; }
                    sendto(s, b, sizeof b, 0, (struct sockaddr *)&dst, sizeof dst);
                    close(s);
                    struct pollfd *pf = calloc(w, sizeof *pf);
                    for (int i = 0; i < w; i++) { pf[i].fd = fd[i]; pf[i].events = POLLIN; }
                    if (poll(pf, w, 1000) > 0)
                        for (int i = 0; i < w; i++)
                            if (pf[i].revents & POLLIN) {
                                recv(fd[i], b, sizeof b, MSG_DONTWAIT);
                                if (cnt[i] < per) { got[i * per + cnt[i]++] = p; if (cnt[i] == per) done++; }
                            }
                    free(pf);
                }
                if (done < w) { fprintf(stderr, "calibration: too few ports per worker\\n"); return 3; }
                for (int k = 0; k < per; k++) for (int i = 0; i < w; i++) printf("%s%d", k + i ? "," : "", got[i * per + k]);
                printf("\\n");
                return 0;
            }

            static int do_flows(char **a) {
                int port = atoi(a[0]); long first = atol(a[1]), count = atol(a[2]), chunk = atol(a[3]);
                int s = socket(AF_INET, SOCK_RAW, IPPROTO_UDP), one = 1;
                if (s < 0) { perror("raw socket (root needed)"); return 2; }
                if (setsockopt(s, IPPROTO_IP, IP_HDRINCL, &one, sizeof one) != 0) { perror("IP_HDRINCL"); return 2; }
                int sb = 8 << 20; setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
                struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(port)};
                inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
                unsigned char pkt[32]; char line[64];
                int rev = a[4] != NULL && !strcmp(a[4], "rev");
                for (long k = 0; k < count; k++) {
                    long i = rev ? first + count - 1 - k : first + k;
                    memset(pkt, 0, sizeof pkt);
                    struct iphdr *ip = (struct iphdr *)pkt; struct udphdr *u = (struct udphdr *)(pkt + 20);
                    ip->version = 4; ip->ihl = 5; ip->ttl = 64; ip->protocol = IPPROTO_UDP; ip->tot_len = htons(32);
                    long hi = i / 50000;
                    ip->saddr = htonl((127u << 24) | (1u << 16) | (unsigned)((hi / 256) % 256) << 8 | (unsigned)(hi % 256));
                    ip->daddr = dst.sin_addr.s_addr;
                    u->source = htons(10000 + i % 50000); u->dest = htons(port); u->len = htons(12); u->check = 0;
                    unsigned int id = (unsigned int)i; memcpy(pkt + 28, &id, 4);
                    while (sendto(s, pkt, 32, 0, (struct sockaddr *)&dst, sizeof dst) < 0) {
                        if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) { perror("sendto"); return 3; }
                        usleep(100);
                    }
                    if ((k + 1) % chunk == 0 || k + 1 == count) {
                        printf("CHUNK %ld\\n", k + 1); fflush(stdout);
                        if (!fgets(line, sizeof line, stdin)) return 0;
                    }
                }
                return 0;
            }

            static int do_spray(char **a) {
                int port = atoi(a[0]); long flows = atol(a[1]); double secs = atof(a[2]);
                int s = socket(AF_INET, SOCK_RAW, IPPROTO_UDP), one = 1;
                if (s < 0) { perror("raw socket (root needed)"); return 2; }
                setsockopt(s, IPPROTO_IP, IP_HDRINCL, &one, sizeof one);
                struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(port)};
                inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
                unsigned char pkt[32]; unsigned long sent = 0;
                double end = now() + secs;
                for (long k = 0; ; k++) {
                    if ((k & 255) == 0 && now() > end) break;
                    long i = k % flows, hi = i / 50000;
                    memset(pkt, 0, sizeof pkt);
                    struct iphdr *ip = (struct iphdr *)pkt; struct udphdr *u = (struct udphdr *)(pkt + 20);
                    ip->version = 4; ip->ihl = 5; ip->ttl = 64; ip->protocol = IPPROTO_UDP; ip->tot_len = htons(32);
                    ip->saddr = htonl((127u << 24) | (1u << 16) | (unsigned)((hi / 256) % 256) << 8 | (unsigned)(hi % 256));
                    ip->daddr = dst.sin_addr.s_addr;
                    u->source = htons(10000 + i % 50000); u->dest = htons(port); u->len = htons(12);
                    unsigned int id = (unsigned int)i; memcpy(pkt + 28, &id, 4);
                    if (sendto(s, pkt, 32, 0, (struct sockaddr *)&dst, sizeof dst) == 32) sent++;
                }
                printf("SENT %lu\\n", sent); fflush(stdout);
                return 0;
            }

            int main(int argc, char **argv) {
                if (argc >= 7 && !strcmp(argv[1], "send")) return do_send(argv + 2);
                if (argc >= 8 && !strcmp(argv[1], "recv")) return do_recv(argv + 2);
                if (argc >= 5 && !strcmp(argv[1], "map")) return do_map(argv + 2);
                if (argc >= 6 && !strcmp(argv[1], "flows")) return do_flows(argv + 2);
                if (argc >= 5 && !strcmp(argv[1], "spray")) return do_spray(argv + 2);
                fprintf(stderr, "usage: ingest send PORT PAYLOAD SEGS SECONDS PORTS | recv PORT WORKERS mmsg|gro BATCH WARM SECONDS"
                        " | map PORT WORKERS PER | flows PORT FIRST COUNT CHUNK | spray PORT FLOWS SECONDS\\n");
                return 2;
            }
            """;
}
