package net.tcpmssd.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import net.tcpmssd.os.Libc;

/**
 * The pidfile is written as root into a path an operator names, perhaps in a directory others
 * can write (BEHAVIOUR §8): whatever is found there that is not a pidfile of ours is left untouched.
 */
class PidfileTest {

    private static final String OURS = ProcessHandle.current().pid() + "\n";

    @TempDir
    Path dir;

    @Test
    void writesThePidWithMode0644AndRemovesTheFileOnClose() throws Exception {
        Path path = dir.resolve("t.pid");
        try (Pidfile pidfile = Pidfile.acquire(path)) {
            assertThat(Files.readString(path)).isEqualTo(OURS);
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(path))).isEqualTo("rw-r--r--");
        }
        assertThat(path).doesNotExist();
    }

    @Test
    void aStalePidfileIsTakenOverWithItsModeMadeExplicit() throws Exception {
        Path path = dir.resolve("stale.pid");
        Files.writeString(path, "99999999999\n"); // longer than our pid: must not survive behind it
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-rw-rw-")); // anyone could write it
        try (Pidfile pidfile = Pidfile.acquire(path)) {
            assertThat(Files.readString(path)).isEqualTo(OURS);
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(path))).isEqualTo("rw-r--r--");
        }
    }

    @Test
    void aSymbolicLinkIsRefusedAndWhatItPointsToLeftAsItWas() throws Exception {
        Path target = dir.resolve("shadow");
        Files.writeString(target, "root:secret\n");
        Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rw-------"));
        Path link = Files.createSymbolicLink(dir.resolve("t.pid"), target);

        assertThatThrownBy(() -> Pidfile.acquire(link))
                .isInstanceOf(StartupException.class)
                .hasMessage("can't write pidfile " + link + ": it is a symbolic link");
        assertThat(Files.readString(target)).isEqualTo("root:secret\n");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(target))).isEqualTo("rw-------");
        assertThat(Files.isSymbolicLink(link)).isTrue();
    }

    @Test
    void aDanglingSymbolicLinkCreatesNothingWhereItPoints() throws Exception {
        Path target = dir.resolve("cron-job");
        Path link = Files.createSymbolicLink(dir.resolve("t.pid"), target);

        assertThatThrownBy(() -> Pidfile.acquire(link)).hasMessageEndingWith(": it is a symbolic link");
        assertThat(target).doesNotExist();
    }

    @Test
    void aHardLinkToAnotherFileIsRefusedAndLeftAsItWas() throws Exception {
        Path target = dir.resolve("passwd");
        Files.writeString(target, "root:x:0:0\n");
        Path link = Files.createLink(dir.resolve("t.pid"), target);

        assertThatThrownBy(() -> Pidfile.acquire(link)).hasMessage("can't write pidfile " + link + ": it has other hard links");
        assertThat(Files.readString(target)).isEqualTo("root:x:0:0\n");
    }

    @Test
    void aFileOfAnotherUserIsRefusedAndLeftAsItWas() throws Exception {
        if (Libc.geteuid() != 0) {
            if ("true".equals(System.getenv("CI"))) {
                throw new AssertionError("needs root to give a file to another user");
            }
            Assumptions.abort("needs root");
        }
        Path path = dir.resolve("t.pid");
        Files.writeString(path, "not ours\n");
        Files.setAttribute(path, "unix:uid", 65534, LinkOption.NOFOLLOW_LINKS);

        assertThatThrownBy(() -> Pidfile.acquire(path)).hasMessage("can't write pidfile " + path + ": owned by uid 65534, not by us");
        assertThat(Files.readString(path)).isEqualTo("not ours\n");
    }

    @Test
    void somethingOtherThanAFileIsRefused() throws Exception {
        Path fifo = dir.resolve("t.pid");
        assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();

        assertThatThrownBy(() -> Pidfile.acquire(fifo)).hasMessage("can't write pidfile " + fifo + ": not a regular file");
        assertThatThrownBy(() -> Pidfile.acquire(dir)).hasMessageStartingWith("can't write pidfile " + dir + ": ");
    }

    @Test
    void aLiveDaemonsPidfileRefusesTheStartAndIsNotTouched() throws Exception {
        Path path = dir.resolve("t.pid");
        try (Pidfile first = Pidfile.acquire(path)) {
            assertThatThrownBy(() -> Pidfile.acquire(path))
                    .isInstanceOf(StartupException.class)
                    .hasMessage("already running as pid " + OURS.trim() + " (" + path + ")");
            assertThat(Files.readString(path)).isEqualTo(OURS);
        }
    }

    @Test
    void aMissingDirectoryIsOneLine() {
        Path path = dir.resolve("no/such/t.pid");
        assertThatThrownBy(() -> Pidfile.acquire(path)).hasMessage("can't write pidfile " + path + ": no such file or directory");
    }
}
