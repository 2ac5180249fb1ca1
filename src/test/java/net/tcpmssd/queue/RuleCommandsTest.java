package net.tcpmssd.queue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import net.tcpmssd.cli.Options;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How --add-rules runs a plan: over sh stand-ins for iptables, so no root and no firewall. */
class RuleCommandsTest {

    @TempDir
    Path dir;

    private static Rules.Plan plan(Rules.Step... steps) {
        return new Rules.Plan(Options.Firewall.IPTABLES, "", List.of(steps));
    }

    private static List<String> sh(String script) {
        return List.of("sh", "-c", script);
    }

    @Test
    void aFeedGetsItsInputOnStdin() throws Exception {
        Path out = dir.resolve("out");
        RuleCommands.run(plan(new Rules.Feed(sh("cat > '" + out + "'"), "*mangle\nCOMMIT\n")));
        assertThat(Files.readString(out)).isEqualTo("*mangle\nCOMMIT\n");
    }

    @Test
    void ensureAddsOnlyWhatTheCheckDoesNotFind() throws Exception {
        Path log = dir.resolve("log");
        RuleCommands.run(plan(
                new Rules.Ensure(sh("true"), sh("echo added-1 >> '" + log + "'")),
                new Rules.Ensure(sh("exit 1"), sh("echo added-2 >> '" + log + "'"))));
        assertThat(Files.readString(log)).isEqualTo("added-2\n");
    }

    @Test
    void removeAllDeletesWhileTheCheckFindsOne() throws Exception {
        Path copies = dir.resolve("copies");
        Files.writeString(copies, "3");
        String count = "'" + copies + "'";
        RuleCommands.run(plan(new Rules.RemoveAll(
                sh("[ $(cat " + count + ") -gt 0 ]"),
                sh("echo $(( $(cat " + count + ") - 1 )) > " + count))));
        assertThat(Files.readString(copies)).isEqualTo("0\n");
        RuleCommands.run(plan(new Rules.RemoveAll(sh("exit 1"), sh("exit 3")))); // none there: nothing deleted
    }

    @Test
    void aFailureIsOneLineNamingTheCommandAndItsError() {
        // As iptables-restore: a line that only introduces the next.
        assertThatThrownBy(() -> RuleCommands.run(plan(new Rules.Feed(
                sh("echo 'iptables-restore v1.8.9 (nf_tables): ' >&2; echo 'line 3: CHAIN_DEL failed' >&2; echo more >&2; exit 4"), ""))))
                .isInstanceOf(RuleCommands.Failure.class)
                .hasMessage("sh -c echo 'iptables-restore v1.8.9 (nf_tables): ' >&2; echo 'line 3: CHAIN_DEL failed' >&2; echo more >&2; exit 4:"
                        + " iptables-restore v1.8.9 (nf_tables): line 3: CHAIN_DEL failed");
        assertThatThrownBy(() -> RuleCommands.run(plan(new Rules.Ensure(sh("exit 1"), List.of("false")))))
                .hasMessage("false: exit status 1");
        assertThatThrownBy(() -> RuleCommands.run(plan(new Rules.Feed(List.of("tcpmssd-no-such-program"), ""))))
                .hasMessage("can't run tcpmssd-no-such-program: No such file or directory");
    }

    @Test
    void stepsAfterAFailureAreNotRun() {
        Path log = dir.resolve("log");
        assertThatThrownBy(() -> RuleCommands.run(plan(new Rules.Feed(List.of("false"), ""),
                new Rules.Feed(sh("echo ran > '" + log + "'"), "")))).isInstanceOf(RuleCommands.Failure.class);
        assertThat(log).doesNotExist();
    }

    @Test
    void firstLineSkipsBlankLinesAndKeepsOneLine() throws Exception {
        assertThat(RuleCommands.firstLine(stream("\n  \nError: x\ty\nnext\n"))).isEqualTo("Error: x y");
        assertThat(RuleCommands.firstLine(stream(""))).isEmpty();
        assertThat(RuleCommands.firstLine(stream("only:"))).isEqualTo("only:");
        assertThat(RuleCommands.firstLine(stream("x".repeat(100_000)))).hasSize(8192);
    }

    private static ByteArrayInputStream stream(String text) {
        return new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8));
    }
}
