package net.tcpmssd.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The run directory of the locks and tcx records: a directory, or systemd's link to one. */
class RunDirectoryTest {

    @TempDir
    Path dir;

    @Test
    void aDirectoryOfOursIsUsed() {
        assertThatCode(() -> KernelPath.checkRunDirectory(dir)).doesNotThrowAnyException();
    }

    /** As systemd leaves a preserved runtime directory of a DynamicUser= unit: /run/tcpmssd -> private/tcpmssd. */
    @Test
    void aLinkOfRootsOrOursToADirectoryIsFollowed() throws Exception {
        Path real = Files.createDirectories(dir.resolve("private/tcpmssd"));
        Path link = Files.createSymbolicLink(dir.resolve("tcpmssd"), Path.of("private/tcpmssd"));
        assertThatCode(() -> KernelPath.checkRunDirectory(link)).doesNotThrowAnyException();
        Files.delete(link);
        Files.delete(real);
    }

    /** Only root can make a link in /run: one of another user's is not systemd's. */
    @Test
    void aLinkOfAnotherUsersIsRefused() throws Exception {
        Files.createDirectories(dir.resolve("private/tcpmssd"));
        Path link = Files.createSymbolicLink(dir.resolve("tcpmssd"), Path.of("private/tcpmssd"));
        Process chown = new ProcessBuilder("chown", "-h", "65534", link.toString()).inheritIO().start();
        assertThat(chown.waitFor()).as("chown -h, as root").isZero();
        assertThatThrownBy(() -> KernelPath.checkRunDirectory(link)).isInstanceOf(StartupException.class)
                .hasMessage(link + " is a symbolic link that is not root's");
    }

    @Test
    void aLinkToAFileIsRefused() throws Exception {
        Path file = Files.writeString(dir.resolve("file"), "");
        Path link = Files.createSymbolicLink(dir.resolve("tcpmssd"), file);
        assertThatThrownBy(() -> KernelPath.checkRunDirectory(link)).isInstanceOf(StartupException.class)
                .hasMessage(link + " is not a directory of root's or ours");
    }

    @Test
    void aFileIsRefused() throws Exception {
        Path file = Files.writeString(dir.resolve("file"), "");
        assertThatThrownBy(() -> KernelPath.checkRunDirectory(file)).isInstanceOf(StartupException.class)
                .hasMessage(file + " is not a directory of root's or ours");
    }
}
