package net.tcpmssd;

import static net.tcpmssd.lab.Lab.CLIENT;
import static net.tcpmssd.lab.Lab.ROUTER;
import static net.tcpmssd.lab.Lab.SERVER;
import static net.tcpmssd.lab.Lab.WAN;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import net.tcpmssd.bpf.BpfProgram;
import net.tcpmssd.bpf.ClampMaps;
import net.tcpmssd.bpf.ClampProgram;
import net.tcpmssd.bpf.KernelBpf;
import net.tcpmssd.bpf.LinkType;
import net.tcpmssd.bpf.Tcx;
import net.tcpmssd.bpf.TcxHook;
import net.tcpmssd.bpf.TcxLink;
import net.tcpmssd.lab.Lab;
import net.tcpmssd.lab.Lab.Family;
import net.tcpmssd.lab.LabExtension;
import net.tcpmssd.lab.NamespaceThread;
import net.tcpmssd.packet.MaxMss;
import net.tcpmssd.packet.Outcome;
import net.tcpmssd.packet.TestPacket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Issue 12, checksums on the wire: the clamping program at the router's wan0 egress (through tcx,
 * no daemon), and SYNs whose MSS it lowers, with their checksums in each state the kernel hands
 * them over in, must reach the server with a right TCP checksum, and their connections carry
 * data. The server's kernel is the judge: it verifies every segment it receives with a complete
 * checksum and counts the wrong ones in TcpInCsumErrors (/proc/net/snmp's Tcp: InCsumErrors,
 * one counter for IPv4 and IPv6: /proc/net/snmp6 has no TCP lines).
 *
 * <p>Where each checksum is completed:
 * <ul>
 *   <li>Forwarded, the client's offload on: the client's SYN crosses its veth CHECKSUM_PARTIAL
 *       (only the pseudo-header sum in the field) and is forwarded so.
 *   <li>Forwarded, the client's offload off: the client completes it; the program meets a
 *       complete checksum (CHECKSUM_NONE) and must update it.
 *   <li>The router's own connection: TCP builds its SYN CHECKSUM_PARTIAL whatever the device.
 * </ul>
 * With wan0's offload off, a partial checksum is completed in software right after tc (on the
 * router, validate_xmit_skb()); with it on, the skb crosses the veth still partial and the wan
 * host's server-facing eth1, whose offload is off for the whole class, completes it. Without
 * that, a partial skb would arrive at the server partial, and a veth receiver trusts a partial
 * checksum without verifying it: the test could not fail.
 *
 * <p>The maximum MSS is that of an MTU of 1200, below the router's own 1280 link, so that the
 * router's own SYN (MSS 1240, 1220) is lowered too.
 */
class WireChecksumsLabIT {

    private static final int MTU = 1200;

    @RegisterExtension
    static final LabExtension LAB = new LabExtension();

    private static ClampMaps maps;
    private static BpfProgram program;
    private static TcxLink link;

    private Lab lab;

    /** Where the SYN comes from and in which checksum state it reaches the router's wan0. */
    enum Origin {
        FORWARDED_PARTIAL(CLIENT, true),
        FORWARDED_COMPLETE(CLIENT, false),
        ROUTER_ITSELF(ROUTER, true);

        final String host;
        final boolean clientOffload;

        Origin(String host, boolean clientOffload) {
            this.host = host;
            this.clientOffload = clientOffload;
        }
    }

    @BeforeAll
    static void attachAtTheRoutersWanEgress() throws Exception {
        KernelBpf.assumeUsable();
        Lab lab = LAB.lab();
        lab.sh(WAN, "ethtool -K eth1 tx off >/dev/null");
        maps = ClampMaps.create();
        program = ClampProgram.load(LinkType.ETHERNET, maps, false);
        maps.setMaxMss(MaxMss.forMtu(MTU));
        int wan0 = Integer.parseInt(lab.sh(ROUTER, "cat /sys/class/net/wan0/ifindex").strip());
        // A link: it ends with its fd, so a test JVM that dies leaves nothing attached either.
        link = NamespaceThread.call(lab.namespace(ROUTER), () -> Tcx.link(program, wan0, TcxHook.EGRESS, 0));
    }

