package net.tcpmssd;

import static net.tcpmssd.lab.Lab.CLIENT;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The real daemon in the namespace lab (BEHAVIOUR §6), through real iptables NFQUEUE rules and real TCP
 * connections: client ── router (tcpmssd) ══ 1280 ══ wan ── server.
 */
class ClampingLabIT {

    private static final int QUEUE = 100;

    @RegisterExtension
    static final LabExtension LAB = new LabExtension();

    private Lab lab;

    @BeforeEach
    void takeLab() {
        lab = LAB.lab();
    }


    private static int clientMss(Family f) {
        return f == Family.IPV4 ? 1460 : 1440; // 1500 minus 40 or 60
    }

    private static int clampedMss(Family f) {
        return f == Family.IPV4 ? 1240 : 1220; // 1280 minus 40 or 60
    }

    @ParameterizedTest
    @EnumSource(Family.class)
    void withoutTcpmssdTheQueueIsBypassedAndTheMssArrivesUnchanged(Family f) {
        lab.queueSynsToWan();
        assertThat(lab.unclampedMssAtServer(f)).isEqualTo(clientMss(f));
    }

    @ParameterizedTest
    @EnumSource(Family.class)
    void clampsTheSynToTheSmallLinkAndTheConnectionCarriesData(Family f) {
        lab.queueSynsToWan();
        try (Tcpmssd daemon = Tcpmssd.start(lab, QUEUE, "-v", "-p", "100", "-m", "1280")) {
            assertThat(lab.mssAtServer(f)).isEqualTo(clampedMss(f));
            assertThat(daemon.log())
                    .contains("Maximum MSS: 1240")
                    .contains("MSS: " + clientMss(f) + " -> " + clampedMss(f));
        }
    }

    @Test
    void interfaceMtuGivesTheSameResultAsTheFixedMtu() {
        lab.queueSynsToWan();
        try (Tcpmssd daemon = Tcpmssd.start(lab, QUEUE, "-v", "-p", "100", "-i", "wan0")) {
            assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1240);
            assertThat(lab.mssAtServer(Family.IPV6)).isEqualTo(1220);
            assertThat(daemon.log()).contains("Maximum MSS: 1240");
        }
    }

    @ParameterizedTest
    @EnumSource(Family.class)
    void synAckIsClampedWhenItPassesAnOutgoingHook(Family f) {
        // Every SYN the router forwards, either way: the server's SYN-ACK leaves by lan0.
        lab.bothFamilies(ROUTER, "-t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j NFQUEUE --queue-num 100 --queue-bypass");
        try (Tcpmssd daemon = Tcpmssd.start(lab, QUEUE, "-v", "-p", "100", "-m", "1280")) {
            int synAckMss = lab.capturedMss(CLIENT, "eth0", f, true, () -> assertThat(lab.echoRoundTrip(f)).isTrue());
            assertThat(synAckMss).isEqualTo(clampedMss(f));
        }
    }

    @ParameterizedTest
    @EnumSource(Family.class)
    void incomingSynIsClampedOnlyWithB(Family f) {
        lab.bothFamilies(ROUTER, "-t mangle -A PREROUTING -i lan0 -p tcp --tcp-flags SYN,RST SYN -j NFQUEUE --queue-num 100 --queue-bypass");
        try (Tcpmssd daemon = Tcpmssd.start(lab, QUEUE, "-v", "-p", "100", "-m", "1280")) {
            assertThat(lab.unclampedMssAtServer(f)).as("without -b, PREROUTING is incoming").isEqualTo(clientMss(f));
            assertThat(daemon.log()).doesNotContain("MSS: " + clientMss(f));
        }
        try (Tcpmssd daemon = Tcpmssd.start(lab, QUEUE, "-bv", "-p", "100", "-m", "1280")) {
            assertThat(lab.mssAtServer(f)).as("with -b").isEqualTo(clampedMss(f));
        }
    }

    @ParameterizedTest
    @EnumSource(Family.class)
    void blackHoleDownloadStallsWithoutTcpmssdAndCompletesWithIt(Family f) {
        lab.blackhole(true);
        assertThat(lab.download(f, Duration.ofSeconds(4))).as("download without tcpmssd").isLessThan(1_000_000);

        lab.queueSynsToWan();
        try (Tcpmssd daemon = Tcpmssd.start(lab, QUEUE, "-v", "-p", "100", "-i", "wan0")) {
                assertThat(lab.download(f, Duration.ofSeconds(20))).as("download with tcpmssd").isEqualTo(1_000_000);
        }
    }

    @Test
    void aQueueRangeServesEveryQueueOfABalancedRule() {
        // --queue-cpu-fanout picks the queue by the CPU that handles the packet: the client's
        // connections, pinned to each CPU in turn, reach both queues.
        lab.bothFamilies(ROUTER, "-t mangle -A FORWARD -o wan0 -p tcp --tcp-flags SYN,RST SYN"
                + " -j NFQUEUE --queue-balance 100:101 --queue-cpu-fanout --queue-bypass");
        try (Tcpmssd daemon = Tcpmssd.start(lab, 101, "-v", "-p", "100-101", "-m", "1280")) {
            assertThat(Tcpmssd.queueBound(lab, 100)).isTrue();
            for (int cpu = 0; cpu < 2; cpu++) {
                for (Family f : Family.values()) {
                    String connect = "echo hello | timeout 10 taskset -c " + cpu + " socat -t 2 - "
                            + (f == Family.IPV4 ? "TCP4:" : "TCP6:") + f.server + ":5001";
                    int mss = lab.capturedMss(Lab.SERVER, "eth0", f, false, () -> assertThat(lab.sh(CLIENT, connect)).isEqualTo("hello\n"));
                    assertThat(mss).isEqualTo(clampedMss(f));
                }
            }
            // Each queue handed packets to us (id_sequence, the last column but one).
            for (String line : lab.sh(ROUTER, "cat /proc/net/netfilter/nfnetlink_queue").strip().split("\n")) {
                String[] fields = line.trim().split("\\s+");
                assertThat(Long.parseLong(fields[7])).as("packets through queue %s", fields[0]).isPositive();
            }
        }
    }

    @Test
    void aSecondDaemonOnTheSameQueueFailsWithTheDocumentedMessage() {
        try (Tcpmssd first = Tcpmssd.start(lab, QUEUE, "-v", "-p", "100", "-m", "1280")) {
            Lab.Result second = Tcpmssd.run(lab, "-v", "-p", "100", "-m", "1280");
            assertThat(second.status()).isEqualTo(1);
            assertThat(second.stderr()).isEqualTo("tcpmssd: queue 100 is already in use\n");
            assertThat(first.process().isAlive()).isTrue();
        }
    }

    @Test
    void sigtermUnbindsTheQueueAndExitsZero() {
        Tcpmssd daemon = Tcpmssd.start(lab, QUEUE, "-v", "-p", "100", "-m", "1280");
        assertThat(daemon.stop()).isZero();
        assertThat(Tcpmssd.queueBound(lab, QUEUE)).isFalse();
    }
}
