package net.tcpmssd;

import static net.tcpmssd.lab.Lab.ROUTER;
import static net.tcpmssd.netlink.Wire.attribute;
import static net.tcpmssd.netlink.Wire.be16;
import static net.tcpmssd.netlink.Wire.be32;
import static net.tcpmssd.netlink.Wire.concat;
import static net.tcpmssd.netlink.Wire.message;
import static net.tcpmssd.netlink.Wire.text;
import static net.tcpmssd.netlink.Wire.u32;
import static net.tcpmssd.netlink.Wire.u8;
import static net.tcpmssd.netlink.Wire.zeros;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import net.tcpmssd.lab.Lab;
import net.tcpmssd.lab.Lab.Family;
import net.tcpmssd.lab.LabExtension;
import net.tcpmssd.lab.Tcpmssd;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 11, finding 9: any local process may send to the daemon's netlink sockets (netlink(7)
 * permits unicast to another socket's port id), so only what the kernel sent (port 0) is read.
 * Before the daemon read the sender, both tests failed: the forged RTM_NEWLINK set the MSS to
 * 536, and the forged packet got a verdict (the kernel's ENOENT for it was logged).
 */
class ForgedNetlinkLabIT {

    private static final int QUEUE = 100;
    private static final int NETLINK_ROUTE = 0;
    private static final int NETLINK_NETFILTER = 12;

    @RegisterExtension
    static final LabExtension LAB = new LabExtension();

    private Lab lab;

    @BeforeEach
    void queueSyns() {
        lab = LAB.lab();
        lab.queueSynsToWan();
    }

    /** Sends {@code datagram} from a process of its own in the router to each of the daemon's sockets of {@code protocol}. */
    private void forge(Tcpmssd daemon, int protocol, byte[] datagram) {
        Lab.Result forged = lab.host(ROUTER, Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                "net.tcpmssd.lab.ForgeNetlink", Long.toString(daemon.process().pid()), Integer.toString(protocol),
                HexFormat.of().formatHex(datagram)).orFail();
        assertThat(forged.stdout()).isEqualTo("sent to 1\n");
    }

    @Test
    void aForgedPacketMessageGetsNoVerdict() {
        // NFQNL_MSG_PACKET for queue 100: packet id 12345 at FORWARD, an IPv4 header as payload. A
        // verdict for it would name a packet the kernel may hold (ids count up from 1) and carry
        // the forger's bytes; for an id the kernel does not hold it answers ENOENT.
        byte[] forged = message(3 << 8, 0, 0, u8(2), u8(0), be16(QUEUE),
                attribute(1, be32(12345), be16(0x0800), u8(2)),
                attribute(10, u8(0x45), zeros(39)));
        try (Tcpmssd daemon = Tcpmssd.start(lab, QUEUE, "-v", "-p", Integer.toString(QUEUE), "-m", "1280")) {
            forge(daemon, NETLINK_NETFILTER, forged);
            Lab.awaitLog(daemon.logFile(), "warning: queue 100: datagram from a port other than the kernel's, dropped (1 so far)",
                    Duration.ofSeconds(5));
            assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1240);
            assertThat(daemon.log()).doesNotContain("No such file or directory");
        }
    }

    @Test
    void aForgedLinkNotificationDoesNotSetTheMss() {
        int index = Integer.parseInt(lab.sh(ROUTER, "cat /sys/class/net/wan0/ifindex").trim());
        // RTM_NEWLINK for wan0 with MTU 576: believed, it would clamp every SYN to 536.
        byte[] forged = message(16, 0, 0, u8(0), u8(0), be16(1), u32(index), u32(0x11043), u32(0),
                attribute(3, text("wan0")), attribute(4, u32(576)));
        try (Tcpmssd daemon = Tcpmssd.start(lab, QUEUE, "-v", "-p", Integer.toString(QUEUE), "-i", "wan0")) {
            assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1240);
            forge(daemon, NETLINK_ROUTE, forged);
            Lab.pause(500);
            assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1240);
            assertThat(daemon.log()).doesNotContain("Maximum MSS: 536");
        }
    }
}
