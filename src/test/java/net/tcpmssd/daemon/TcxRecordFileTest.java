package net.tcpmssd.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import net.tcpmssd.attach.Hook;
import net.tcpmssd.os.Libc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * BEHAVIOUR §7's record of the tcx programs a daemon attached: what the next daemon reads back,
 * and every file it must not believe (another boot, garbled, a link, someone else's), each
 * ignored with one warning; written whole through a file of its own, never through a link.
 */
class TcxRecordFileTest {

    @TempDir
    Path dir;

    private final List<String> warnings = new ArrayList<>();
    private final Log log = new Log() {
        @Override
        public void info(String line) {}

        @Override
        public void warning(String line) {
            warnings.add(line);
        }
    };

    private Path path() {
        return dir.resolve("served.4026531840.7.tcx");
    }

    @Test
    void whatOneDaemonWritesTheNextReadsBackHookByHook() throws Exception {
        TcxRecordFile first = TcxRecordFile.read(path(), log);
        assertThat(first.ids(Hook.EGRESS)).isEmpty();
        first.write(Hook.EGRESS, Set.of(31, 7));
        first.write(Hook.INGRESS, Set.of(8));
        String boot = Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).strip();
        assertThat(Files.readString(path())).isEqualTo("boot " + boot + "\negress 7 31\ningress 8\n");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(path()))).isEqualTo("rw-r--r--");
        assertThat(Files.exists(dir.resolve(path().getFileName() + ".new"))).as("the file written before the rename").isFalse();

        TcxRecordFile next = TcxRecordFile.read(path(), log);
        assertThat(next.ids(Hook.EGRESS)).containsExactlyInAnyOrder(7, 31);
        assertThat(next.ids(Hook.INGRESS)).containsExactly(8);
        assertThat(warnings).isEmpty();
    }

    @Test
    void nothingAtEitherHookRemovesTheFile() throws Exception {
        TcxRecordFile record = TcxRecordFile.read(path(), log);
        record.write(Hook.EGRESS, Set.of(5));
        record.write(Hook.INGRESS, Set.of(6));
        record.write(Hook.EGRESS, Set.of());
        assertThat(Files.readString(path())).doesNotContain("egress").contains("ingress 6");
        record.write(Hook.INGRESS, Set.of());
        assertThat(Files.exists(path())).isFalse();
        assertThat(warnings).isEmpty();
    }

    @Test
    void aMissingFileIsNoRecordAndNoWarning() {
        TcxRecordFile record = TcxRecordFile.read(path(), log);
        assertThat(record.ids(Hook.EGRESS)).isEmpty();
        assertThat(record.ids(Hook.INGRESS)).isEmpty();
        assertThat(warnings).isEmpty();
    }

    @Test
    void aRecordOfAnotherBootIsIgnored() throws Exception {
        Files.writeString(path(), "boot 00000000-0000-0000-0000-000000000000\negress 7\n");
        assertThat(TcxRecordFile.read(path(), log).ids(Hook.EGRESS)).isEmpty();
        assertThat(warnings).containsExactly("ignoring " + path() + ": written before the last boot");
    }

    @Test
    void aGarbledFileIsIgnoredWhole() throws Exception {
        String boot = Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).strip();
        List<String> garbled = List.of("", "egress 7\n", "boot " + boot + "\negress 7 x\n", "boot " + boot + "\negress 7\negress 8\n",
                "boot " + boot + "\negress 0\n", "boot " + boot + "\negress 2147483648\n", "boot " + boot + "\negress\n",
                "boot " + boot + "\nlinks 7\n", "boot " + boot + "\negress  7\n", "boot " + boot + "\negress " + "1 ".repeat(65) + "\n");
        for (String text : garbled) {
            Files.writeString(path(), text);
            warnings.clear();
            TcxRecordFile record = TcxRecordFile.read(path(), log);
            assertThat(record.ids(Hook.EGRESS)).as("%s", text).isEmpty();
            assertThat(warnings).as("%s", text).containsExactly("ignoring " + path() + ": not a record of tcx programs");
        }
        Files.writeString(path(), "boot " + boot + "\negress 7\n" + "x".repeat(5000));
        warnings.clear();
        assertThat(TcxRecordFile.read(path(), log).ids(Hook.EGRESS)).isEmpty();
        assertThat(warnings).containsExactly("ignoring " + path() + ": larger than a record can be");
    }

    /** SIGTERM with nothing attached at tcx (--cls-bpf) still takes away a record it could not believe. */
    @Test
    void aFileIgnoredAtTheStartGoesAtTheFirstWriteOfNothing() throws Exception {
        Files.writeString(path(), "boot 00000000-0000-0000-0000-000000000000\negress 7\n");
        TcxRecordFile record = TcxRecordFile.read(path(), log);
        record.write(Hook.EGRESS, Set.of());
        assertThat(Files.exists(path())).isFalse();
    }

    @Test
    void aSymbolicLinkIsNeitherReadNorWrittenThrough() throws Exception {
        String boot = Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).strip();
        Path target = Files.writeString(dir.resolve("elsewhere"), "boot " + boot + "\negress 7\n");
        Files.createSymbolicLink(path(), target);
        TcxRecordFile record = TcxRecordFile.read(path(), log);
        assertThat(record.ids(Hook.EGRESS)).isEmpty();
        assertThat(warnings).containsExactly("ignoring " + path() + ": it is a symbolic link");

        record.write(Hook.EGRESS, Set.of(9)); // rename(2) replaces the link itself
        assertThat(Files.isSymbolicLink(path())).isFalse();
        assertThat(Files.readString(path())).contains("egress 9");
        assertThat(Files.readString(target)).isEqualTo("boot " + boot + "\negress 7\n");
    }

    /** A FIFO opened for reading would wait for a writer, holding up the start with the lock held. */
    @Test
    void aFifoIsIgnoredWithoutWaitingForAWriter() throws Exception {
        Process mkfifo = new ProcessBuilder("mkfifo", path().toString()).inheritIO().start();
        assertThat(mkfifo.waitFor()).isZero();
        TcxRecordFile record = assertTimeoutPreemptively(Duration.ofSeconds(5), () -> TcxRecordFile.read(path(), log));
        assertThat(record.ids(Hook.EGRESS)).isEmpty();
        assertThat(warnings).containsExactly("ignoring " + path() + ": not a regular file");
    }

    @Test
    void aLinkWhereTheNewTextGoesIsRefusedOnceAndItsTargetLeftAlone() throws Exception {
        Path target = Files.writeString(dir.resolve("shadow"), "root:x:0:\n");
        Files.createSymbolicLink(dir.resolve(path().getFileName() + ".new"), target);
        TcxRecordFile record = TcxRecordFile.read(path(), log);
        record.write(Hook.EGRESS, Set.of(9));
        record.write(Hook.EGRESS, Set.of(10));
        assertThat(warnings).singleElement().asString()
                .startsWith("can't record the tcx programs for the next daemon in " + path() + ": ")
                .contains("it is a symbolic link");
        assertThat(Files.readString(target)).isEqualTo("root:x:0:\n");
        assertThat(Files.exists(path())).isFalse();
    }

    @Test
    void aFileOfAnotherUserIsIgnored() throws Exception {
        assumeTrue(Libc.geteuid() == 0, "needs root, to give the file to nobody");
        String boot = Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).strip();
        Files.writeString(path(), "boot " + boot + "\negress 7\n");
        Files.setAttribute(path(), "unix:uid", 65534);
        assertThat(TcxRecordFile.read(path(), log).ids(Hook.EGRESS)).isEmpty();
        assertThat(warnings).containsExactly("ignoring " + path() + ": owned by uid 65534, neither ours nor root's");
    }
}
