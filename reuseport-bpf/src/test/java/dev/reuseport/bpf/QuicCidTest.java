package dev.reuseport.bpf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The cookie layout and the dissector specs, without a kernel: QUIC-LB plaintext layout, round trips,
 * how often a random id passes the check bits, and typed errors for every out-of-range value.
 */
class QuicCidTest {

    @Test
    void encodedIdsHaveTheQuicLbPlaintextLayout() {
        byte[] nonce = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 11, 12, 13, 14, 15};
        byte[] cid = QuicCid.encode(20, 2, 200, 17, 42, nonce);
        assertThat(cid).hasSize(20);
        assertThat(cid[0] & 0xff).as("config rotation 2 in the top bits, length 20-1 below").isEqualTo(2 << 6 | 19);
        int check = QuicCid.check(42, 200, 17);
        assertThat(java.util.Arrays.copyOfRange(cid, 1, 5)).as("server id: generation, worker, check")
                .containsExactly((byte) 200, (byte) 17, (byte) (check >>> 8), (byte) check);
        assertThat(QuicCid.serverId(200, 17, 42)).containsExactly(java.util.Arrays.copyOfRange(cid, 1, 5));
        assertThat(java.util.Arrays.copyOfRange(cid, 5, 20)).as("nonce").containsExactly(nonce);
        // the later drafts read the same octet as a 3-bit config id 2*rotation and a 5-bit length
        assertThat((cid[0] & 0xff) >>> 5).isEqualTo(4);
        assertThat(cid[0] & 0x1f).isEqualTo(19);
    }

    @Test
    void decodeReturnsTheCookieOnlyForTheConfiguredLayout() {
        Random r = new Random(7);
        for (int len = QuicCid.MIN_LENGTH; len <= QuicCid.MAX_LENGTH; len++) {
            for (int rot = 0; rot <= 2; rot++) {
                byte[] cid = QuicCid.encode(len, rot, 255, 0, -1, r);
                QuicCid.Cookie c = QuicCid.decode(cid, len, rot).orElseThrow();
                assertThat(c.generation()).isEqualTo(255);
                assertThat(c.worker()).isZero();
                assertThat(c.matches(-1)).isTrue();
                assertThat(c.matches(0)).isFalse();
                assertThat(QuicCid.decode(cid, len, (rot + 1) % 3)).as("other rotation").isEmpty();
                if (len < QuicCid.MAX_LENGTH) {
                    assertThat(QuicCid.decode(cid, len + 1, rot)).as("other length").isEmpty();
                }
            }
        }
    }

    @Test
    void randomIdsPassTheCheckBitsAboutOnceIn65536() {
        Random r = new Random(8);
        int pass = 0;
        int n = 1 << 20;
        byte[] cid = new byte[12];
        for (int i = 0; i < n; i++) {
            r.nextBytes(cid);
            cid[0] = 11; // the layout right: only the check bits can refuse it
            if (QuicCid.decode(cid, 12, 0).orElseThrow().matches(0x1234)) {
                pass++;
            }
        }
        assertThat(pass).as("random ids out of %d passing the check", n).isBetween(2, 40);
    }

    @Test
    void badValuesAreRefusedNamingTheValue() {
        assertThatThrownBy(() -> QuicCid.encode(8, 0, 0, 0, 0, new byte[8])).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("length 8").hasMessageContaining("9..20");
        assertThatThrownBy(() -> QuicCid.encode(21, 0, 0, 0, 0, new byte[21])).hasMessageContaining("length 21");
        assertThatThrownBy(() -> QuicCid.encode(12, 3, 0, 0, 0, new byte[8])).hasMessageContaining("rotation 3")
                .hasMessageContaining("0..2");
        assertThatThrownBy(() -> QuicCid.encode(12, 0, 256, 0, 0, new byte[8])).hasMessageContaining("generation 256");
        assertThatThrownBy(() -> QuicCid.encode(12, 0, 0, -1, 0, new byte[8])).hasMessageContaining("worker -1");
        assertThatThrownBy(() -> QuicCid.encode(12, 0, 0, 0, 0, new byte[6])).hasMessageContaining("nonce of 6")
                .hasMessageContaining("at least 7");
        assertThatThrownBy(() -> Dissector.quic(5)).hasMessageContaining("length 5");
        assertThatThrownBy(() -> Dissector.quic(12, 3)).hasMessageContaining("rotation 3");
        assertThatThrownBy(() -> Dissector.offsetCookie(-1, 2)).hasMessageContaining("offset -1");
        assertThatThrownBy(() -> Dissector.offsetCookie(65536, 2)).hasMessageContaining("offset 65536");
        assertThatThrownBy(() -> Dissector.offsetCookie(0, 3)).hasMessageContaining("size 3")
                .hasMessageContaining("2 or 4");
        assertThatThrownBy(() -> Dissector.flow(Duration.ZERO)).hasMessageContaining("PT0S");
        assertThatThrownBy(() -> Dissector.flow(Duration.ofDays(2))).hasMessageContaining("PT48H");
    }

    @Test
    void specsRoundTripThroughTheConfigValue() {
        for (Dissector d : new Dissector[] {Dissector.none(), Dissector.quic(20, 1), Dissector.offsetCookie(100, 4),
            Dissector.flow(Duration.ofSeconds(30))}) {
            byte[] v = d.encode(77);
            assertThat(v).hasSize(32);
            assertThat(Dissector.decode(v)).isEqualTo(d);
        }
        assertThat(Dissector.flow(Duration.ofSeconds(30)).toString()).isEqualTo("flow(idle=PT30S)");
    }
}
