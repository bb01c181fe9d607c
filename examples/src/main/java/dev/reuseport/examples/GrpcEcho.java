package dev.reuseport.examples;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The gRPC echo service of {@code grpc-echo} and {@code bench frameworks}, defined without code generation:
 * two hand-written method descriptors with a UTF-8 string marshaller. {@code echo.Echo/Say} answers its
 * request (unary); {@code echo.Echo/Count} answers "n" with the n messages "0".."n-1" (server streaming).
 */
public final class GrpcEcho {
    /** UTF-8 strings on the wire, no protobuf. */
    public static final MethodDescriptor.Marshaller<String> UTF8 = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(String value) {
            return new ByteArrayInputStream(value.getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public String parse(InputStream stream) {
            try {
                return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    };

    /** Unary: the answer is the request. */
    public static final MethodDescriptor<String, String> SAY = MethodDescriptor.<String, String>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY).setFullMethodName("echo.Echo/Say")
            .setRequestMarshaller(UTF8).setResponseMarshaller(UTF8).build();

    /** Server streaming: "n" is answered by n messages. */
    public static final MethodDescriptor<String, String> COUNT = MethodDescriptor.<String, String>newBuilder()
            .setType(MethodDescriptor.MethodType.SERVER_STREAMING).setFullMethodName("echo.Echo/Count")
            .setRequestMarshaller(UTF8).setResponseMarshaller(UTF8).build();

    private final AtomicLong calls = new AtomicLong();

    /** Calls answered so far. */
    public long calls() {
        return calls.get();
    }

    /** The service definition to add to a server builder. */
    public ServerServiceDefinition service() {
        return ServerServiceDefinition.builder("echo.Echo")
                .addMethod(SAY, ServerCalls.asyncUnaryCall((req, out) -> {
                    calls.incrementAndGet();
                    out.onNext(req);
                    out.onCompleted();
                }))
                .addMethod(COUNT, ServerCalls.asyncServerStreamingCall((req, out) -> {
                    calls.incrementAndGet();
                    int n = Math.min(Integer.parseInt(req), 10_000);
                    for (int i = 0; i < n; i++) {
                        out.onNext(Integer.toString(i));
                    }
                    out.onCompleted();
                }))
                .build();
    }

    /** A unary call with a deadline; throws unless the answer is the request. */
    public static void say(Channel ch, String msg, long deadlineMillis) {
        String got = ClientCalls.blockingUnaryCall(ch, SAY,
                CallOptions.DEFAULT.withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS), msg);
        if (!msg.equals(got)) {
            throw new IllegalStateException("unary: sent " + msg + ", got " + got);
        }
    }

    /** A streaming call with a deadline; throws unless the n answers arrive in order. */
    public static void count(Channel ch, int n, long deadlineMillis) {
        Iterator<String> it = ClientCalls.blockingServerStreamingCall(ch, COUNT,
                CallOptions.DEFAULT.withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS), Integer.toString(n));
        int i = 0;
        while (it.hasNext()) {
            String got = it.next();
            if (!got.equals(Integer.toString(i))) {
                throw new IllegalStateException("streaming: message " + i + " was " + got);
            }
            i++;
        }
        if (i != n) {
            throw new IllegalStateException("streaming: " + i + " messages, expected " + n);
        }
    }
}
