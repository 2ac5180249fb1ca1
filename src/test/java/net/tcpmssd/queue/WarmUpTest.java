package net.tcpmssd.queue;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.EnumMap;
import java.util.Map;
import net.tcpmssd.packet.MaxMss;
import net.tcpmssd.packet.MssClamp;
import net.tcpmssd.packet.Outcome;
import org.junit.jupiter.api.Test;

/**
 * The warm-up is worth its time only if its packets take the paths real SYNs take: parsed as
 * the kernel's messages, clamped (IPv4 and IPv6), left alone when small enough or incoming.
 * No kernel needed: the warm-up never touches a socket.
 */
class WarmUpTest {

    @Test
    void everySyntheticPacketGoesThroughTheHandlerAndTakesTheClampingPaths() throws Exception {
        Map<Outcome, Integer> outcomes = new EnumMap<>(Outcome.class);
        int[] versions = new int[7];
        int[] failed = {0};
        NfQueue.Handler handler = new NfQueue.Handler() {
            @Override
            public boolean handle(QueuedPacket packet) {
                versions[packet.ipVersion()]++;
                Outcome outcome = packet.incoming() ? Outcome.INCOMING
                        : MssClamp.clamp(packet.buffer(), packet.offset(), packet.length(), MaxMss.forMtu(1280), null);
                outcomes.merge(outcome, 1, Integer::sum);
                return outcome.changesPacket();
            }

            @Override
            public void failed(QueuedPacket packet, RuntimeException cause) {
                failed[0]++;
            }
        };
        NfQueue.warmUp(handler, WarmUp.traffic(), 3, 0); // exactly the minimum: 3 batches of 64

        // Each round starts from fresh copies: the clamped ones are clamped again every time.
        assertThat(outcomes).containsExactlyInAnyOrderEntriesOf(Map.of(
                Outcome.CLAMPED, 3 * 59, Outcome.MSS_SMALL_ENOUGH, 3 * 4, Outcome.INCOMING, 3));
        assertThat(versions[4]).isEqualTo(3 * 56);
        assertThat(versions[6]).isEqualTo(3 * 8);
        assertThat(failed[0]).isZero();
    }
}
