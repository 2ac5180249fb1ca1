package net.tcpmssd.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import net.tcpmssd.Main;
import org.junit.jupiter.api.Test;

/**
 * The real entry point in a fresh JVM: exact stderr, exit status, never a stack trace. These need
 * no privilege and change nothing (an unknown interface is only looked up).
 */
class CommandLineProcessTest {

    record Result(int status, String stdout, String stderr) {}

    static Result tcpmssd(String... args) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command(args)).start();
        p.getOutputStream().close();
        assertThat(p.waitFor(20, TimeUnit.SECONDS)).as("tcpmssd exits").isTrue();
        return new Result(p.exitValue(),
                new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8),
                new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    private static List<String> command(String... args) {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"),
                "net.tcpmssd.Main"));
        command.addAll(List.of(args));
        return command;
    }

    /** Runs tcpmssd with stderr into {@code stderr}, and JOURNAL_STREAM naming that file or {@code other}. */
    private static String stderrWithJournalStream(Path stderr, Path named, String... args) throws Exception {
        ProcessBuilder builder = new ProcessBuilder(command(args)).redirectError(stderr.toFile());
        builder.environment().put("JOURNAL_STREAM", Files.getAttribute(named, "unix:dev") + ":" + Files.getAttribute(named, "unix:ino"));
        Process p = builder.start();
        p.getOutputStream().close();
        assertThat(p.waitFor(20, TimeUnit.SECONDS)).as("tcpmssd exits").isTrue();
        assertThat(p.exitValue()).isEqualTo(1);
        return Files.readString(stderr);
    }

    @Test
    void underJournaldAnErrorCarriesTheErrorPriority(@TempDir Path dir) throws Exception {
        Path journal = Files.createFile(dir.resolve("journal"));
        assertThat(stderrWithJournalStream(journal, journal, "--foreground", "-p", "100", "-i", "tcpmssd-none0"))
                .isEqualTo("<3>tcpmssd: unknown interface tcpmssd-none0\n");
        Path usage = Files.createFile(dir.resolve("usage"));
        assertThat(stderrWithJournalStream(usage, usage, "-p", "100")).isEqualTo("<3>" + "usage: tcpmssd [-bv] -p port {-i iface | -m mtu}\n");
    }

    @Test
    void anInheritedJournalStreamWithStderrElsewhereGivesPlainLines(@TempDir Path dir) throws Exception {
        Path journal = Files.createFile(dir.resolve("journal"));
        Path redirected = Files.createFile(dir.resolve("redirected"));
        assertThat(stderrWithJournalStream(redirected, journal, "--foreground", "-p", "100", "-i", "tcpmssd-none0"))
                .isEqualTo("tcpmssd: unknown interface tcpmssd-none0\n");
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
    void anInterfaceNameLinuxCannotHaveIsOneLine() throws Exception {
        String rule = " (Linux allows 1 to 15 bytes, without white space, control characters, '/' or ':')\n";
        Result newline = tcpmssd("-p", "100", "-i", "ppp0\nfake: line");
        assertThat(newline.status()).isEqualTo(1);
        assertThat(newline.stderr()).isEqualTo("tcpmssd: invalid interface name \"ppp0\\nfake: line\"" + rule);
        Result tooLong = tcpmssd("-p", "100", "-i", "ppp0-a-very-long");
        assertThat(tooLong.status()).isEqualTo(1);
        assertThat(tooLong.stderr()).as("not rtnetlink's ERANGE").isEqualTo("tcpmssd: invalid interface name \"ppp0-a-very-long\"" + rule);
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
