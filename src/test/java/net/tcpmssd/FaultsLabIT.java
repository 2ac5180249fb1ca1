package net.tcpmssd;

import static net.tcpmssd.lab.Lab.ROUTER;
import static net.tcpmssd.lab.Lab.SERVER;
import static net.tcpmssd.packet.TestPacket.SYN;
import static net.tcpmssd.packet.TestPacket.mssOption;
import static net.tcpmssd.packet.TestPacket.tcpSegment;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import net.tcpmssd.lab.Lab;
import net.tcpmssd.lab.LabExtension;
import net.tcpmssd.lab.Pcap;
import net.tcpmssd.lab.Tcpmssd;
import net.tcpmssd.packet.MaxMss;
import net.tcpmssd.packet.MssClamp;
import net.tcpmssd.packet.TestPacket;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Issue 11, findings 2 and 3: a fault is contained to its packet; an error that lasts ends the daemon. */
class FaultsLabIT {

    @RegisterExtension
    static final LabExtension LAB = new LabExtension();

    private Lab lab;

    @BeforeEach
    void takeLab() {
        lab = LAB.lab();
    }

    private static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** The packet as the server sees it, less what forwarding changes: TTL and the IPv4 header checksum. */
    private static String normalized(byte[] packet) {
        byte[] p = packet.clone();
        p[8] = 0;
        p[10] = 0;
        p[11] = 0;
        return HexFormat.of().formatHex(p);
    }

    @Test
    void aPacketWhoseHandlingThrowsIsAcceptedUnchangedAndTheQueueGoesOn() throws Exception {
        int count = 200;
        List<byte[]> sent = new ArrayList<>();
        Map<String, Integer> expected = new HashMap<>();
        for (int i = 0; i < count; i++) {
            byte[] segment = tcpSegment(SYN, mssOption(1460), new byte[0]);
            segment[6] = (byte) (i >>> 8);
            segment[7] = (byte) i; // odd: the handler scribbles over the packet, then throws
            byte[] packet = TestPacket.ipv4(segment).bytes;
            sent.add(packet);
            byte[] arrives = packet.clone();
            if (i % 2 == 0) {
                MssClamp.clamp(MemorySegment.ofArray(arrives), 0, arrives.length, MaxMss.forMtu(1280), null);
            }
            expected.merge(normalized(arrives), 1, Integer::sum);
        }
        lab.bothFamilies(ROUTER, "-t mangle -A FORWARD -i lan0 -j NFQUEUE --queue-num 100 --queue-bypass");
        lab.bothFamilies(SERVER, "-t raw -A PREROUTING -i eth0 -j DROP");
        Path capture = lab.scratch().resolve("throwing.pcap");
        Path tcpdumpLog = lab.scratch().resolve("throwing-tcpdump.log");
        Process tcpdump = lab.spawn(SERVER, tcpdumpLog, "timeout", "60", "tcpdump", "-i", "eth0", "-n", "-U", "-s", "0",
                "-c", Integer.toString(count), "-w", capture.toString(), "src host 198.51.100.2");
        Lab.awaitLog(tcpdumpLog, "listening on", Duration.ofSeconds(10));
        Path queueLog = lab.scratch().resolve("throwing-queue.log");
        Process queue = lab.spawn(ROUTER, queueLog, java(), "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), "net.tcpmssd.lab.ThrowingQueue", "100", Integer.toString(count));
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!Tcpmssd.queueBound(lab, 100)) {
            assertThat(queue.isAlive()).as("queue process alive: %s", Files.exists(queueLog) ? Files.readString(queueLog) : "").isTrue();
            assertThat(System.nanoTime()).as("queue bound within 20 s").isLessThan(deadline);
            Lab.pause(20);
        }

        lab.sendRaw(sent, 1, 100);

        assertThat(queue.waitFor(40, TimeUnit.SECONDS)).as("the queue served all %d packets", count).isTrue();
        assertThat(Files.readString(queueLog)).as("one verdict each, half of them after a throw, no kernel error")
                .isEqualTo("handled " + count + ", failed " + count / 2 + ", errors 0\n");
        assertThat(tcpdump.waitFor(20, TimeUnit.SECONDS)).as("all %d packets arrived", count).isTrue();
        Map<String, Integer> arrived = new HashMap<>();
        for (byte[] p : Pcap.ipPackets(capture)) {
            arrived.merge(normalized(p), 1, Integer::sum);
        }
        assertThat(arrived).as("each packet arrived once: clamped, or byte for byte as sent where the handler threw")
                .isEqualTo(expected);
        System.out.printf("throwing handler: %d sent, %d clamped, %d thrown on and arrived unchanged, 0 lost%n",
                count, count / 2, count / 2);
    }

    /**
     * strace makes every recvmmsg(2) of the daemon fail with ENOMEM, for real and with no hook in
     * the daemon (strace's fault injection). The bind does not use recvmmsg: the daemon starts,
     * then its receive fails for good.
     */
    @Test
    void aLastingReceiveErrorEndsTheDaemonWithOneLineAndReleasesTheQueue() throws Exception {
        lab.queueSynsToWan();
        Path log = lab.scratch().resolve("lasting.log");
        Process daemon = lab.spawn(ROUTER, log, "strace", "-f", "-qq", "-o", "/dev/null", "--seccomp-bpf",
                "-e", "trace=recvmmsg", "-e", "inject=recvmmsg:error=ENOMEM", Lab.ROOT.resolve("bin/tcpmssd").toString(),
                "--foreground", "--pidfile", lab.scratch().resolve("lasting.pid").toString(), "-p", "100", "-m", "1280");
        assertThat(daemon.waitFor(60, TimeUnit.SECONDS)).as("the daemon ended by itself").isTrue();
        assertThat(daemon.exitValue()).as("exit status: EX_IOERR").isEqualTo(74);
        List<String> lines = Files.readAllLines(log);
        System.out.println("lasting error: exit " + daemon.exitValue() + ", log: " + lines);
        assertThat(lines.getLast()).matches("tcpmssd: fatal: queue 100: recvmmsg: Cannot allocate memory for 1\\d{3} ms:"
                + " exiting, so that the kernel releases the queue");
        // The queue is served before the start-up line is logged: either may come first.
        assertThat(lines.subList(0, lines.size() - 1)).as("before it: the start and the first failure, once").containsExactlyInAnyOrder(
                "Maximum MSS: 1240 (IPv6: 1220)", "warning: queue 100: recvmmsg: Cannot allocate memory; retrying");
        assertThat(Tcpmssd.queueBound(lab, 100)).as("queue released").isFalse();
        assertThat(lab.unclampedMssAtServer(Lab.Family.IPV4)).as("SYNs pass by --queue-bypass").isEqualTo(1460);
    }
}
