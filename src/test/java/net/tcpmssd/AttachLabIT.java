package net.tcpmssd;

import static net.tcpmssd.lab.Lab.CLIENT;
import static net.tcpmssd.lab.Lab.ROUTER;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import net.tcpmssd.attach.Attachment;
import net.tcpmssd.attach.ClsBpfAttachment;
import net.tcpmssd.attach.Hook;
import net.tcpmssd.attach.TcxAttachment;
import net.tcpmssd.bpf.Asm;
import net.tcpmssd.bpf.BpfProgram;
import net.tcpmssd.bpf.Register;
import net.tcpmssd.bpf.Tcx;
import net.tcpmssd.bpf.TcxHook;
import net.tcpmssd.lab.NamespaceThread;
import net.tcpmssd.lab.Lab.Family;
import net.tcpmssd.lab.Lab;
import net.tcpmssd.lab.LabExtension;
import net.tcpmssd.lab.Tcpmssd;
import net.tcpmssd.lab.TunDevice;
import net.tcpmssd.os.Libc;
import net.tcpmssd.packet.PacketCorpus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * BEHAVIOUR §7 in the lab: the in-kernel data path, with no firewall rule on the router, through
 * real connections: client ── router (tcpmssd --attach) ══ 1280 ══ wan ── server. What is
 * attached is asked of the router's kernel (BPF_PROG_QUERY) from a thread that joined its
 * network namespace.
 */
class AttachLabIT {

    @RegisterExtension
    static final LabExtension LAB = new LabExtension();

    private static final Attachment TCX = new TcxAttachment();
    private static final Attachment CLS_BPF = new ClsBpfAttachment();

    private Lab lab;

    @BeforeEach
    void takeLab() {
        lab = LAB.lab();
        assertThat(lab.sh(ROUTER, "for t in iptables ip6tables; do $t -t mangle -S; $t -t filter -S; done")).as("no firewall rule on the router").doesNotContain("-A ");
    }

    /** A test that left a program attached (SIGKILL, SIGUSR2) must not leave it to the next. */
    @AfterEach
    void detachWhatIsLeft() throws Exception {
        lab.terminate(ROUTER, "tcpmssd");
        for (String device : List.of("wan0", "lan0")) {
            int ifindex = ifindex(device);
            inRouter(() -> {
                for (Hook hook : Hook.values()) {
                    TCX.detach(ifindex, hook);
                    CLS_BPF.detach(ifindex, hook);
                }
                return null;
            });
        }
        lab.clientSendsSynsWithMss();
    }

    private static int clientMss(Family f) {
        return f == Family.IPV4 ? 1460 : 1440;
    }

    private static int clampedMss(Family f) {
        return f == Family.IPV4 ? 1240 : 1220;
    }

    @ParameterizedTest
    @EnumSource(Family.class)
    void clampsWithNoFirewallRuleAndTheConnectionCarriesData(Family f) {
        assertThat(lab.unclampedMssAtServer(f)).as("without tcpmssd").isEqualTo(clientMss(f));
        try (Tcpmssd daemon = Tcpmssd.startAttached(lab, "-v", "--attach", "wan0", "-m", "1280")) {
            assertThat(lab.mssAtServer(f)).isEqualTo(clampedMss(f));
            Lab.awaitLog(daemon.logFile(), "MSS: " + clientMss(f) + " -> " + clampedMss(f), Duration.ofSeconds(2));
            assertThat(daemon.log()).contains("attached with tcx to wan0 (egress)", "Maximum MSS: 1240 (IPv6: 1220)");
        }
    }

    @ParameterizedTest
    @EnumSource(Family.class)
    void blackHoleDownloadCompletes(Family f) {
        lab.blackhole(true);
        assertThat(lab.download(f, Duration.ofSeconds(3))).as("download without tcpmssd").isLessThan(1_000_000);
        try (Tcpmssd daemon = Tcpmssd.startAttached(lab, "-v", "--attach", "wan0", "-i", "wan0")) {
            assertThat(lab.download(f, Duration.ofSeconds(15))).as("download with tcpmssd").isEqualTo(1_000_000);
        }
    }

    /** At lan0 the client's SYN is incoming (ingress); it leaves by wan0, so lan0's egress never sees it. */
    @Test
    void ingressIsClampedOnlyWithB() {
        try (Tcpmssd daemon = Tcpmssd.startAttached(lab, "-v", "--attach", "lan0", "-m", "1280")) {
            assertThat(lab.unclampedMssAtServer(Family.IPV4)).as("without -b").isEqualTo(1460);
        }
        try (Tcpmssd daemon = Tcpmssd.startAttached(lab, "-v", "-b", "--attach", "lan0", "-m", "1280")) {
            assertThat(lab.mssAtServer(Family.IPV4)).as("with -b").isEqualTo(1240);
            assertThat(lab.mssAtServer(Family.IPV6)).as("with -b").isEqualTo(1220);
            assertThat(daemon.log()).contains("(egress and ingress)");
        }
    }

    @Test
    void interfaceMtuChangeAppliesToTheNextSyn() {
        try (Tcpmssd daemon = Tcpmssd.startAttached(lab, "-v", "--attach", "wan0", "-i", "wan0")) {
            assertThat(lab.unclampedMssAtServer(Family.IPV4)).isEqualTo(1240);
            // Up, not down: below 1280 the kernel takes IPv6 off the link (RFC 8200 §5), addresses and all.
            lab.sh(ROUTER, "ip link set wan0 mtu 1400");
            Lab.awaitLog(daemon.logFile(), "Maximum MSS: 1360", Duration.ofSeconds(5));
            assertThat(lab.unclampedMssAtServer(Family.IPV4)).as("the SYN right after the line").isEqualTo(1360);
            assertThat(lab.unclampedMssAtServer(Family.IPV6)).isEqualTo(1340);
        } finally {
            lab.sh(ROUTER, "ip link set wan0 mtu 1280");
        }
    }

