package net.tcpmssd.packet;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** What the daemon asks of an outcome: whether the packet goes back changed, and its name in the counters. */
class OutcomeTest {

    @Test
    void onlyClampingAndAddingAnMssChangeThePacket() {
        assertThat(Arrays.stream(Outcome.values()).filter(Outcome::changesPacket))
                .containsExactly(Outcome.CLAMPED, Outcome.MSS_ADDED);
    }

    @Test
    void countersNameEachOutcomeInWords() {
        // The names of the counters line at exit and on SIGUSR1 ("unchanged: 3 not SYN, ...").
        assertThat(Arrays.stream(Outcome.values()).map(Outcome::label)).containsExactly(
                "clamped", "MSS added", "MSS small enough", "no MSS option", "not SYN", "not TCP", "incoming", "malformed",
                "handling failed");
    }
}
