package net.tcpmssd.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import net.tcpmssd.Main;
import org.junit.jupiter.api.Test;

/**
 * The real entry point in a fresh JVM: exact stderr, exit status, never a stack trace. These need
 * no privilege and change nothing (an unknown interface is only looked up).
 */
class CommandLineProcessTest {

    record Result(int status, String stdout, String stderr) {}

    static Result tcpmssd(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"),
                "net.tcpmssd.Main"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).start();
        p.getOutputStream().close();
        assertThat(p.waitFor(20, TimeUnit.SECONDS)).as("tcpmssd exits").isTrue();
        return new Result(p.exitValue(),
                new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8),
                new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    @Test
    void usageErrorExitsOneWithTheUsageLine() throws Exception {
        Result r = tcpmssd("-p", "100");
        assertThat(r.status()).isEqualTo(1);
        assertThat(r.stderr()).isEqualTo("usage: tcpmssd [-bv] -p port {-i iface | -m mtu}\n");
        assertThat(r.stdout()).isEmpty();
    }

    @Test
    void invalidMtuExitsOne() throws Exception {
        Result r = tcpmssd("-p", "100", "-m", "40");
        assertThat(r.status()).isEqualTo(1);
        assertThat(r.stderr()).isEqualTo("tcpmssd: invalid MTU value\n");
    }

    @Test
    void invalidPortExitsOne() throws Exception {
        Result r = tcpmssd("-p", "70000", "-m", "1280");
        assertThat(r.status()).isEqualTo(1);
        assertThat(r.stderr()).isEqualTo("tcpmssd: invalid port number\n");
    }

    @Test
    void unknownInterfaceExitsOne() throws Exception {
        Result r = tcpmssd("-p", "100", "-i", "tcpmssd-none0");
        assertThat(r.status()).isEqualTo(1);
        assertThat(r.stderr()).isEqualTo("tcpmssd: unknown interface tcpmssd-none0\n");
    }

    @Test
    void helpGoesToStdoutAndExitsZero() throws Exception {
        Result r = tcpmssd("--help");
        assertThat(r.status()).isZero();
        assertThat(r.stdout()).startsWith("usage: tcpmssd [-bv] -p port {-i iface | -m mtu}\n");
        assertThat(r.stderr()).isEmpty();
    }

    @Test
    void versionPrintsOneLine() throws Exception {
        Result r = tcpmssd("--version");
        assertThat(r.status()).isZero();
        assertThat(r.stdout()).matches("tcpmssd \\S+\n");
    }
}
