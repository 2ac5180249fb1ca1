package net.tcpmssd;

import static net.tcpmssd.packet.TestPacket.ACK;
import static net.tcpmssd.packet.TestPacket.SYN;
import static net.tcpmssd.packet.TestPacket.concat;
import static net.tcpmssd.packet.TestPacket.mssOption;
import static net.tcpmssd.packet.TestPacket.tcpSegment;
import static net.tcpmssd.lab.Lab.ROUTER;
import static net.tcpmssd.lab.Lab.SERVER;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import net.tcpmssd.cli.Options;
import net.tcpmssd.lab.Lab;
import net.tcpmssd.lab.LabExtension;
import net.tcpmssd.lab.Pcap;
import net.tcpmssd.lab.Tcpmssd;
import net.tcpmssd.lab.UnbindQueue;
import net.tcpmssd.packet.TestPacket;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Issue 5: nothing is lost, whatever comes through the queue and whatever happens to the daemon. */
class ReliabilityLabIT {

    @RegisterExtension
    static final LabExtension LAB = new LabExtension();

    private Lab lab;

    @BeforeEach
    void takeLab() {
        lab = LAB.lab();
    }


    /**
     * Packets the daemon must pass untouched, each of a kind BEHAVIOUR §4 names, built to survive the
     * router's own IP checks (a bad IPv4 header length or total length never reaches netfilter:
     * ip_rcv drops it first; the core's unit tests cover those).
     */
    static List<byte[]> malformedPackets() {
        byte[] none = new byte[0];
        List<byte[]> packets = new ArrayList<>();
        // IPv4: a TCP header cut to 12 bytes.
        packets.add(TestPacket.ipv4(java.util.Arrays.copyOf(tcpSegment(SYN, mssOption(1460), none), 12)).bytes);
        // Data offset below 5, and data offset past the segment.
        TestPacket shortOffset = TestPacket.ipv4(tcpSegment(SYN, mssOption(1460), none));
        shortOffset.bytes[shortOffset.tcp + 12] = 0x40;
        packets.add(shortOffset.bytes);
        TestPacket longOffset = TestPacket.ipv4(tcpSegment(SYN, mssOption(1460), none));
        longOffset.bytes[longOffset.tcp + 12] = (byte) 0xf0;
        packets.add(longOffset.bytes);
        // Option lists that stop the walk before the MSS: a zero length, an overlong one, EOL.
        packets.add(TestPacket.ipv4(tcpSegment(SYN, concat(new byte[] {8, 0}, mssOption(1460)), none)).bytes);
        packets.add(TestPacket.ipv4(tcpSegment(SYN, concat(new byte[] {(byte) 253, 40}, mssOption(1460)), none)).bytes);
        packets.add(TestPacket.ipv6(tcpSegment(SYN, concat(new byte[] {0}, mssOption(1440)), none)).bytes);
        // An MSS option with a wrong length, and one already small enough with a broken checksum.
        packets.add(TestPacket.ipv4(tcpSegment(SYN, new byte[] {2, 3, 5, 0}, none)).bytes);
        TestPacket badChecksum = TestPacket.ipv4(tcpSegment(SYN, mssOption(1200), none));
        badChecksum.bytes[badChecksum.tcp + 16] ^= 0x55;
        packets.add(badChecksum.bytes);
        // Not a SYN (with an MSS option all the same), and a later fragment that looks like a SYN.
        packets.add(TestPacket.ipv4(tcpSegment(ACK, mssOption(1460), new byte[] {1, 2, 3})).bytes);
        packets.add(TestPacket.ipv4(tcpSegment(SYN, mssOption(1460), none), 0x0003).bytes);
        // Not TCP: UDP carrying what looks like a SYN.
        TestPacket udp = TestPacket.ipv4(tcpSegment(SYN, mssOption(1460), none));
        udp.bytes[9] = 17;
        fixIpv4HeaderChecksum(udp.bytes);
        packets.add(udp.bytes);
        // IPv6: truncated TCP, ESP, a later fragment, an extension header tcpmssd does not walk.
        packets.add(TestPacket.ipv6(java.util.Arrays.copyOf(tcpSegment(SYN, mssOption(1440), none), 10)).bytes);
        packets.add(TestPacket.ipv6(tcpSegment(SYN, mssOption(1440), none), 50, TestPacket.paddedExtension(0)).bytes);
        packets.add(TestPacket.ipv6(tcpSegment(SYN, mssOption(1440), none), 44, TestPacket.fragmentHeader(1, false)).bytes);
        packets.add(TestPacket.ipv6(tcpSegment(SYN, mssOption(1440), none), 253, TestPacket.paddedExtension(0)).bytes);
        return packets;
    }

