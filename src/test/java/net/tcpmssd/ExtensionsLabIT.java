package net.tcpmssd;

import static net.tcpmssd.lab.Lab.ROUTER;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import net.tcpmssd.lab.Lab.Family;
import net.tcpmssd.lab.Lab;
import net.tcpmssd.lab.LabExtension;
import net.tcpmssd.lab.Tcpmssd;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Issue 6 in the lab: --set-mss and --add-mss with real connections. */
class ExtensionsLabIT {

    @RegisterExtension
    static final LabExtension LAB = new LabExtension();

    private Lab lab;

    @BeforeEach
    void queueSyns() {
        lab = LAB.lab();
        lab.queueSynsToWan();
    }

    @AfterEach
    void reset() {
        lab.clientSendsSynsWithMss();
    }

    @Test
    void setMssClampsBothFamiliesToTheSameValue() {
        try (Tcpmssd daemon = Tcpmssd.start(lab, 100, "-v", "-p", "100", "--set-mss", "1300")) {
            assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1300);
            assertThat(lab.mssAtServer(Family.IPV6)).isEqualTo(1300);
            assertThat(daemon.log()).contains("Maximum MSS: 1300\n");
        }
    }

    @Test
    void addMssGivesSynsWithoutOneTheDefaultAndTheConnectionCarriesData() {
        lab.clientSendsSynsWithoutMss();
        try (Tcpmssd daemon = Tcpmssd.start(lab, 100, "-v", "-p", "100", "-m", "1280")) {
            assertThat(lab.mssAtServer(Family.IPV4)).as("without --add-mss the SYN stays without").isEqualTo(-1);
        }
        try (Tcpmssd daemon = Tcpmssd.start(lab, 100, "-v", "-p", "100", "-m", "1280", "--add-mss")) {
            // mssAtServer also checks that 200 kB went both ways intact: the checksums were right.
            assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(536);
            assertThat(lab.mssAtServer(Family.IPV6)).isEqualTo(1220);
            Lab.awaitLog(daemon.logFile(), "MSS: none -> 536", Duration.ofSeconds(5));
            lab.sh(null, "kill -USR1 " + daemon.process().pid());
            Lab.awaitLog(daemon.logFile(), "IPv4: 1 seen, 0 clamped, 1 MSS added", Duration.ofSeconds(5));
        }
    }

    @Test
    void addMssLeavesSynsThatHaveOneToTheClamp() {
        try (Tcpmssd daemon = Tcpmssd.start(lab, 100, "-v", "-p", "100", "-m", "1280", "--add-mss")) {
            assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1240);
            assertThat(daemon.log()).doesNotContain("none ->");
        }
    }
}
