package net.tcpmssd.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A thread that dies of an Error ends the whole process at once, with one line and a non-zero
 * status, rather than leaving its queue bound and unserved (BEHAVIOUR §8). The out-of-memory error
 * is real: a fresh JVM with a 16 MB heap, the daemon's own handler, a thread that hoards.
 */
class FatalProcessTest {

    @Test
    void runningOutOfMemoryInAQueueThreadEndsTheProcessWithOneLine() throws Exception {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx16m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"), ExhaustHeap.class.getName())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("ended within 30 s").isTrue();
        String stderr = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as("EX_SOFTWARE; stderr: %s", stderr).isEqualTo(Fatal.SOFTWARE);
        assertThat(stderr).matches("tcpmssd: fatal: queue-100: java\\.lang\\.OutOfMemoryError: Java heap space"
                + " \\(at net\\.tcpmssd\\.daemon\\.ExhaustHeap\\.lambda\\$main\\$0:\\d+\\)\n");
    }

    @Test
    void aThrowableInOneLineHasNoLineBreaks() {
        String line = Fatal.oneLine(new IllegalStateException("two\nlines\r"));
        assertThat(line).startsWith("java.lang.IllegalStateException: two lines  (at net.tcpmssd.daemon.FatalProcessTest.")
                .doesNotContain("\n");
    }
}
