package dev.reuseport.grpc;

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
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A gRPC echo service without code generation: hand-written method descriptors with a UTF-8 string
 * marshaller. {@code echo.Echo/Say} answers its request (unary); {@code echo.Echo/Count} answers "n" with n
 * messages (server streaming).
 */
final class EchoGrpc {
    static final MethodDescriptor.Marshaller<String> UTF8 = new MethodDescriptor.Marshaller<>() {
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

    static final MethodDescriptor<String, String> SAY = MethodDescriptor.<String, String>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY).setFullMethodName("echo.Echo/Say")
            .setRequestMarshaller(UTF8).setResponseMarshaller(UTF8).build();
    static final MethodDescriptor<String, String> COUNT = MethodDescriptor.<String, String>newBuilder()
            .setType(MethodDescriptor.MethodType.SERVER_STREAMING).setFullMethodName("echo.Echo/Count")
            .setRequestMarshaller(UTF8).setResponseMarshaller(UTF8).build();

    final AtomicLong calls = new AtomicLong();

    ServerServiceDefinition service() {
        return ServerServiceDefinition.builder("echo.Echo")
                .addMethod(SAY, ServerCalls.asyncUnaryCall((req, out) -> {
                    calls.incrementAndGet();
                    out.onNext(req);
                    out.onCompleted();
                }))
                .addMethod(COUNT, ServerCalls.asyncServerStreamingCall((req, out) -> {
                    calls.incrementAndGet();
                    int n = Integer.parseInt(req);
                    for (int i = 0; i < n; i++) {
                        out.onNext(Integer.toString(i));
                    }
                    out.onCompleted();
                }))
                .build();
    }

    /** One unary and one streaming call with 5 s deadlines; throws unless both answers are right. */
    static void both(Channel ch, String tag) {
        String got = ClientCalls.blockingUnaryCall(ch, SAY, CallOptions.DEFAULT.withDeadlineAfter(5, TimeUnit.SECONDS),
                tag);
        if (!tag.equals(got)) {
            throw new IllegalStateException("unary: sent " + tag + ", got " + got);
        }
        Iterator<String> it = ClientCalls.blockingServerStreamingCall(ch, COUNT,
                CallOptions.DEFAULT.withDeadlineAfter(5, TimeUnit.SECONDS), "5");
        List<String> all = new ArrayList<>();
        it.forEachRemaining(all::add);
        if (!all.equals(List.of("0", "1", "2", "3", "4"))) {
            throw new IllegalStateException("streaming: got " + all);
        }
    }
}
