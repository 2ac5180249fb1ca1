package net.tcpmssd.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The tests' commands see the programs of scripts/programs and nothing else. Needs no root. */
class ListedProgramsTest {

    @BeforeAll
    static void programsInstalled() {
        String unavailable = ListedPrograms.unavailable();
        if (unavailable != null && "true".equals(System.getenv("CI"))) {
            throw new AssertionError(unavailable);
        }
        assumeTrue(unavailable == null, unavailable);
    }

    @Test
    void anUnlistedProgramIsRefusedEvenWhenInstalled() {
        // java is on this machine (it runs this test) but no test may run it by name.
        assertThat(Files.isExecutable(Path.of(System.getProperty("java.home"), "bin", "java"))).isTrue();
        assertThatThrownBy(() -> ListedPrograms.processBuilder(List.of("java", "-version")))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("java is not in scripts/programs");
    }

    @Test
    void aShellScriptFindsListedProgramsAndNoOthers() throws Exception {
        Process p = ListedPrograms.processBuilder(List.of("sh", "-c",
                "ip -V >/dev/null && echo listed; java -version 2>/dev/null; echo unlisted=$?")).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).isZero();
        assertThat(out).isEqualTo("listed\nunlisted=127\n"); // 127: command not found
    }

    @Test
    void everyListedProgramHasAPackageForScriptsDeps() throws Exception {
        for (String line : Files.readAllLines(Lab.ROOT.resolve("scripts/programs"))) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            assertThat(line.trim().split("\\s+")).as(line).hasSize(2);
        }
        assertThat(Files.readString(Lab.ROOT.resolve("scripts/deps"))).contains("scripts/programs");
    }
}
