package dev.reuseport.bpf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.reuseport.sys.internal.LibBpf;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A program the verifier refuses comes back as a {@link BpfLoadException} carrying the verifier's log. */
@Tag("kernel")
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SteerVerifierTest {

    @BeforeAll
    static void steeringIsAvailable() {
        KernelSupport.requireSteering();
    }

    /** {@code r0 = *(u64 *)(r9 + 0)}: BPF_LDX | BPF_MEM | BPF_DW, dst r0, src r9 (never initialised). */
    private static final byte[] READ_UNINITIALISED_R9 = {0x79, (byte) 0x90, 0, 0, 0, 0, 0, 0};
    private static final int LD_IMM64 = 0x18;
    private static final int CALL = 0x85;

    /** File offset and size of the ELF64 (little-endian) section named {@code wanted}. */
    static long[] section(byte[] elf, String wanted) {
        ByteBuffer b = ByteBuffer.wrap(elf).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(elf).as("ELF magic").startsWith(0x7f, 'E', 'L', 'F');
        assertThat(elf[4]).as("EI_CLASS: ELFCLASS64").isEqualTo((byte) 2);
        assertThat(elf[5]).as("EI_DATA: little-endian").isEqualTo((byte) 1);
        long shoff = b.getLong(0x28);
        int shentsize = b.getShort(0x3A) & 0xffff;
        int shnum = b.getShort(0x3C) & 0xffff;
        int shstrndx = b.getShort(0x3E) & 0xffff;
        long strOff = b.getLong((int) (shoff + (long) shstrndx * shentsize + 24));
        for (int i = 0; i < shnum; i++) {
            int h = (int) (shoff + (long) i * shentsize);
            int nameAt = (int) (strOff + (b.getInt(h) & 0xffffffffL));
            int end = nameAt;
            while (elf[end] != 0) {
                end++;
            }
            String name = new String(elf, nameAt, end - nameAt, StandardCharsets.US_ASCII);
            if (name.equals(wanted)) {
                return new long[] {b.getLong(h + 24), b.getLong(h + 32)};
            }
        }
        throw new AssertionError("no section named " + wanted + " in the object");
    }

    @Test
    void verifierRejectionCarriesTheLog() throws Exception {
        byte[] bytes = BpfObject.resource(SteerProgram.OBJECT);
        long[] text = section(bytes, "sk_reuseport");
        int at = -1;
        for (long off = text[0]; off + 8 <= text[0] + text[1]; ) {
            int opcode = bytes[(int) off] & 0xff;
            if (opcode == LD_IMM64) {
                off += 16; // two instruction slots
            } else if (opcode == CALL) {
                off += 8;
            } else {
                at = (int) off;
                break;
            }
        }
        assertThat(at).as("an instruction to replace in section sk_reuseport").isNotNegative();
        System.arraycopy(READ_UNINITIALISED_R9, 0, bytes, at, 8);

        BpfObject bad = BpfObject.open("bad", bytes);
        try {
            bad.expectedAttachType(SteerProgram.MIGRATE, LibBpf.ATTACH_SK_REUSEPORT_SELECT_OR_MIGRATE);
            assertThatThrownBy(() -> bad.load(SteerProgram.SELECT, SteerProgram.MIGRATE))
                    .isInstanceOf(BpfLoadException.class)
                    .hasMessageStartingWith("bpf_object__load: ")
                    .hasMessageContaining("R9")
                    .satisfies(e -> {
                        BpfLoadException l = (BpfLoadException) e;
                        System.out.println("verifier rejection: " + l.getMessage() + "\n--- full log ---\n"
                                + l.fullLog());
                        assertThat(l.getMessage()).as("the last meaningful log line, named program")
                                .contains("program " + SteerProgram.SELECT + " rejected")
                                .endsWith("R9 !read_ok");
                        assertThat(l.fullLog()).contains("R9 !read_ok")
                                .contains("r0 = *(u64 *)(r9 +0)");
                        assertThat(l.fullLog().length()).as("full log longer than the message")
                                .isGreaterThan(l.getMessage().length());
                    });
        } finally {
            bad.close();
        }
    }
}
