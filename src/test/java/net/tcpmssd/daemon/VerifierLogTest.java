package net.tcpmssd.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** BEHAVIOUR §7: a refused program's whole verifier log goes to a file named in the error, 0600, never through a link. */
class VerifierLogTest {

    @TempDir
    Path dir;

    @Test
    void theWholeLogIsWrittenWithMode0600AndNamedInTheLine() throws Exception {
        Path path = dir.resolve("verifier.log");
        Files.writeString(path, "an older, longer log that must not survive behind the new one\n".repeat(10));
        String log = "0: (bf) r6 = r1\n1: (61) r0 = *(u32 *)(r6 +200)\ninvalid bpf_context access off=200 size=4\n";
        assertThat(KernelPath.writeVerifierLog(path, log)).isEqualTo(" (the verifier's log is in " + path + ")");
        assertThat(Files.readString(path)).isEqualTo(log);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(path))).isEqualTo("rw-------");
    }

    @Test
    void aSymbolicLinkInItsPlaceIsRefusedAndItsTargetLeftAlone() throws Exception {
        Path target = Files.writeString(dir.resolve("shadow"), "root:x:0:\n");
        Path path = Files.createSymbolicLink(dir.resolve("verifier.log"), target);
        assertThat(KernelPath.writeVerifierLog(path, "log")).isEqualTo(" (can't write verifier log " + path + ": it is a symbolic link)");
        assertThat(Files.readString(target)).isEqualTo("root:x:0:\n");
    }
}