    private static void fixIpv4HeaderChecksum(byte[] p) {
        p[10] = 0;
        p[11] = 0;
        int sum = ~TestPacket.sum(p, 0, 20, 0) & 0xffff;
        p[10] = (byte) (sum >>> 8);
        p[11] = (byte) sum;
    }

    /** The packet as the server sees it, less what forwarding changes: TTL/hop limit, IPv4 header checksum. */
    private static String normalized(byte[] packet) {
        byte[] p = packet.clone();
        if ((p[0] & 0xf0) == 0x40) {
            p[8] = 0;
            p[10] = 0;
            p[11] = 0;
        } else {
            p[7] = 0;
        }
        return HexFormat.of().formatHex(p);
    }

    @Test
    void malformedPacketStormPassesUnchangedAndTheDaemonStaysUp() throws Exception {
        List<byte[]> packets = malformedPackets();
        int rounds = 40;
        // Everything the client sends goes to the queue, whatever it is.
        lab.bothFamilies(ROUTER, "-t mangle -A FORWARD -i lan0 -j NFQUEUE --queue-num 100 --queue-bypass");
        // The server drops them on arrival (no replies to muddle things); tcpdump sees them first.
        lab.bothFamilies(SERVER, "-t raw -A PREROUTING -i eth0 -j DROP");
        Path capture = lab.scratch().resolve("storm.pcap");
        int expected = packets.size() * rounds;
        Path tcpdumpLog = lab.scratch().resolve("storm-tcpdump.log");
        Process tcpdump = lab.spawn(SERVER, tcpdumpLog, "timeout", "60", "tcpdump", "-i", "eth0", "-n", "-U", "-s", "0",
                "-c", Integer.toString(expected), "-w", capture.toString(), "src host 198.51.100.2 or src host 2001:db8:1::2");
        Lab.awaitLog(tcpdumpLog, "listening on", Duration.ofSeconds(10));

        try (Tcpmssd daemon = Tcpmssd.start(lab, 100, "-v", "-p", "100", "-m", "1280")) {
            lab.sendRaw(packets, rounds, 50);
            assertThat(tcpdump.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)).as("all %d packets arrived", expected).isTrue();

            Map<String, Integer> sent = new HashMap<>();
            for (byte[] p : packets) {
                sent.merge(normalized(p), rounds, Integer::sum);
            }
            Map<String, Integer> arrived = new HashMap<>();
            for (byte[] p : Pcap.ipPackets(capture)) {
                arrived.merge(normalized(p), 1, Integer::sum);
            }
            assertThat(arrived).as("every packet arrived byte for byte as sent, as often as sent").isEqualTo(sent);
            System.out.printf("storm: %d kinds x %d rounds = %d sent, %d arrived unchanged%n", packets.size(), rounds, expected,
                    arrived.values().stream().mapToInt(Integer::intValue).sum());

            lab.sh(null, "kill -USR1 " + daemon.process().pid());
            long v4 = packets.stream().filter(p -> (p[0] & 0xf0) == 0x40).count() * rounds;
            long v6 = packets.stream().filter(p -> (p[0] & 0xf0) == 0x60).count() * rounds;
            Lab.awaitLog(daemon.logFile(), "IPv4: " + v4 + " seen, 0 clamped", Duration.ofSeconds(5));
            Lab.awaitLog(daemon.logFile(), "IPv6: " + v6 + " seen, 0 clamped", Duration.ofSeconds(5));
            assertThat(daemon.process().isAlive()).isTrue();
            assertThat(daemon.log()).as("nothing clamped, nothing warned").doesNotContain(" -> ").doesNotContain("warning");
        }
    }

    /** Counts, at the server, SYNs to the echo port by the MSS they carry. */
    private void countSynsAtServer() {
        for (String mss : List.of("1240", "1460")) {
            lab.sh(SERVER, "iptables -t raw -A PREROUTING -p tcp --syn --dport 5001 -m tcpmss --mss " + mss);
        }
    }

    /** SYNs counted at the server since the last call, by MSS: {1240, 1460}. Zeroes the counters. */
    private long[] synsAtServer() {
        String rules = lab.sh(SERVER, "iptables -t raw -L PREROUTING -nvxZ");
        return new long[] {count(rules, 1240), count(rules, 1460)};
    }

    private static long count(String rules, int mss) {
        for (String line : rules.split("\n")) {
            if (line.contains("tcpmss match " + mss)) {
                return Long.parseLong(line.trim().split("\\s+")[0]);
            }
        }
        throw new AssertionError("no counter for MSS " + mss + " in\n" + rules);
    }

    /** Opens {@code count} connections one after another; returns how many carried their echo. */
    private int connections(int count) {
        String out = lab.sh(Lab.CLIENT, "for i in $(seq " + count + "); do echo x | timeout 5 socat -t 2 - TCP4:203.0.113.2:5001; done");
        return (int) out.lines().filter("x"::equals).count();
    }

    @Test
    void killedDaemonLetsConnectionsThroughAndClampingResumesOnRestart() throws Exception {
        lab.queueSynsToWan();
        countSynsAtServer();
        Tcpmssd daemon = Tcpmssd.start(lab, 100, "-v", "-p", "100", "-m", "1280");
        lab.flushRouteCaches();

        assertThat(connections(10)).as("with the daemon").isEqualTo(10);
        assertThat(synsAtServer()).as("SYNs with MSS 1240, 1460").containsExactly(10, 0);

        // SIGKILL in the middle of a run of connections: none may fail. (A SYN the daemon held
        // when it died is dropped by the kernel with its queue; the client retransmits it.)
        Path log = lab.scratch().resolve("during-kill.txt");
        Process during = lab.spawn(Lab.CLIENT, log, "sh", "-c",
                "for i in $(seq 20); do echo x | timeout 5 socat -t 2 - TCP4:203.0.113.2:5001; sleep 0.05; done");
        Lab.awaitLog(log, "x\nx\nx\n", Duration.ofSeconds(10));
        daemon.process().destroyForcibly();
        assertThat(during.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        assertThat(java.nio.file.Files.readAllLines(log).stream().filter("x"::equals).count())
                .as("connections succeeded while the daemon was killed").isEqualTo(20);
        assertThat(Tcpmssd.queueBound(lab, 100)).isFalse();
        synsAtServer(); // zero the counters

        assertThat(connections(10)).as("while the daemon is down").isEqualTo(10);
        assertThat(synsAtServer()).as("passed unclamped by --queue-bypass: MSS 1240, 1460").containsExactly(0, 10);

        try (Tcpmssd restarted = Tcpmssd.start(lab, 100, "-v", "-p", "100", "-m", "1280")) {
            assertThat(connections(10)).as("after the restart").isEqualTo(10);
            System.out.println("kill: up 10/10 clamped, during SIGKILL 20/20, down 10/10 unclamped, restarted 10/10 clamped");
            assertThat(synsAtServer()).as("clamped again: MSS 1240, 1460").containsExactly(10, 0);
        }
    }

    @Test
    void anotherProcessCannotUnbindTheQueue() throws Exception {
        lab.queueSynsToWan();
        try (Tcpmssd daemon = Tcpmssd.start(lab, 100, "-v", "-p", "100", "-m", "1280")) {
            // A second program speaks to the same queue: bind (refused, the daemon's message) ...
            Lab.Result bind = Tcpmssd.run(lab, "-v", "-p", "100", "-m", "1280");
            assertThat(bind.stderr()).isEqualTo("tcpmssd: queue 100 is already in use\n");
            // ... and an explicit unbind of someone else's queue, refused by the kernel (EPERM).
            Lab.Result unbind = lab.host(ROUTER, java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                    "net.tcpmssd.lab.UnbindQueue", "100");
            assertThat(unbind.stdout()).isEqualTo("unbind queue 100: Operation not permitted\n");
            assertThat(Tcpmssd.queueBound(lab, 100)).isTrue();
            assertThat(lab.mssAtServer(Lab.Family.IPV4)).isEqualTo(1240);
            assertThat(daemon.log()).doesNotContain("warning");
        }
    }

    /** The router's view of a queue: queue_dropped and user_dropped of /proc/net/netfilter/nfnetlink_queue. */
    private long[] queueDrops(int queue) {
        for (String line : lab.sh(ROUTER, "cat /proc/net/netfilter/nfnetlink_queue").split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f[0].equals(Integer.toString(queue))) {
                return new long[] {Long.parseLong(f[5]), Long.parseLong(f[6])};
            }
        }
        throw new AssertionError("queue " + queue + " not bound");
    }

    @Test
    void aBurstOfSynsIsClampedWithoutLoss() {
        lab.queueSynsToWan();
        countSynsAtServer();
        lab.sh(SERVER, "iptables -t raw -A PREROUTING -p tcp --syn --dport 5001 -j DROP");
        int burst = 20000;
        try (Tcpmssd daemon = Tcpmssd.start(lab, 100, "--foreground", "--pidfile", lab.scratch().resolve("b.pid").toString(),
                "-p", "100", "-m", "1280")) {
            lab.sendRaw(List.of(TestPacket.ipv4(tcpSegment(SYN, mssOption(1460), new byte[0])).bytes), burst, 5);
            lab.awaitTrue(SERVER, "[ $(iptables -t raw -L PREROUTING -nvx | awk '/tcpmss match 1240/ {print $1}') -ge " + burst + " ]",
                    Duration.ofSeconds(20));
            assertThat(synsAtServer()).as("clamped, passed unclamped").containsExactly(burst, 0);
            System.out.printf("burst: %d sent, %d clamped, 0 unclamped, 0 lost%n", burst, burst);
            assertThat(queueDrops(100)).as("queue_dropped, user_dropped").containsExactly(0, 0);
            lab.sh(null, "kill -USR1 " + daemon.process().pid());
            Lab.awaitLog(daemon.logFile(), "IPv4: " + burst + " seen, " + burst + " clamped", Duration.ofSeconds(5));
        }
    }

    @Test
    void overloadPassesTheExcessUnclampedLosesNothingAndRecovers() throws Exception {
        lab.queueSynsToWan();
        countSynsAtServer();
        lab.sh(SERVER, "iptables -t raw -A PREROUTING -p tcp --syn --dport 5001 -j DROP");
        List<byte[]> syn = List.of(TestPacket.ipv4(tcpSegment(SYN, mssOption(1460), new byte[0])).bytes);
        int flood = 40000;
        try (Tcpmssd daemon = Tcpmssd.start(lab, 100, "--foreground", "--pidfile", lab.scratch().resolve("o.pid").toString(),
                "-p", "100", "-m", "1280")) {
            // The daemon takes nothing while it is stopped: the kernel holds what fits in the
            // queue and our socket, and fail-open passes the rest unmodified at once.
            lab.sh(null, "kill -STOP " + daemon.process().pid());
            lab.sendRaw(syn, flood, 2);
            Lab.pause(500);
            long passedWhileStopped = synsAtServerWithoutReset(1460);
            lab.sh(null, "kill -CONT " + daemon.process().pid());
            lab.awaitTrue(SERVER, "[ $(iptables -t raw -L PREROUTING -nvx | awk '/tcpmss match/ {n += $1} END {print n}') -ge " + flood + " ]",
                    Duration.ofSeconds(30));
            long[] counts = synsAtServer();
            long clamped = counts[0];
            long unclamped = counts[1];
            assertThat(clamped + unclamped).as("every SYN arrived").isEqualTo(flood);
            assertThat(unclamped).as("the excess passed unclamped").isPositive().isEqualTo(passedWhileStopped);
            assertThat(clamped).as("what was queued was clamped after all").isPositive();
            assertThat(queueDrops(100)).as("queue_dropped, user_dropped").containsExactly(0, 0);

            assertThat(clamped).as("the queue held as many as it may").isEqualTo(Options.DEFAULT_QUEUE_LENGTH);
            System.out.printf("overload: %d sent while stopped, %d clamped, %d passed unclamped, 0 lost%n", flood, clamped, unclamped);
            // A full queue fails open silently: the kernel counts nothing, so the daemon can
            // only report what it saw.
            lab.sh(null, "kill -USR1 " + daemon.process().pid());
            Lab.awaitLog(daemon.logFile(), "IPv4: " + clamped + " seen, " + clamped + " clamped", Duration.ofSeconds(10));

            // The rate falls: clamping as before.
            lab.sendRaw(syn, 1000, 20);
            lab.awaitTrue(SERVER, "[ $(iptables -t raw -L PREROUTING -nvx | awk '/tcpmss match 1240/ {print $1}') -ge 1000 ]",
                    Duration.ofSeconds(20));
            assertThat(synsAtServer()).as("clamped, passed unclamped").containsExactly(1000, 0);
        }
    }

    private long synsAtServerWithoutReset(int mss) {
        return count(lab.sh(SERVER, "iptables -t raw -L PREROUTING -nvx"), mss);
    }

    @Test
    void aFullSocketIsSurvivedAndWhatTheKernelPassedUnseenIsReported() throws Exception {
        lab.queueSynsToWan();
        countSynsAtServer();
        lab.sh(SERVER, "iptables -t raw -A PREROUTING -p tcp --syn --dport 5001 -j DROP");
        List<byte[]> syn = List.of(TestPacket.ipv4(tcpSegment(SYN, mssOption(1460), new byte[0])).bytes);
        int flood = 60000;
        // A queue longer than our socket holds: the socket overflows first (ENOBUFS), and the
        // kernel counts every packet it then passed unclamped (the socket's drop count).
        try (Tcpmssd daemon = Tcpmssd.start(lab, 100, "--foreground", "--pidfile", lab.scratch().resolve("e.pid").toString(),
                "--queue-length", "200000", "-p", "100", "-m", "1280")) {
            lab.sh(null, "kill -STOP " + daemon.process().pid());
            lab.sendRaw(syn, flood, 2);
            lab.sh(null, "kill -CONT " + daemon.process().pid());
            lab.awaitTrue(SERVER, "[ $(iptables -t raw -L PREROUTING -nvx | awk '/tcpmss match/ {n += $1} END {print n}') -ge " + flood + " ]",
                    Duration.ofSeconds(30));
            long[] counts = synsAtServer();
            assertThat(counts[0] + counts[1]).as("every SYN arrived").isEqualTo(flood);
            assertThat(counts[1]).as("some passed unclamped").isPositive();
            assertThat(queueDrops(100)).as("queue_dropped, user_dropped").containsExactly(0, 0);
            System.out.printf("socket full: %d sent, %d clamped, %d passed unclamped and reported, 0 lost%n", flood, counts[0], counts[1]);

            Lab.awaitLog(daemon.logFile(), "warning: queue 100: receive buffer overrun, packets passed unclamped (fail-open)",
                    Duration.ofSeconds(10));
            lab.sh(null, "kill -USR1 " + daemon.process().pid());
            Lab.awaitLog(daemon.logFile(), "socket full: " + counts[1] + " packets passed unclamped by fail-open", Duration.ofSeconds(10));
            assertThat(daemon.log()).contains("IPv4: " + counts[0] + " seen, " + counts[0] + " clamped");
            assertThat(daemon.log().lines().filter(l -> l.contains("overrun, packets passed")).count()).as("logged once").isEqualTo(1);

            lab.sh(SERVER, "iptables -t raw -F"); // let connections in again
            assertThat(lab.mssAtServer(Lab.Family.IPV4)).as("clamping goes on").isEqualTo(1240);
        }
    }
}
