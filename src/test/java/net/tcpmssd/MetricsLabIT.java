package net.tcpmssd;

import static net.tcpmssd.lab.Lab.ROUTER;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import net.tcpmssd.lab.Lab.Family;
import net.tcpmssd.lab.Lab;
import net.tcpmssd.lab.LabExtension;
import net.tcpmssd.lab.Tcpmssd;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Issue 6 in the lab: --metrics counts real connections through the real daemon. */
class MetricsLabIT {

    private static final String METRICS = "127.0.0.1:9815";
    private static final String SCRAPE = "curl -sf http://" + METRICS + "/metrics";

    @RegisterExtension
    static final LabExtension LAB = new LabExtension();

    private Lab lab;

    @BeforeEach
    void queueSyns() {
        lab = LAB.lab();
        lab.queueSynsToWan();
    }


    @Test
    void countsEveryClampedSynAndShowsTheMaximumMss() {
        try (Tcpmssd daemon = Tcpmssd.start(lab, 100, "-v", "-p", "100", "-m", "1280", "--metrics", METRICS)) {
            // The queue is bound; the HTTP server may come a moment later.
            lab.awaitTrue(ROUTER, SCRAPE + " >/dev/null", Duration.ofSeconds(10));
            // The JDK listens on a dual-stack socket: loopback shows as [::ffff:127.0.0.1], never as * or [::].
            assertThat(lab.sh(ROUTER, "ss -Hltn 'sport = :9815'")).as("listening on loopback only")
                    .containsPattern("\\s(\\[::ffff:)?127\\.0\\.0\\.1\\]?:9815\\s");

            for (int i = 0; i < 3; i++) {
                assertThat(lab.echoRoundTrip(Family.IPV4)).as("IPv4 connection %d", i).isTrue();
            }
            for (int i = 0; i < 2; i++) {
                assertThat(lab.echoRoundTrip(Family.IPV6)).as("IPv6 connection %d", i).isTrue();
            }

            // Only SYNs leaving by wan0 are queued: one per connection, each clamped.
            assertThat(lab.sh(ROUTER, SCRAPE).lines())
                    .as("scrape, daemon log:\n%s", daemon.log())
                    .contains(
                            "tcpmssd_packets_total{family=\"ipv4\",outcome=\"clamped\"} 3.0",
                            "tcpmssd_packets_total{family=\"ipv6\",outcome=\"clamped\"} 2.0",
                            "tcpmssd_packets_total{family=\"ipv4\",outcome=\"mss_small_enough\"} 0.0",
                            "tcpmssd_packets_total{family=\"other\",outcome=\"malformed\"} 0.0",
                            "tcpmssd_receive_buffer_overruns_total 0.0",
                            "tcpmssd_maximum_mss_bytes{family=\"ipv4\"} 1240.0",
                            "tcpmssd_maximum_mss_bytes{family=\"ipv6\"} 1220.0");
        }
    }
}