    @Test
    void setMssAndAddMssGiveTheQueuePathsResults() {
        try (Tcpmssd daemon = Tcpmssd.startAttached(lab, "-v", "--attach", "wan0", "--set-mss", "1300")) {
            assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1300);
            assertThat(lab.mssAtServer(Family.IPV6)).isEqualTo(1300);
        }
        lab.clientSendsSynsWithoutMss();
        try (Tcpmssd daemon = Tcpmssd.startAttached(lab, "-v", "--attach", "wan0", "-m", "1280")) {
            assertThat(lab.mssAtServer(Family.IPV4)).as("without --add-mss the SYN stays without").isEqualTo(-1);
        }
        try (Tcpmssd daemon = Tcpmssd.startAttached(lab, "-v", "--attach", "wan0", "-m", "1280", "--add-mss")) {
            assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(536);
            assertThat(lab.mssAtServer(Family.IPV6)).isEqualTo(1220);
            Lab.awaitLog(daemon.logFile(), "MSS: none -> 536", Duration.ofSeconds(2));
        }
    }

    /** The program sees every packet leaving wan0, so "seen" counts data too; "clamped" counts the SYNs. */
    @Test
    void sigusr1AndMetricsCountTheConnectionsMade() {
        String metrics = "127.0.0.1:9816";
        try (Tcpmssd daemon = Tcpmssd.startAttached(lab, "-v", "--attach", "wan0", "-m", "1280", "--metrics", metrics)) {
            for (int i = 0; i < 3; i++) {
                assertThat(lab.unclampedMssAtServer(Family.IPV4)).isEqualTo(1240);
            }
            for (int i = 0; i < 2; i++) {
                assertThat(lab.unclampedMssAtServer(Family.IPV6)).isEqualTo(1220);
            }
            lab.sh(null, "kill -USR1 " + daemon.process().pid());
            awaitLogMatching(daemon, "IPv4: \\d+ seen, 3 clamped; unchanged: \\d+ MSS small enough, \\d+ no MSS option, [1-9]\\d* not SYN");
            awaitLogMatching(daemon, "IPv6: \\d+ seen, 2 clamped;");
            String scrape = lab.sh(ROUTER, "curl -sf http://" + metrics + "/metrics");
            assertThat(scrape)
                    .contains("tcpmssd_packets_total{family=\"ipv4\",outcome=\"clamped\"} 3")
                    .contains("tcpmssd_packets_total{family=\"ipv6\",outcome=\"clamped\"} 2")
                    .contains("tcpmssd_maximum_mss_bytes{family=\"ipv4\"} 1240");
        }
    }

    @Test
    void sigtermLeavesNothingOfOursAttached() throws Exception {
        Tcpmssd daemon = Tcpmssd.startAttached(lab, "-v", "-b", "--attach", "wan0,lan0", "-m", "1280");
        for (String device : List.of("wan0", "lan0")) {
            for (Hook hook : Hook.values()) {
                assertThat(ours(device, hook)).as("%s %s while running", device, hook).hasSize(1);
            }
        }
        assertThat(lockFiles()).hasSize(2);
        assertThat(servedFiles(".tcx")).as("the tcx records").hasSize(2);
        assertThat(daemon.stop()).isZero();
        for (String device : List.of("wan0", "lan0")) {
            for (Hook hook : Hook.values()) {
                assertThat(ours(device, hook)).as("%s %s after SIGTERM", device, hook).isEmpty();
            }
        }
        assertThat(servedFiles("")).as("locks and records after SIGTERM").isEmpty();
        assertThat(lab.unclampedMssAtServer(Family.IPV4)).as("after SIGTERM").isEqualTo(1460);
    }

    /**
     * SIGKILL leaves the program attached, clamping at the last maximum while no daemon runs; a
     * daemon started then replaces it (one program of ours, a new one) and clamps on.
     */
    @Test
    void afterSigkillTheProgramKeepsClampingAndARestartReplacesIt() throws Exception {
        Tcpmssd first = Tcpmssd.startAttached(lab, "-v", "--attach", "wan0", "-m", "1280");
        List<Integer> before = ours("wan0", Hook.EGRESS);
        assertThat(before).hasSize(1);
        first.process().destroyForcibly();
        assertThat(first.process().waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(ours("wan0", Hook.EGRESS)).as("after SIGKILL").isEqualTo(before);
        assertThat(lab.unclampedMssAtServer(Family.IPV4)).as("while no daemon runs").isEqualTo(1240);

        try (Tcpmssd second = Tcpmssd.startAttached(lab, "-v", "--attach", "wan0", "-m", "1280")) {
            List<Integer> after = ours("wan0", Hook.EGRESS);
            assertThat(after).as("the restarted daemon's program").hasSize(1).doesNotContainAnyElementsOf(before);
            assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1240);
        }
        assertThat(ours("wan0", Hook.EGRESS)).isEmpty();
    }

    /**
     * SPEC §7's crash and restart under load: a steady stream of connections while the daemon is
     * SIGKILLed and another started, which replaces the program while SYNs flow; the server
     * counts every SYN by its MSS (iptables' tcpmss match in its raw table).
     */
    @Test
    void sigkillAndRestartDuringASteadySynStreamLeaveNoSynUnclamped() throws Exception {
        Tcpmssd first = Tcpmssd.startAttached(lab, "-v", "--attach", "wan0", "-m", "1280");
        SynStream stream = SynStream.start(lab);
        first.process().destroyForcibly();
        assertThat(first.process().waitFor(10, TimeUnit.SECONDS)).isTrue();
        stream.awaitConnections(20);
        try (Tcpmssd second = Tcpmssd.startAttached(lab, "-v", "--attach", "wan0", "-m", "1280")) {
            stream.assertEverySynClamped();
            assertThat(ours("wan0", Hook.EGRESS)).hasSize(1);
        }
    }

    /**
     * 100 connections from the client, one every 20 ms or so, each carrying an echo; the server
     * counts every SYN by its MSS (iptables' tcpmss match in its raw table), so that a moment
     * without a clamp, however short, shows as a SYN at another MSS.
     */
    private record SynStream(Lab lab, Process process, Path log) {

        /** Started, and returned once 10 connections went through. */
        static SynStream start(Lab lab) {
            lab.sh(Lab.SERVER, "iptables -t raw -A PREROUTING -p tcp --syn --dport 5001 -m tcpmss --mss 1240"
                    + " && iptables -t raw -A PREROUTING -p tcp --syn --dport 5001 -m tcpmss ! --mss 1240");
            lab.flushRouteCaches();
            Path log = lab.scratch().resolve("steady-" + System.nanoTime() + ".txt");
            Process process = lab.spawn(CLIENT, log, "sh", "-c",
                    "for i in $(seq 100); do echo x | timeout 5 socat -t 2 - TCP4:203.0.113.2:5001; sleep 0.02; done");
            SynStream stream = new SynStream(lab, process, log);
            stream.awaitConnections(10);
            return stream;
        }

        void awaitConnections(int count) {
            Lab.awaitLog(log, "x\n".repeat(count), Duration.ofSeconds(10));
        }

        /** Called once the new program is in: the stream still flowing then, and at its end every SYN at 1240. */
        void assertEverySynClamped() throws Exception {
            assertThat(process.isAlive()).as("the stream still flowing when the new program went in").isTrue();
            assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(Files.readAllLines(log).stream().filter("x"::equals).count()).as("connections that carried their echo").isEqualTo(100);
            String counters = lab.sh(Lab.SERVER, "iptables -t raw -L PREROUTING -nvx");
            assertThat(synsCounted(counters, "tcpmss match 1240")).as("SYNs at MSS 1240").isGreaterThanOrEqualTo(100);
            assertThat(synsCounted(counters, "tcpmss match !1240")).as("SYNs at any other MSS:\n%s", counters).isZero();
        }
    }

    private static long synsCounted(String rules, String match) {
        return rules.lines().filter(line -> line.strip().endsWith(match)).mapToLong(line -> Long.parseLong(line.strip().split("\\s+")[0]))
                .findFirst().orElseThrow(() -> new AssertionError("no rule \"" + match + "\" in\n" + rules));
    }

    /**
     * Another tool's tcx program at wan0's egress: ours goes in before it (nothing before ours can
     * end the chain on an unclamped SYN), a restart replaces only ours, SIGTERM removes only ours.
     */
    @Test
    void anotherToolsProgramStaysThroughStartReplacementAndStop() throws Exception {
        int wan0 = ifindex("wan0");
        try (BpfProgram other = otherToolAt(wan0)) {
            int otherId = other.id();
            try {
                Tcpmssd first = Tcpmssd.startAttached(lab, "-v", "--attach", "wan0", "-m", "1280");
                List<Integer> firstChain = egressChain(wan0);
                assertThat(firstChain).hasSize(2).endsWith(otherId);
                first.process().destroyForcibly();
                assertThat(first.process().waitFor(10, TimeUnit.SECONDS)).isTrue();
                try (Tcpmssd second = Tcpmssd.startAttached(lab, "-v", "--attach", "wan0", "-m", "1280")) {
                    List<Integer> secondChain = egressChain(wan0);
                    assertThat(secondChain).hasSize(2).endsWith(otherId).doesNotContain(firstChain.getFirst());
                    assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1240);
                    assertThat(second.stop()).isZero();
                }
                assertThat(egressChain(wan0)).containsExactly(otherId);
            } finally {
                detachOtherTool(wan0, otherId);
            }
        }
    }

    /** Another tool's program that hands every packet on, named other_tool, attached first at the router's tcx egress of {@code ifindex}. */
    private BpfProgram otherToolAt(int ifindex) throws Exception {
        byte[] passOn = new Asm().mov(Register.R0, -1).exit().assemble(); // TCX_NEXT: hands every packet on
        BpfProgram other = BpfProgram.load(BpfProgram.SCHED_CLS, passOn, "GPL", "other_tool");
        try {
            inRouter(() -> {
                Tcx.attach(other, ifindex, TcxHook.EGRESS, 0);
                return null;
            });
        } catch (Exception | Error e) {
            other.close();
            throw e;
        }
        return other;
    }

    private void detachOtherTool(int ifindex, int otherId) throws Exception {
        inRouter(() -> {
            Tcx.detach(ifindex, TcxHook.EGRESS, Tcx.query(ifindex, TcxHook.EGRESS), otherId);
            return null;
        });
    }

    private List<Integer> egressChain(int ifindex) throws Exception {
        return inRouter(() -> Tcx.query(ifindex, TcxHook.EGRESS).programIds());
    }

    @Test
    void sigusr2StopsAndLeavesTheProgramClamping() throws Exception {
        Tcpmssd daemon = Tcpmssd.startAttached(lab, "-v", "--attach", "wan0", "-m", "1280");
        List<Integer> attached = ours("wan0", Hook.EGRESS);
        lab.sh(null, "kill -USR2 " + daemon.process().pid());
        assertThat(daemon.process().waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(daemon.process().exitValue()).isZero();
        assertThat(daemon.log()).contains("the program stays attached");
        assertThat(ours("wan0", Hook.EGRESS)).isEqualTo(attached);
        assertThat(lab.unclampedMssAtServer(Family.IPV4)).as("after SIGUSR2").isEqualTo(1240);
    }

    @Test
    void aSecondDaemonOnAServedInterfaceIsRefused() throws Exception {
        try (Tcpmssd first = Tcpmssd.startAttached(lab, "-v", "--attach", "wan0", "-m", "1280")) {
            List<Integer> attached = ours("wan0", Hook.EGRESS);
            Lab.Result second = Tcpmssd.run(lab, "-v", "--attach", "lan0,wan0", "-m", "1280");
            assertThat(second.status()).isEqualTo(1);
            assertThat(second.stderr()).isEqualTo("tcpmssd: wan0 is already served by pid " + first.process().pid() + "\n");
            assertThat(ours("wan0", Hook.EGRESS)).as("the first daemon's program untouched").isEqualTo(attached);
            assertThat(ours("lan0", Hook.EGRESS)).isEmpty();
            assertThat(first.process().isAlive()).isTrue();
        }
    }

    @Test
    void startupErrorsAreOneLineAndTouchNothing() throws Exception {
        Lab.Result unknown = Tcpmssd.run(lab, "-v", "--attach", "nosuch0", "-m", "1280");
        assertThat(unknown.status()).isEqualTo(1);
        assertThat(unknown.stderr()).isEqualTo("tcpmssd: unknown interface nosuch0\n");

        // A tun device given another link type (TUNSETLINK) stands for the links the program
        // cannot read: this kernel has no GRE or ipip modules to make one of those.
        inRouter(() -> {
            try (TunDevice odd = TunDevice.create("odd0")) {
                odd.linkType(ARPHRD_IPGRE);
                Lab.Result refused = Tcpmssd.run(lab, "-v", "--attach", "odd0", "-m", "1280");
                assertThat(refused.status()).isEqualTo(1);
                assertThat(refused.stderr()).isEqualTo("tcpmssd: odd0 has link type 778 (ARPHRD_IPGRE), which tcpmssd cannot attach to\n");
            }
            return null;
        });
    }

    /**
     * A tun device carries bare IP (ARPHRD_NONE): the L3 program is chosen, and the router's own
     * SYN through it (CHECKSUM_PARTIAL until the device completes it) leaves clamped, with a right
     * checksum. The tun's other end is this test, which reads what the router sends into it.
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aTunDeviceGetsTheL3ProgramAndItsSynIsClamped() throws Exception {
        byte[] syn = inRouter(() -> {
            try (TunDevice tun = TunDevice.create("tun9")) {
                lab.sh(ROUTER, "ip addr add 192.0.2.200/32 peer 192.0.2.201 dev tun9 && ip link set tun9 up");
                try (Tcpmssd daemon = Tcpmssd.startAttached(lab, "-v", "--attach", "tun9", "-m", "1280")) {
                    List<Integer> ids = TCX.ours(Integer.parseInt(lab.sh(ROUTER, "cat /sys/class/net/tun9/ifindex").strip()), Hook.EGRESS);
                    assertThat(ids).hasSize(1);
                    try (BpfProgram program = BpfProgram.byId(ids.getFirst())) {
                        assertThat(program.name()).isEqualTo("tcpmssd_l3");
                    }
                    // Port 9 of nobody: the SYN is all that is needed, and it is read below.
                    Process connect = lab.spawn(ROUTER, lab.scratch().resolve("tun-connect"), "timeout", "5", "bash", "-c",
                            "exec 3<>/dev/tcp/192.0.2.201/9");
                    try {
                        return tun.nextIpv4Syn();
                    } finally {
                        connect.destroy();
                    }
                }
            }
        });
        assertThat(PacketCorpus.ipv4MssValues(syn)).containsExactly(1240);
        assertThat(PacketCorpus.ipv4TcpChecksumValid(syn)).as("TCP checksum on the wire").isTrue();
    }

    /**
     * A PPPoE reconnect: ppp0 is deleted and a new one made, with a new index, and the kernel
     * drops the programs with the old device. Here a tun (bare IP, as ppp is) named tm0 stands
     * in for it, and the client's SYN toward its peer is read as it leaves the router through
     * it. The daemon attaches to the new tm0 (egress and, with -b, ingress), moves its lock,
     * follows its MTU, and at SIGTERM takes its program off the new one.
     */
    @ParameterizedTest
    @EnumSource(AttachmentKind.class)
    @Timeout(value = 40, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aReCreatedInterfaceIsAttachedToAgainAndItsSynsClamped(AttachmentKind kind) throws Exception {
        inRouter(() -> {
            TunDevice first = pppStandIn(1400);
            try (Tcpmssd daemon = Tcpmssd.startAttached(lab, kind.withOptions("-v", "-b", "--attach", "tm0", "-i", "tm0"))) {
                int before = ifindex("tm0");
                assertThat(clientSynThrough(first)).as("through the first tm0").containsExactly(1360);
                assertThat(lockFiles()).singleElement().asString().endsWith("." + before + ".lock");

                first.close();
                Lab.awaitLog(daemon.logFile(), "tm0 (index " + before + ") is gone", Duration.ofSeconds(5));
                assertThat(servedFiles("")).as("the lock and the record of the interface gone").isEmpty();
                try (TunDevice second = pppStandIn(1300)) {
                    int after = ifindex("tm0");
                    assertThat(after).as("a new interface").isNotEqualTo(before);
                    Lab.awaitLog(daemon.logFile(), "attached to tm0 (index " + after + ")", Duration.ofSeconds(5));
                    Lab.awaitLog(daemon.logFile(), "Maximum MSS: 1260", Duration.ofSeconds(5));
                    for (Hook hook : Hook.values()) {
                        assertThat(kind.attachment.ours(after, hook)).as("%s at the new tm0", hook).hasSize(1);
                    }
                    assertThat(lockFiles()).singleElement().asString().endsWith("." + after + ".lock");
                    assertThat(clientSynThrough(second)).as("through the new tm0").containsExactly(1260);

                    assertThat(daemon.stop()).isZero();
                    for (Hook hook : Hook.values()) {
                        assertThat(kind.attachment.ours(after, hook)).as("%s at the new tm0 after SIGTERM", hook).isEmpty();
                    }
                    assertThat(lockFiles()).isEmpty();
                }
            } finally {
                first.close(); // if an assertion failed before it went
            }
            return null;
        });
    }

    /**
     * PPPoE at boot: started before ppp0 (tm0) exists, the daemon attaches to lan0, waits for
     * tm0, and attaches to it the moment it appears; both are followed on one socket.
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void withWaitForInterfaceAMissingInterfaceIsAttachedToWhenItAppears() throws Exception {
        inRouter(() -> {
            int lan0 = ifindex("lan0");
            try (Tcpmssd daemon = Tcpmssd.startAttached(lab, "-v", "--wait-for-interface", "--attach", "lan0,tm0", "-i", "tm0")) {
                assertThat(daemon.log()).contains("waiting for interface tm0 to appear, to attach to it",
                        "attached with tcx to lan0 (egress); waiting for tm0");
                assertThat(TCX.ours(lan0, Hook.EGRESS)).as("lan0, there from the start").hasSize(1);
                try (TunDevice tm0 = pppStandIn(1400)) {
                    int index = ifindex("tm0");
                    Lab.awaitLog(daemon.logFile(), "attached to tm0 (index " + index + ")", Duration.ofSeconds(5));
                    Lab.awaitLog(daemon.logFile(), "Maximum MSS: 1360", Duration.ofSeconds(5));
                    assertThat(clientSynThrough(tm0)).containsExactly(1360);
                    assertThat(lockFiles()).hasSize(2);
                    assertThat(daemon.stop()).isZero();
                    assertThat(TCX.ours(index, Hook.EGRESS)).as("tm0 after SIGTERM").isEmpty();
                    assertThat(TCX.ours(lan0, Hook.EGRESS)).as("lan0 after SIGTERM").isEmpty();
                    assertThat(lockFiles()).isEmpty();
                }
                assertThat(daemon.log()).doesNotContain("unknown interface");
            }
            return null;
        });
    }

    /**
     * An interface renamed away from the name followed keeps its tcx chain: the daemon takes its
     * program off it (else SIGTERM, which only knows the name, would leave it there) and waits
     * for an interface of the name again.
     */
    @Test
    void aRenamedInterfaceHasOurProgramTakenOff() throws Exception {
        inRouter(() -> {
            try (Tcpmssd daemon = Tcpmssd.startAttached(lab, "-v", "--wait-for-interface", "--attach", "tm0", "-m", "1400");
                    TunDevice tm0 = pppStandIn(1400)) {
                int index = ifindex("tm0");
                Lab.awaitLog(daemon.logFile(), "attached to tm0 (index " + index + ")", Duration.ofSeconds(5));
                assertThat(TCX.ours(index, Hook.EGRESS)).hasSize(1);
                lab.sh(ROUTER, "ip link set tm0 down && ip link set tm0 name tm9");
                Lab.awaitLog(daemon.logFile(), "tm0 (index " + index + ") was renamed; our program is taken off it",
                        Duration.ofSeconds(5));
                assertThat(TCX.ours(index, Hook.EGRESS)).as("tm9, once tm0").isEmpty();
                assertThat(lockFiles()).isEmpty();
                lab.sh(ROUTER, "ip link set tm9 name tm0 && ip link set tm0 up");
                awaitOurs(index, 1, "renamed back to tm0");
                assertThat(daemon.stop()).isZero();
                assertThat(TCX.ours(index, Hook.EGRESS)).as("after SIGTERM").isEmpty();
            }
            return null;
        });
    }

    /**
     * A device renamed from one followed name to another (tm0 to tm1, tm1 renamed away before):
     * let go of as tm0, then attached to as tm1, whatever the order of the names given; never
     * refused as "already served" by the daemon itself.
     */
    @Test
    void aDeviceRenamedToAnotherFollowedNameIsServedUnderIt() throws Exception {
        inRouter(() -> {
            try (TunDevice tm0 = pppStandIn(1400); TunDevice tm1 = TunDevice.create("tm1");
                    Tcpmssd daemon = Tcpmssd.startAttached(lab, "-v", "--attach", "tm1,tm0", "-m", "1400")) {
                int index0 = ifindex("tm0");
                int index1 = ifindex("tm1");
                assertThat(TCX.ours(index0, Hook.EGRESS)).hasSize(1);
                lab.sh(ROUTER, "ip link set tm1 name tmx && ip link set tm0 down && ip link set tm0 name tm1 && ip link set tm1 up");
                awaitOurs(index0, 1, "tm0, now tm1");
                Lab.pause(300);
                assertThat(TCX.ours(index0, Hook.EGRESS)).as("tm0, now tm1, a moment later").hasSize(1);
                assertThat(TCX.ours(index1, Hook.EGRESS)).as("tm1, now tmx").isEmpty();
                assertThat(daemon.log()).doesNotContain("already served");
                assertThat(daemon.stop()).isZero();
                assertThat(TCX.ours(index0, Hook.EGRESS)).as("after SIGTERM").isEmpty();
            }
            return null;
        });
    }

    /** Waits up to 5 s until tcpmssd has {@code count} programs at the egress of {@code ifindex}. */
    private static void awaitOurs(int ifindex, int count, String what) throws Exception {
        long deadline = System.nanoTime() + java.time.Duration.ofSeconds(5).toNanos();
        while (TCX.ours(ifindex, Hook.EGRESS).size() != count) {
            if (System.nanoTime() > deadline) {
                assertThat(TCX.ours(ifindex, Hook.EGRESS)).as(what).hasSize(count);
            }
            Lab.pause(20);
        }
    }

    /**
     * Two daemons waiting for the same tm0 (a mistake an operator can make): when it appears,
     * the served-interface lock lets exactly one attach; the other says who serves it.
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void twoDaemonsAwaitingOneInterfaceAttachOnceToIt() throws Exception {
        inRouter(() -> {
            try (Tcpmssd one = Tcpmssd.startAttached(lab, "-v", "--wait-for-interface", "--attach", "tm0", "-m", "1280");
                    Tcpmssd other = Tcpmssd.startAttached(lab, "-v", "--wait-for-interface", "--attach", "tm0", "-m", "1280");
                    TunDevice tm0 = TunDevice.create("tm0")) {
                int index = ifindex("tm0");
                String attached = "attached to tm0 (index " + index + ")";
                long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
                while (!hasLine(one, attached) && !hasLine(other, attached) && System.nanoTime() < deadline) {
                    Lab.pause(20);
                }
                Tcpmssd winner = hasLine(one, attached) ? one : other;
                Tcpmssd loser = winner == one ? other : one;
                Lab.awaitLog(loser.logFile(), "warning: tm0 is already served by pid " + winner.process().pid()
                        + "; leaving tm0 (index " + index + ") alone", Duration.ofSeconds(5));
                assertThat(hasLine(loser, attached)).as("the other attached too:\n%s", loser.log()).isFalse();
                assertThat(TCX.ours(index, Hook.EGRESS)).hasSize(1);
                assertThat(lockFiles()).hasSize(1);
            }
            return null;
        });
    }

    private static boolean hasLine(Tcpmssd daemon, String line) {
        return daemon.log().lines().anyMatch(line::equals);
    }

    /**
     * An interface whose link type becomes one the program cannot read (a tun's TUNSETLINK, the
     * one way to make such a link here; a re-created one could come so): our program comes off
     * it, that is logged once, not at each notification after, its lock is released, and the
     * daemon runs on.
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void anInterfaceOfALinkTypeTcpmssdCannotReadIsLoggedOnceAndLeftAlone() throws Exception {
        inRouter(() -> {
            try (Tcpmssd daemon = Tcpmssd.startAttached(lab, "-v", "--wait-for-interface", "--attach", "tm0", "-m", "1280");
                    TunDevice tm0 = TunDevice.create("tm0")) {
                int index = ifindex("tm0");
                Lab.awaitLog(daemon.logFile(), "attached to tm0 (index " + index + ")", Duration.ofSeconds(5));
                tm0.linkType(ARPHRD_IPGRE);
                String refusal = "warning: tm0 has link type 778 (ARPHRD_IPGRE), which tcpmssd cannot attach to; leaving tm0 (index "
                        + index + ") alone";
                Lab.awaitLog(daemon.logFile(), refusal, Duration.ofSeconds(5));
                assertThat(TCX.ours(index, Hook.EGRESS)).isEmpty();
                assertThat(lockFiles()).isEmpty();
                lab.sh(ROUTER, "ip link set tm0 mtu 1400 && ip link set tm0 up"); // more RTM_NEWLINKs of it
                Lab.pause(500);
                assertThat(daemon.log().lines().filter(refusal::equals).count()).as("refusals logged").isEqualTo(1);
                assertThat(daemon.process().isAlive()).isTrue();
            }
            return null;
        });
    }

    /** The two attachments, and the option that chooses each. */
    enum AttachmentKind {
        TCX_LINKLESS(TCX),
        CLSACT_CLS_BPF(CLS_BPF, "--cls-bpf");

        final Attachment attachment;
        final List<String> options;

        AttachmentKind(Attachment attachment, String... options) {
            this.attachment = attachment;
            this.options = List.of(options);
        }

        String[] withOptions(String... args) {
            return Stream.concat(Stream.of(args), options.stream()).toArray(String[]::new);
        }
    }

    /**
     * tm0, a tun made in the calling thread's namespace (the router's), up with this MTU and a
     * point-to-point route to its peer 192.0.2.211, as pppd sets up ppp0; it goes when closed.
     */
    private TunDevice pppStandIn(int mtu) throws Exception {
        TunDevice tun = TunDevice.create("tm0");
        try {
            lab.sh(ROUTER, "ip link set tm0 mtu " + mtu + " && ip addr add 192.0.2.210/32 peer 192.0.2.211 dev tm0 && ip link set tm0 up");
        } catch (RuntimeException | Error e) {
            tun.close();
            throw e;
        }
        return tun;
    }

    /** The MSS values of the client's SYN toward tm0's peer, forwarded by the router: read from the tun. */
    private List<Integer> clientSynThrough(TunDevice tun) throws Exception {
        Process connect = lab.spawn(CLIENT, lab.scratch().resolve("tm0-connect-" + System.nanoTime()), "timeout", "5", "bash", "-c",
                "exec 3<>/dev/tcp/192.0.2.211/9");
        try {
            return java.util.Arrays.stream(PacketCorpus.ipv4MssValues(tun.nextIpv4Syn())).boxed().toList();
        } finally {
            connect.destroy();
        }
    }

    /** The same clamping, forced to clsact/cls_bpf (--cls-bpf), as on a kernel without tcx; SIGTERM removes the filter. */
    @Test
    void forcedClsBpfClampsAndSigtermLeavesNoFilter() {
        try (Tcpmssd daemon = Tcpmssd.startAttached(lab, "-v", "--attach", "wan0", "-m", "1280", "--cls-bpf")) {
            assertThat(daemon.log()).contains("attached with clsact/cls_bpf to wan0");
            assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1240);
            assertThat(lab.mssAtServer(Family.IPV6)).isEqualTo(1220);
            assertThat(lab.sh(ROUTER, "tc filter show dev wan0 egress")).contains("tcpmssd_eth");
            assertThat(daemon.stop()).isZero();
        }
        assertThat(lab.sh(ROUTER, "tc filter show dev wan0 egress")).doesNotContain("tcpmssd");
        assertThat(lab.unclampedMssAtServer(Family.IPV4)).isEqualTo(1460);
    }

    /**
     * As user nobody with only CAP_BPF and CAP_NET_ADMIN (ambient, so that they survive the exec of
     * the JVM) the verifier accepts the program and it clamps; without CAP_BPF, or without
     * CAP_NET_ADMIN, the start fails naming the one missing. /run/tcpmssd, where the locks go, is a tmpfs of nobody's, as systemd's
     * RuntimeDirectory= would make it, mounted in the mount namespace that ip netns exec makes for
     * each command (its mounts do not reach the host's).
     */
    @Test
    void asAnUnprivilegedUserCapBpfAndCapNetAdminSuffice() throws Exception {
        lab.sh(null, "mkdir -p /run/tcpmssd");
        String unprivileged = unprivileged("+bpf,+net_admin");
        try (Tcpmssd daemon = Tcpmssd.commandAttached(lab, "sh", "-c", unprivileged)) {
            assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1240);
            String status = Files.readString(Path.of("/proc", Long.toString(lab.pids(ROUTER, "-jar").getFirst()), "status"));
            assertThat(status).contains("Uid:\t65534\t65534\t65534\t65534")
                    .contains("CapEff:\t" + String.format("%016x", 1L << Libc.CAP_BPF | 1L << Libc.CAP_NET_ADMIN));
        }
        Lab.Result withoutBpf = lab.host(ROUTER, "sh", "-c", unprivileged("+net_admin"));
        assertThat(withoutBpf.status()).isEqualTo(1);
        assertThat(withoutBpf.stderr()).isEqualTo("tcpmssd: can't create the BPF maps: operation not permitted (missing CAP_BPF)\n");
        Lab.Result withoutNetAdmin = lab.host(ROUTER, "sh", "-c", unprivileged("+bpf"));
        assertThat(withoutNetAdmin.status()).isEqualTo(1);
        assertThat(withoutNetAdmin.stderr())
                .isEqualTo("tcpmssd: can't load the BPF program: operation not permitted (missing CAP_NET_ADMIN)\n");
    }

    private static String unprivileged(String capabilities) {
        return asNobody("mount -t tmpfs -o uid=65534,gid=65534,mode=0755 tcpmssd /run/tcpmssd", capabilities, "-v --attach wan0 -m 1280");
    }

    /** A shell command: {@code runDirectory} (a mount over /run/tcpmssd), then bin/tcpmssd as nobody with only {@code capabilities}. */
    private static String asNobody(String runDirectory, String capabilities, String arguments) {
        return runDirectory + " && exec setpriv --reuid=65534 --regid=65534"
                + " --clear-groups --inh-caps=-all," + capabilities + " --ambient-caps=-all," + capabilities
                + " --bounding-set=-all," + capabilities + " -- " + Lab.ROOT.resolve("bin/tcpmssd") + " " + arguments;
    }

    /**
     * The lifecycle of BEHAVIOUR §7 without CAP_SYS_ADMIN, which the kernel wants for opening a
     * program by its id: as nobody with only CAP_BPF and CAP_NET_ADMIN, with another tool's tcx
     * program first at wan0's egress, and with -b, so that both hooks are recorded. Start and
     * clamp; SIGUSR2 leaves ours; a start then replaces it while a SYN stream flows, none
     * unclamped, one program of ours a hook after; SIGKILL and a start, one again; SIGTERM leaves
     * nothing of ours and no record. The other tool's program stays
     * throughout, and nothing is logged as a warning. /run/tcpmssd is one directory of nobody's
     * for all the starts, bind-mounted in each command's mount namespace, as systemd's
     * RuntimeDirectory= with RuntimeDirectoryPreserve=yes keeps it between them.
     */
    @ParameterizedTest
    @EnumSource(AttachmentKind.class)
    void withOnlyCapBpfAndCapNetAdminStopsRestartsAndDetaches(AttachmentKind kind) throws Exception {
        lab.sh(null, "mkdir -p /run/tcpmssd");
        Path run = Files.createDirectory(lab.scratch().resolve("run-" + System.nanoTime()));
        Files.setAttribute(run, "unix:uid", 65534);
        Files.setAttribute(run, "unix:gid", 65534);
        String start = asNobody("mount --bind " + run + " /run/tcpmssd", "+bpf,+net_admin",
                String.join(" ", kind.withOptions("-v", "-b", "--attach", "wan0", "-m", "1280")));
        int wan0 = ifindex("wan0");
        try (BpfProgram other = otherToolAt(wan0)) {
            int otherId = other.id();
            try {
                Tcpmssd first = Tcpmssd.commandAttached(lab, "sh", "-c", start);
                List<Integer> firstIds = oursAtBothHooks(kind.attachment, wan0);
                assertThat(firstIds).as("ours after the first start, egress and ingress").hasSize(2);
                assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1240);

                lab.sh(null, "kill -USR2 " + first.process().pid());
                assertThat(first.process().waitFor(10, TimeUnit.SECONDS)).isTrue();
                assertThat(first.process().exitValue()).isZero();
                assertThat(oursAtBothHooks(kind.attachment, wan0)).as("ours after SIGUSR2").isEqualTo(firstIds);
                if (kind == AttachmentKind.TCX_LINKLESS) {
                    String record = "served." + routerNamespaceInode() + "." + wan0 + ".tcx";
                    assertThat(Files.readString(run.resolve(record))).as("the record left for the next daemon")
                            .contains("\negress " + firstIds.get(0) + "\n", "\ningress " + firstIds.get(1) + "\n")
                            .doesNotContain(Integer.toString(otherId));
                }

                SynStream stream = SynStream.start(lab);
                List<Integer> secondIds;
                Tcpmssd second = Tcpmssd.commandAttached(lab, "sh", "-c", start);
                stream.assertEverySynClamped();
                secondIds = oursAtBothHooks(kind.attachment, wan0);
                assertThat(secondIds).as("ours after a start that followed SIGUSR2").hasSize(2).doesNotContainAnyElementsOf(firstIds);
                assertThat(egressChain(wan0)).as("the tcx chain").contains(otherId);

                second.process().destroyForcibly();
                assertThat(second.process().waitFor(10, TimeUnit.SECONDS)).isTrue();
                try (Tcpmssd third = Tcpmssd.commandAttached(lab, "sh", "-c", start)) {
                    assertThat(oursAtBothHooks(kind.attachment, wan0)).as("ours after SIGKILL and a start")
                            .hasSize(2).doesNotContainAnyElementsOf(secondIds);
                    assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1240);
                    assertThat(third.stop()).isZero();
                    for (Tcpmssd daemon : List.of(first, second, third)) {
                        assertThat(daemon.log()).as("a daemon's log").doesNotContain("warning");
                    }
                }
                assertThat(oursAtBothHooks(kind.attachment, wan0)).as("ours after SIGTERM").isEmpty();
                assertThat(egressChain(wan0)).as("the tcx chain after SIGTERM").containsExactly(otherId);
                try (var left = Files.list(run)) {
                    assertThat(left.toList()).as("locks and records left in /run/tcpmssd").isEmpty();
                }
                assertThat(lab.unclampedMssAtServer(Family.IPV4)).as("after SIGTERM").isEqualTo(1460);
            } finally {
                detachOtherTool(wan0, otherId);
            }
        }
    }

    /** The ids of tcpmssd's programs at the router's egress of {@code ifindex}, then those at its ingress. */
    private List<Integer> oursAtBothHooks(Attachment attachment, int ifindex) throws Exception {
        return inRouter(() -> Stream.concat(attachment.ours(ifindex, Hook.EGRESS).stream(), attachment.ours(ifindex, Hook.INGRESS).stream())
                .toList());
    }

    private static final long ARPHRD_IPGRE = 778;

    private void awaitLogMatching(Tcpmssd daemon, String regex) {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        java.util.regex.Pattern pattern = java.util.regex.Pattern.compile(regex);
        while (!pattern.matcher(daemon.log()).find()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no line matching " + regex + " in:\n" + daemon.log());
            }
            Lab.pause(20);
        }
    }

    private List<Path> lockFiles() throws Exception {
        return servedFiles(".lock");
    }

    /** The router's served-interface files in /run/tcpmssd whose names end so: the locks (.lock), the tcx records (.tcx). */
    private List<Path> servedFiles(String suffix) throws Exception {
        String inode = routerNamespaceInode();
        try (var files = Files.list(Path.of("/run/tcpmssd"))) {
            return files.filter(p -> p.getFileName().toString().startsWith("served." + inode + ".") && p.toString().endsWith(suffix))
                    .toList();
        }
    }

    /** What names the router's network namespace in the served-interface files: its nsfs inode. */
    private String routerNamespaceInode() {
        return lab.sh(null, "stat -L -c %i /run/netns/" + lab.namespace(ROUTER)).strip();
    }

    private int ifindex(String device) {
        return Integer.parseInt(lab.sh(ROUTER, "cat /sys/class/net/" + device + "/ifindex").strip());
    }

    /** The ids of tcpmssd's programs at the router's {@code device}, asked of its kernel. */
    private List<Integer> ours(String device, Hook hook) throws Exception {
        int ifindex = ifindex(device);
        return inRouter(() -> TCX.ours(ifindex, hook));
    }

    private <T> T inRouter(Callable<T> work) throws Exception {
        return NamespaceThread.call(lab.namespace(ROUTER), work);
    }
}
