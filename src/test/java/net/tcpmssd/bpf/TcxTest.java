package net.tcpmssd.bpf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;


import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import net.tcpmssd.lab.NamespaceThread;
import net.tcpmssd.lab.TunDevice;
import net.tcpmssd.os.ErrnoException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import net.tcpmssd.packet.MaxMss;
import net.tcpmssd.packet.Outcome;
import net.tcpmssd.packet.PacketCorpus;

/**
 * The tcx primitives against the kernel, in two network namespaces joined by a veth pair:
 * client (a0, 198.51.100.1) ── server (b0, 198.51.100.2). The kernel calls that name an ifindex
 * run in the client's namespace, on a {@link NamespaceThread}.
 */
class TcxTest {

    private static final int ESTALE = 116;

    private static String client;
    private static String server;
    private static int a0;

    @BeforeAll
    static void namespaces() throws Exception {
        KernelBpf.assumeUsable();
        String prefix = "tcpmssd-bpf-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 24));
        client = prefix + "-c";
        server = prefix + "-s";
        run("ip", "netns", "add", client);
        run("ip", "netns", "add", server);
        run("ip", "-n", client, "link", "add", "a0", "type", "veth", "peer", "name", "b0", "netns", server);
        run("ip", "-n", client, "addr", "add", "198.51.100.1/24", "dev", "a0");
        run("ip", "-n", server, "addr", "add", "198.51.100.2/24", "dev", "b0");
        for (String[] end : new String[][] {{client, "a0"}, {server, "b0"}, {client, "lo"}, {server, "lo"}}) {
            run("ip", "-n", end[0], "link", "set", end[1], "up");
        }
        a0 = ifindex(client, "a0");
    }

    private static int ifindex(String namespace, String device) throws IOException, InterruptedException {
        String line = run("ip", "-n", namespace, "-o", "link", "show", "dev", device);
        return Integer.parseInt(line.substring(0, line.indexOf(':')).strip());
    }

    @AfterAll
    static void removeNamespaces() throws Exception {
        for (String namespace : new String[] {client, server}) {
            if (namespace != null) {
                new ProcessBuilder("ip", "netns", "del", namespace).inheritIO().start().waitFor();
            }
        }
    }

    @Test
    void linkGoesFirstAndEndsWithItsFd() throws Exception {
        try (ClampMaps maps = ClampMaps.create(); BpfProgram program = ClampProgram.load(LinkType.ETHERNET, maps, false);
                BpfProgram other = ClampProgram.load(LinkType.ETHERNET, maps, false)) {
            inClient(() -> {
                TcxChain empty = Tcx.query(a0, TcxHook.EGRESS);
                assertThat(empty.programIds()).isEmpty();
                try (TcxLink second = Tcx.link(other, a0, TcxHook.EGRESS, 0);
                        TcxLink first = Tcx.link(program, a0, TcxHook.EGRESS, 0)) {
                    TcxChain chain = Tcx.query(a0, TcxHook.EGRESS);
                    assertThat(chain.programIds()).containsExactly(program.id(), other.id());
                    assertThat(chain.revision()).isGreaterThan(empty.revision());
                    assertThat(Tcx.query(a0, TcxHook.INGRESS).programIds()).isEmpty();
                }
                assertThat(Tcx.query(a0, TcxHook.EGRESS).programIds()).isEmpty();
                return null;
            });
        }
    }

    @Test
    void attachmentOutlivesTheProgramFdUntilDetachedByIdAtTheExpectedRevision() throws Exception {
        try (ClampMaps maps = ClampMaps.create()) {
            int id;
            try (BpfProgram program = ClampProgram.load(LinkType.ETHERNET, maps, true)) {
                id = program.id();
                inClient(() -> {
                    Tcx.attach(program, a0, TcxHook.INGRESS, Tcx.query(a0, TcxHook.INGRESS).revision());
                    return null;
                });
            }
            inClient(() -> {
                TcxChain chain = Tcx.query(a0, TcxHook.INGRESS);
                assertThat(chain.programIds()).containsExactly(id);
                assertThat(BpfProgram.byId(id).name()).isEqualTo("tcpmssd_eth_add");
                TcxChain stale = new TcxChain(chain.revision() - 1, chain.programIds());
                assertThatThrownBy(() -> Tcx.detach(a0, TcxHook.INGRESS, stale, id))
                        .isInstanceOfSatisfying(ErrnoException.class, e -> assertThat(e.errno()).isEqualTo(ESTALE));
                Tcx.detach(a0, TcxHook.INGRESS, chain, id);
                assertThat(Tcx.query(a0, TcxHook.INGRESS).programIds()).isEmpty();
                return null;
            });
        }
    }

