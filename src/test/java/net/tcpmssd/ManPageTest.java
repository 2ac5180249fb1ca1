package net.tcpmssd;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import net.tcpmssd.lab.ListedPrograms;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The man page renders without a groff warning and documents every option the daemon takes. */
class ManPageTest {

    private static final Path PAGE = Path.of("man/tcpmssd.8");

    private static String[] render() throws Exception {
        String unavailable = ListedPrograms.unavailable();
        if (unavailable != null) {
            if ("true".equals(System.getenv("CI"))) {
                throw new AssertionError(unavailable);
            }
            Assumptions.abort(unavailable);
        }
        ProcessBuilder builder = ListedPrograms.processBuilder(List.of("man", "--warnings", "-E", "UTF-8", "-l", PAGE.toString()));
        builder.environment().put("MANWIDTH", "80");
        builder.environment().put("LC_ALL", "C.UTF-8");
        builder.environment().put("MANPAGER", "cat");
        Process p = builder.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isZero();
        return new String[] {out, err};
    }

    @Test
    void rendersWithoutWarnings() throws Exception {
        String[] rendered = render();
        assertThat(rendered[1]).as("groff warnings").isEmpty();
        assertThat(rendered[0]).contains("tcpmssd [-bv] -p port {-i iface | -m mtu}");
    }

    @Test
    void documentsEveryOption() throws Exception {
        String text = render()[0].replaceAll("\\x08.", "").replace("\u2010", "-").replace("\u2212", "-");
        for (String option : new String[] {"-b", "-v", "-p", "-i", "-m", "--foreground", "--pidfile", "--help", "--version",
                "--pmtu", "--set-mss", "--add-mss", "--print-rules", "--metrics", "--queue-length", "--wait-for-interface",
                "SIGHUP", "SIGUSR1", "SIGTERM", "NFQUEUE", "--queue-bypass", "--attach", "--cls-bpf", "SIGUSR2", "CAP_BPF"}) {
            assertThat(text).as("mentions %s", option).contains(option);
        }
    }
}
