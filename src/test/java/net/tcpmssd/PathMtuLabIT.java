package net.tcpmssd;

import static net.tcpmssd.lab.Lab.CLIENT;
import static net.tcpmssd.lab.Lab.ROUTER;
import static net.tcpmssd.lab.Lab.SERVER;
import static org.assertj.core.api.Assertions.assertThat;

import net.tcpmssd.lab.Lab.Family;
import net.tcpmssd.lab.Lab;
import net.tcpmssd.lab.LabExtension;
import net.tcpmssd.lab.Tcpmssd;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * --pmtu (issue 6): a router with two server-side links, the wan link (MTU 1280) and a second
 * one straight to the server (alt0, MTU 1400), clamps each connection to its own path.
 *
 * <pre>
 *   client ── router ══ wan0 1280 ══ wan ── server 203.0.113.2, 2001:db8:3::2
 *                    ── alt0 1400 ──────── server 203.0.113.99, 2001:db8:4::2
 * </pre>
 * Replies leave the server by its default route (through the wan host): asymmetric, which TCP
 * does not mind, and the SYN's path is what counts here.
 */
class PathMtuLabIT {

    @RegisterExtension
    static final LabExtension LAB = new LabExtension();

    private Lab lab;

    @BeforeEach
    void addSecondLink() {
        lab = LAB.lab();
        lab.sh(null, "ip link add alt0 netns " + lab.namespace(ROUTER) + " mtu 1400 type veth peer name alt0 netns "
                + lab.namespace(SERVER) + " mtu 1400");
        lab.sh(ROUTER, "ip link set alt0 up && ip route add 203.0.113.99/32 dev alt0 && ip -6 addr add 2001:db8:4::1/64 dev alt0 nodad");
        lab.sh(SERVER, "ip link set alt0 up && ip addr add 203.0.113.99/32 dev alt0 && ip -6 addr add 2001:db8:4::2/64 dev alt0 nodad"
                + " && sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.alt0.rp_filter=0");
        lab.bothFamilies(ROUTER, "-t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j NFQUEUE --queue-num 100 --queue-bypass");
    }

    @AfterEach
    void removeSecondLink() {
        lab.host(ROUTER, "ip", "link", "del", "alt0");
    }

    /** The MSS of a real connection's SYN to {@code address} as it reached the server on {@code device}. */
    private int mssTo(Family f, String address, String device) {
        String connect = "echo hello | timeout 10 socat -t 2 - " + (f == Family.IPV4 ? "TCP4:" : "TCP6:") + address + ":5001";
        return lab.capturedMss(SERVER, device, f, false, () -> assertThat(lab.sh(CLIENT, connect)).isEqualTo("hello\n"));
    }

    @Test
    void eachConnectionIsClampedToItsOwnPath() {
        lab.flushRouteCaches();
        try (Tcpmssd daemon = Tcpmssd.start(lab, 100, "-v", "-p", "100", "--pmtu")) {
            assertThat(mssTo(Family.IPV4, "203.0.113.2", "eth0")).as("by the wan link").isEqualTo(1240);
            assertThat(mssTo(Family.IPV4, "203.0.113.99", "alt0")).as("by alt0").isEqualTo(1360);
            assertThat(mssTo(Family.IPV6, "[2001:db8:3::2]", "eth0")).isEqualTo(1220);
            assertThat(mssTo(Family.IPV6, "[2001:db8:4::2]", "alt0")).isEqualTo(1340);
        }
    }

    @Test
    void aRouteMtuIsHonouredAndARouteChangeIsPickedUp() {
        try (Tcpmssd daemon = Tcpmssd.start(lab, 100, "-v", "-p", "100", "--pmtu")) {
            assertThat(mssTo(Family.IPV4, "203.0.113.99", "alt0")).isEqualTo(1360);
            lab.sh(ROUTER, "ip route replace 203.0.113.99/32 dev alt0 mtu 1300");
            assertThat(mssTo(Family.IPV4, "203.0.113.99", "alt0")).as("route mtu 1300").isEqualTo(1260);
            lab.sh(ROUTER, "ip route replace 203.0.113.99/32 dev alt0");
            assertThat(mssTo(Family.IPV4, "203.0.113.99", "alt0")).as("route mtu gone").isEqualTo(1360);
        }
    }
}