    /**
     * BEHAVIOUR §7's replacement with no gap: a new daemon attaches its program before the old one,
     * then detaches the old one by its place at the revision it saw; another tool's program in the
     * chain stays where it was.
     */
    @Test
    void newProgramGoesInBeforeTheOldIsTakenOutAndOthersStay() throws Exception {
        try (ClampMaps maps = ClampMaps.create(); BpfProgram old = ClampProgram.load(LinkType.ETHERNET, maps, false);
                BpfProgram newer = ClampProgram.load(LinkType.ETHERNET, maps, false);
                BpfProgram others = ClampProgram.load(LinkType.L3, maps, false)) {
            inClient(() -> {
                Tcx.attach(others, a0, TcxHook.EGRESS, 0);
                Tcx.attach(old, a0, TcxHook.EGRESS, 0);
                try {
                    assertThat(Tcx.query(a0, TcxHook.EGRESS).programIds()).containsExactly(old.id(), others.id());
                    Tcx.attach(newer, a0, TcxHook.EGRESS, Tcx.query(a0, TcxHook.EGRESS).revision());
                    TcxChain both = Tcx.query(a0, TcxHook.EGRESS);
                    assertThat(both.programIds()).containsExactly(newer.id(), old.id(), others.id());
                    Tcx.detach(a0, TcxHook.EGRESS, both, old.id());
                    assertThat(Tcx.query(a0, TcxHook.EGRESS).programIds()).containsExactly(newer.id(), others.id());
                } finally {
                    detachAll(TcxHook.EGRESS);
                }
                return null;
            });
        }
    }

    /**
     * Detaching by position, with no fd to the program (what a daemon without CAP_SYS_ADMIN can
     * do): from a chain of three, the first, the middle and the last each go alone, the others
     * staying in their order; a revision that moved on (ESTALE) detaches nothing.
     */
    @Test
    void detachingByPositionTakesExactlyTheProgramNamed() throws Exception {
        try (ClampMaps maps = ClampMaps.create(); BpfProgram one = ClampProgram.load(LinkType.ETHERNET, maps, false);
                BpfProgram two = ClampProgram.load(LinkType.ETHERNET, maps, false);
                BpfProgram three = ClampProgram.load(LinkType.L3, maps, false)) {
            int[] ids = {one.id(), two.id(), three.id()};
            inClient(() -> {
                try {
                    for (int gone = 0; gone < 3; gone++) {
                        for (BpfProgram program : List.of(three, two, one)) {
                            Tcx.attach(program, a0, TcxHook.EGRESS, 0);
                        }
                        TcxChain chain = Tcx.query(a0, TcxHook.EGRESS);
                        assertThat(chain.programIds()).containsExactly(ids[0], ids[1], ids[2]);
                        TcxChain stale = new TcxChain(chain.revision() + 1, chain.programIds());
                        int target = ids[gone];
                        assertThatThrownBy(() -> Tcx.detach(a0, TcxHook.EGRESS, stale, target))
                                .isInstanceOfSatisfying(ErrnoException.class, e -> assertThat(e.errno()).isEqualTo(ESTALE));
                        Tcx.detach(a0, TcxHook.EGRESS, chain, target);
                        List<Integer> left = new java.util.ArrayList<>(List.of(ids[0], ids[1], ids[2]));
                        left.remove(Integer.valueOf(target));
                        assertThat(Tcx.query(a0, TcxHook.EGRESS).programIds()).as("after detaching position %d", gone).isEqualTo(left);
                        detachAll(TcxHook.EGRESS);
                    }
                } finally {
                    detachAll(TcxHook.EGRESS);
                }
                return null;
            });
        }
    }