    @AfterAll
    static void detach() {
        if (link != null) {
            link.close();
        }
        if (program != null) {
            program.close();
        }
        if (maps != null) {
            maps.close();
        }
    }

    @BeforeEach
    void takeLab() {
        lab = LAB.lab();
    }

    @AfterEach
    void offloadBackOn() {
        lab.sh(ROUTER, "ethtool -K wan0 tx on >/dev/null");
        lab.sh(CLIENT, "ethtool -K eth0 tx on >/dev/null");
    }

    static List<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        for (Family f : Family.values()) {
            for (Origin origin : Origin.values()) {
                for (boolean wanOffload : new boolean[] {false, true}) {
                    cases.add(Arguments.of(f, origin, wanOffload));
                }
            }
        }
        return cases;
    }

    @ParameterizedTest(name = "{0} {1}, wan0 tx offload {2}")
    @MethodSource("cases")
    void clampedSynsArriveWithRightChecksumsAndTheirConnectionsCarryData(Family f, Origin origin, boolean wanOffload)
            throws Exception {
        lab.sh(ROUTER, "ethtool -K wan0 tx " + (wanOffload ? "on" : "off") + " >/dev/null");
        lab.sh(CLIENT, "ethtool -K eth0 tx " + (origin.clientOffload ? "on" : "off") + " >/dev/null");
        assertThat(lab.sh(ROUTER, "ethtool -k wan0")).contains("tx-checksum-ip-generic: " + (wanOffload ? "on" : "off"));
        int version = f == Family.IPV4 ? 4 : 6;
        long errorsBefore = checksumErrors(SERVER);
        long clampedBefore = maps.count(version, Outcome.CLAMPED);

        boolean[] carried = new boolean[1];
        int mss = lab.capturedMss(SERVER, "eth0", f, false, () -> carried[0] = lab.echoRoundTrip(origin.host, f));

        assertThat(checksumErrors(SERVER) - errorsBefore).as("the server's TcpInCsumErrors").isZero();
        assertThat(mss).as("the MSS that arrives").isEqualTo(version == 4 ? MTU - 40 : MTU - 60);
        assertThat(maps.count(version, Outcome.CLAMPED) - clampedBefore).as("SYNs the program lowered (no retransmission)")
                .isEqualTo(1);
        assertThat(carried[0]).as("200 kB both ways, intact").isTrue();
    }

    /** The judge works: a SYN sent with a wrong checksum (complete, from trafgen) is counted at the server. */
    @ParameterizedTest
    @EnumSource(Family.class)
    void aWrongChecksumIsCountedAtTheServer(Family f) throws Exception {
        byte[] segment = TestPacket.tcpSegment(TestPacket.SYN, TestPacket.mssOption(1460), new byte[0]);
        TestPacket syn = f == Family.IPV4 ? TestPacket.ipv4(segment) : TestPacket.ipv6(segment);
        syn.bytes[syn.tcp + 16] ^= 0x55;
        long errorsBefore = checksumErrors(SERVER);
        lab.sendRaw(List.of(syn.bytes), 1, 0);
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (checksumErrors(SERVER) == errorsBefore && System.nanoTime() < deadline) {
            Lab.pause(20);
        }
        assertThat(checksumErrors(SERVER) - errorsBefore).isEqualTo(1);
    }

    /** Tcp: InCsumErrors of a host, from /proc/net/snmp's header and value lines. */
    private long checksumErrors(String host) {
        String[] header = null;
        for (String line : lab.sh(host, "cat /proc/net/snmp").split("\n")) {
            if (!line.startsWith("Tcp: ")) {
                continue;
            }
            String[] fields = line.split(" ");
            if (header == null) {
                header = fields;
                continue;
            }
            for (int i = 0; i < header.length; i++) {
                if (header[i].equals("InCsumErrors")) {
                    return Long.parseLong(fields[i]);
                }
            }
        }
        throw new AssertionError("no Tcp: InCsumErrors in " + host + "'s /proc/net/snmp");
    }
}
