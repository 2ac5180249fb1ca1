package net.tcpmssd.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Priorities for journald only when stderr really is the journal's stream (systemd.exec(5) JOURNAL_STREAM). */
class JournalStreamTest {

    @TempDir
    Path dir;

    private static String deviceAndInode(Path file) throws Exception {
        return Files.getAttribute(file, "unix:dev") + ":" + Files.getAttribute(file, "unix:ino");
    }

    @Test
    void journalStreamNamesTheFileOnlyWithItsOwnDeviceAndInode() throws Exception {
        Path stream = Files.createFile(dir.resolve("stream"));
        Path other = Files.createFile(dir.resolve("other"));

        assertThat(JournalStream.names(deviceAndInode(stream), stream)).isTrue();
        assertThat(JournalStream.names(deviceAndInode(other), stream)).as("inherited, but stderr goes elsewhere").isFalse();
        assertThat(JournalStream.names(null, stream)).isFalse();
        assertThat(JournalStream.names("", stream)).isFalse();
        assertThat(JournalStream.names("garbage", stream)).isFalse();
        assertThat(JournalStream.names(deviceAndInode(stream), dir.resolve("gone"))).isFalse();
    }

    @Test
    void linesToTheJournalCarryTheirSdDaemonPriority() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Log log = Log.to(new PrintStream(bytes, true, StandardCharsets.UTF_8), true);

        log.info("Maximum MSS: 1452");
        log.warning("interface ppp0 is gone");

        assertThat(bytes.toString(StandardCharsets.UTF_8)).isEqualTo("<6>Maximum MSS: 1452\n<4>warning: interface ppp0 is gone\n");
    }

    @Test
    void linesElsewhereArePlain() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Log log = Log.to(new PrintStream(bytes, true, StandardCharsets.UTF_8), false);

        log.info("Maximum MSS: 1452");
        log.warning("interface ppp0 is gone");

        assertThat(bytes.toString(StandardCharsets.UTF_8)).isEqualTo("Maximum MSS: 1452\nwarning: interface ppp0 is gone\n");
    }
}
