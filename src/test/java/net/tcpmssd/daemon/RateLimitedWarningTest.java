package net.tcpmssd.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class RateLimitedWarningTest {

    private final List<String> lines = new ArrayList<>();
    private final Log log = new Log() {
        @Override
        public void info(String line) {
            lines.add("info: " + line);
        }

        @Override
        public void warning(String line) {
            lines.add(line);
        }
    };
    private long now = 5_000_000_000L;
    private final RateLimitedWarning warning = new RateLimitedWarning(log, 1_000_000_000L, () -> now);

    @Test
    void aFloodOfWarningsIsLoggedOncePerSecondWithTheCountLeftOut() {
        // 100,000 failures over 2.5 s, one every 25 us: three lines, one per second begun.
        for (int i = 0; i < 100_000; i++) {
            int n = i;
            warning.warn(() -> "failure " + n);
            now += 25_000;
        }
        assertThat(lines).containsExactly(
                "failure 0",
                "failure 40000 (and 39999 more like it since the last such line)",
                "failure 80000 (and 39999 more like it since the last such line)");
    }

    @Test
    void theLineIsBuiltOnlyWhenItIsLogged() {
        int[] built = {0};
        for (int i = 0; i < 1000; i++) {
            warning.warn(() -> "x" + built[0]++);
        }
        assertThat(built[0]).isEqualTo(1);
    }

    @Test
    void aWarningAfterAQuietSecondIsLoggedAtOnceWithNothingLeftOut() {
        warning.warn(() -> "first");
        now += 1_000_000_000L;
        warning.warn(() -> "second");
        assertThat(lines).containsExactly("first", "second");
    }
}
