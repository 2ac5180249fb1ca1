package net.tcpmssd;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The systemd units in contrib/systemd pass `systemd-analyze verify` and hold only what tcpmssd needs. */
class SystemdUnitsTest {

    private static final Path UNITS = Path.of("contrib/systemd");

    @TempDir
    Path dir;

    /** Verifies {@code unit} (a file name, or an instance of a template) copied into a scratch directory. */
    private String verify(String template, String unit) throws Exception {
        if (!Files.isExecutable(Path.of("/usr/bin/systemd-analyze"))) {
            if ("true".equals(System.getenv("CI"))) {
                throw new AssertionError("systemd-analyze is not installed (scripts/deps installs systemd)");
            }
            Assumptions.abort("systemd-analyze is not installed");
        }
        Path units = Files.createDirectories(dir.resolve("units"));
        Path man8 = Files.createDirectories(dir.resolve("man/man8"));
        Files.copy(Path.of("man/tcpmssd.8"), man8.resolve("tcpmssd.8")); // so Documentation=man:tcpmssd(8) resolves
        // ExecStart must name an executable that exists: the repository's launcher.
        Files.writeString(units.resolve(template), Files.readString(UNITS.resolve(template))
                .replace("/opt/tcpmssd/bin/tcpmssd", Path.of("bin/tcpmssd").toAbsolutePath().toString())
                .replace("/usr/sbin/tcpmssd", Path.of("bin/tcpmssd").toAbsolutePath().toString()));
        ProcessBuilder builder = new ProcessBuilder("systemd-analyze", "verify", units.resolve(unit).toString());
        builder.environment().put("MANPATH", dir.resolve("man").toString());
        Process p = builder.redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        return out;
    }

    @Test
    void theServicePassesVerification() throws Exception {
        assertThat(verify("tcpmssd.service", "tcpmssd.service")).isEmpty();
        assertThat(Files.readString(UNITS.resolve("tcpmssd.service"))).contains("Type=notify", "DynamicUser=yes",
                "AmbientCapabilities=CAP_NET_ADMIN\n", "CapabilityBoundingSet=CAP_NET_ADMIN\n", "--foreground",
                // at boot ppp0 is not there yet: wait for it rather than fail
                "Environment=TCPMSSD_ARGS=\"-p 100 -i ppp0 --wait-for-interface\"");
    }

    @Test
    void theAttachServicePassesVerificationAndLeavesTheProgramAtItsStop() throws Exception {
        assertThat(verify("tcpmssd-attach.service", "tcpmssd-attach.service")).isEmpty();
        assertThat(Files.readString(UNITS.resolve("tcpmssd-attach.service"))).contains("Type=notify", "DynamicUser=yes",
                "AmbientCapabilities=CAP_BPF CAP_NET_ADMIN\n", "CapabilityBoundingSet=CAP_BPF CAP_NET_ADMIN\n", "--foreground",
                "KillSignal=SIGUSR2\n", "RuntimeDirectory=tcpmssd\n", "Environment=TCPMSSD_ARGS=\"--attach ppp0 -i ppp0");
    }

    @ParameterizedTest
    @ValueSource(strings = {"tcpmssd@.service", "tcpmssd@ppp0.service", "tcpmssd@wg\\x2dhome.service"})
    void thePerInterfaceTemplatePassesVerification(String unit) throws Exception {
        assertThat(verify("tcpmssd@.service", unit)).isEmpty();
    }

    @Test
    void thePerInterfaceTemplateRunsWhileItsInterfaceExists() throws Exception {
        String unit = Files.readString(UNITS.resolve("tcpmssd@.service"));
        assertThat(unit).contains(
                "BindsTo=sys-subsystem-net-devices-%i.device\n",
                "After=sys-subsystem-net-devices-%i.device\n",
                "WantedBy=sys-subsystem-net-devices-%i.device\n",
                " -i %I ", // the interface unescaped (%i is the escaped name the device unit has)
                "Environment=TCPMSSD_OPTIONS=\"--attach %I\"\n", "EnvironmentFile=-/etc/tcpmssd/%I.conf\n", // wg-home.conf, not wg\x2dhome.conf
                "ExecStart=/usr/sbin/tcpmssd --foreground --pidfile /run/tcpmssd/%I.pid -i %I $TCPMSSD_OPTIONS\n",
                "ExecStartPost=+/usr/sbin/tcpmssd --add-rules -i %I $TCPMSSD_OPTIONS\n",
                "ExecStopPost=+/usr/sbin/tcpmssd --delete-rules -i %I $TCPMSSD_OPTIONS\n",
                // shared by the instances (--attach's locks): kept, or one instance's stop would remove it from the others
                "RuntimeDirectory=tcpmssd\n", "RuntimeDirectoryPreserve=yes\n", "User=tcpmssd\n",
                "CacheDirectory=tcpmssd\n", "Restart=on-failure\n",
                "Type=notify", "DynamicUser=yes", "--foreground", "NoNewPrivileges=yes",
                "AmbientCapabilities=CAP_BPF CAP_NET_ADMIN\n", "CapabilityBoundingSet=CAP_BPF CAP_NET_ADMIN\n",
                "RestrictAddressFamilies=AF_NETLINK AF_UNIX AF_INET AF_INET6\n");
        // A plain stop detaches (SIGTERM, BEHAVIOUR §7); only an upgrade's postinst uses SIGUSR2.
        assertThat(unit).doesNotContain("KillSignal=");
    }
}