    /**
     * A chain emptied and filled again starts its revisions afresh (tcx_entry_free), so the
     * revision alone cannot tell the chain we read from a new one. Our own program, detached by
     * its fd, is matched exactly: the other tool's program that now stands where ours stood, at
     * the same revision, stays.
     */
    @Test
    void ourOwnProgramIsDetachedByItsFdAndNeverAnotherThatTookItsPlace() throws Exception {
        try (ClampMaps maps = ClampMaps.create(); BpfProgram ours = ClampProgram.load(LinkType.ETHERNET, maps, false);
                BpfProgram theirs = ClampProgram.load(LinkType.L3, maps, false)) {
            inClient(() -> {
                try {
                    Tcx.attach(ours, a0, TcxHook.EGRESS, 0);
                    TcxChain seen = Tcx.query(a0, TcxHook.EGRESS);
                    Tcx.detach(a0, TcxHook.EGRESS, ours, 0);   // the chain empties: its entry is freed
                    Tcx.attach(theirs, a0, TcxHook.EGRESS, 0);
                    TcxChain now = Tcx.query(a0, TcxHook.EGRESS);
                    assertThat(now.revision()).as("a refilled chain's revision").isEqualTo(seen.revision());
                    assertThatThrownBy(() -> Tcx.detach(a0, TcxHook.EGRESS, ours, seen.revision()))
                            .isInstanceOf(ErrnoException.class);
                    assertThat(Tcx.query(a0, TcxHook.EGRESS).programIds()).containsExactly(theirs.id());
                } finally {
                    detachAll(TcxHook.EGRESS);
                }
                return null;
            });
        }
    }

    /** Detaches everything at a0's hook, first to last, each at the revision just read. */
    private static void detachAll(TcxHook hook) throws ErrnoException {
        for (TcxChain chain = Tcx.query(a0, hook); !chain.programIds().isEmpty(); chain = Tcx.query(a0, hook)) {
            Tcx.detach(a0, hook, chain, chain.programIds().getFirst());
        }
    }

    /** A SYN that the client's kernel sends (CHECKSUM_PARTIAL on veth) is clamped at a0's egress. */
    @Test
    void attachedProgramClampsTheClientsSyn() throws Exception {
        try (ClampMaps maps = ClampMaps.create(); BpfProgram program = ClampProgram.load(LinkType.ETHERNET, maps, false)) {
            maps.setMaxMss(MaxMss.forMtu(1280));
            TcxLink link = inClient(() -> Tcx.link(program, a0, TcxHook.EGRESS, 0));
            try (link) {
                // Port 9 is closed: the server answers the SYN with a reset, which is all we need.
                run("ip", "netns", "exec", client, "bash", "-c", "exec 3<>/dev/tcp/198.51.100.2/9 || true");
            }
            assertThat(maps.count(4, Outcome.CLAMPED)).isEqualTo(1);
        }
    }

    /**
     * The L3 program, IPv4, on a tun device, whose other end is this test: the client's SYN to
     * 192.0.2.2 leaves by tun0, and the test reads it as the kernel hands it over. TCP leaves a
     * local SYN CHECKSUM_PARTIAL (only the pseudo-header sum in the field) until the device's
     * transmit path completes it, after tcx: so this checks that bpf_l4_csum_replace left the
     * field for the completion, and that the checksum is right on the wire.
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void l3ProgramOnATunDeviceClampsAndTheChecksumIsRightOnTheWire() throws Exception {
        run("ip", "-n", client, "tuntap", "add", "mode", "tun", "name", "tun0");
        run("ip", "-n", client, "addr", "add", "192.0.2.1/24", "dev", "tun0");
        run("ip", "-n", client, "link", "set", "tun0", "up");
        int tun0 = ifindex(client, "tun0");
        try (ClampMaps maps = ClampMaps.create(); BpfProgram program = ClampProgram.load(LinkType.L3, maps, false)) {
            maps.setMaxMss(MaxMss.forMtu(1280));
            byte[] syn = inClient(() -> {
                try (TunDevice tun = TunDevice.create("tun0"); TcxLink link = Tcx.link(program, tun0, TcxHook.EGRESS, 0)) {
                    Process connect = new ProcessBuilder("ip", "netns", "exec", client, "timeout", "5", "bash", "-c",
                            "exec 3<>/dev/tcp/192.0.2.2/9").start();
                    try {
                        return tun.nextIpv4Syn();
                    } finally {
                        connect.destroy();
                    }
                }
            });
            assertThat(PacketCorpus.ipv4MssValues(syn)).containsExactly(1240);
            assertThat(PacketCorpus.ipv4TcpChecksumValid(syn)).as("TCP checksum on the wire").isTrue();
            assertThat(maps.count(4, Outcome.CLAMPED)).isPositive();
        }
    }

    private static <T> T inClient(Callable<T> work) throws Exception {
        return NamespaceThread.call(client, work);
    }

    /** Runs a command, returns its output; fails with its output if it exits non-zero. */
    private static String run(String... command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(List.of(command)).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (process.waitFor() != 0) {
            throw new IOException(String.join(" ", command) + ": " + output.strip());
        }
        return output;
    }
}
