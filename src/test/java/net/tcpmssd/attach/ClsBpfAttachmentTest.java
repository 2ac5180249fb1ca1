package net.tcpmssd.attach;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import net.tcpmssd.bpf.BpfProgram;
import net.tcpmssd.bpf.ClampMaps;
import net.tcpmssd.bpf.ClampProgram;
import net.tcpmssd.bpf.KernelBpf;
import net.tcpmssd.bpf.LinkType;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.packet.MaxMss;
import net.tcpmssd.packet.Outcome;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The clsact/cls_bpf attachment against the kernel, in a namespace pair (client a0 ── server b0):
 * the client's own SYNs leave a0 and meet the program at a0's egress. The server's port 9 is
 * closed, so each SYN is answered by a reset: one connect, one SYN, and a refused connect shows
 * that the SYN went on to the server. Every program shares one {@link ClampMaps}, so its CLAMPED
 * count says how many SYNs met one of them.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ClsBpfAttachmentTest {

    private static final InetSocketAddress SERVER_DISCARD = new InetSocketAddress("198.51.100.2", 9);
    /** Another tool's filter after ours: classic BPF that matches nothing ("ret #0"), so it passes everything on. */
    private static final String OTHER_PRIORITY = "10";
    private static final int OTHER_HANDLE = 7;
    /** Bounds of the SYN stream during replacements. */
    private static final int MAX_SYNS = 20_000;
    private static final int REPLACEMENTS = 50;

    private final ClsBpfAttachment attachment = new ClsBpfAttachment();
    private VethPair pair;
    private int a0;

    @BeforeEach
    void namespaces() throws Exception {
        KernelBpf.assumeUsable();
        pair = VethPair.create("clsbpf");
        a0 = pair.ifindex(pair.client, "a0");
    }

    @AfterEach
    void removeNamespaces() throws Exception {
        if (pair != null) {
            pair.close();
        }
    }

    @Test
    void attachClampsReplacesWithNoGapAndDetachLeavesOthersAndTheQdisc() throws Exception {
        try (ClampMaps maps = ClampMaps.create(); BpfProgram first = ClampProgram.load(LinkType.ETHERNET, maps, false);
                BpfProgram second = ClampProgram.load(LinkType.ETHERNET, maps, false)) {
            maps.setMaxMss(MaxMss.forMtu(1280));
            pair.inClient(() -> {
                assertThat(attachment.ours(a0, Hook.EGRESS)).as("before any qdisc").isEmpty();
                tc("qdisc", "add", "dev", "a0", "clsact");
                otherToolsFilter("a0", OTHER_PRIORITY, OTHER_HANDLE);
                List<ClsBpfAttachment.Filter> others = ClsBpfAttachment.filters(a0, Hook.EGRESS);

                attachment.attach(first, a0, Hook.EGRESS);
                assertThat(attachment.ours(a0, Hook.EGRESS)).containsExactly(first.id());
                assertThat(attachment.ours(a0, Hook.INGRESS)).isEmpty();
                assertThat(synRefused()).as("the SYN went on to the server").isTrue();
                assertThat(maps.count(4, Outcome.CLAMPED)).isEqualTo(1);

                long sent = replaceUnderAStreamOfSyns(first, second);
                assertThat(attachment.ours(a0, Hook.EGRESS)).containsExactly(second.id()).doesNotContain(first.id());
                assertThat(maps.count(4, Outcome.CLAMPED)).as("every SYN of the stream met a program").isEqualTo(1 + sent);
                assertThat(ClsBpfAttachment.filters(a0, Hook.EGRESS)).filteredOn(f -> f.priority() != ClsBpfAttachment.PRIORITY)
                        .containsExactlyElementsOf(others);

                attachment.detach(a0, Hook.EGRESS);
                assertThat(attachment.ours(a0, Hook.EGRESS)).isEmpty();
                assertThat(ClsBpfAttachment.filters(a0, Hook.EGRESS)).as("another tool's filter stays").containsExactlyElementsOf(others);
                assertThat(synRefused()).isTrue();
                assertThat(maps.count(4, Outcome.CLAMPED)).as("nothing of ours runs").isEqualTo(1 + sent);
                return null;
            });
            assertThat(tc("qdisc", "show", "dev", "a0")).as("the qdisc stays").contains("clsact");
        }
    }

    /**
     * Replaces the program {@link #REPLACEMENTS} times, alternating, while another thread of the
     * client sends SYNs one after another (at most {@link #MAX_SYNS}); returns how many it sent.
     */
    private long replaceUnderAStreamOfSyns(BpfProgram first, BpfProgram second) throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong sent = new AtomicLong();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread stream = new Thread(() -> {
            try {
                pair.inClient(() -> {
                    while (!stop.get() && sent.get() < MAX_SYNS) {
                        if (!synRefused()) {
                            throw new AssertionError("a SYN was not answered by the server's reset");
                        }
                        sent.incrementAndGet();
                    }
                    return null;
                });
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        stream.start();
        try {
            while (sent.get() < 100 && stream.isAlive()) {
                Thread.onSpinWait();
            }
            for (int i = 0; i < REPLACEMENTS; i++) {
                attachment.attach(i % 2 == 0 ? second : first, a0, Hook.EGRESS);
            }
            attachment.attach(second, a0, Hook.EGRESS);
            long atEnd = sent.get();
            while (sent.get() < atEnd + 100 && stream.isAlive()) {
                Thread.onSpinWait();
            }
        } finally {
            stop.set(true);
            stream.join();
        }
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
        assertThat(sent.get()).as("SYNs sent during the replacements").isGreaterThan(200);
        return sent.get();
    }

    @Test
    void anotherToolsFilterAtOurPlaceIsNeitherReplacedNorDeleted() throws Exception {
        try (ClampMaps maps = ClampMaps.create(); BpfProgram program = ClampProgram.load(LinkType.ETHERNET, maps, false)) {
            pair.inClient(() -> {
                tc("qdisc", "add", "dev", "a0", "clsact");
                otherToolsFilter("a0", Integer.toString(ClsBpfAttachment.PRIORITY), ClsBpfAttachment.HANDLE);
                List<ClsBpfAttachment.Filter> before = ClsBpfAttachment.filters(a0, Hook.EGRESS);
                assertThatThrownBy(() -> attachment.attach(program, a0, Hook.EGRESS)).isInstanceOfSatisfying(ErrnoException.class,
                        e -> assertThat(e).hasMessageContaining("another tool's filter"));
                attachment.detach(a0, Hook.EGRESS);
                assertThat(attachment.ours(a0, Hook.EGRESS)).isEmpty();
                assertThat(ClsBpfAttachment.filters(a0, Hook.EGRESS)).containsExactlyElementsOf(before);
                return null;
            });
        }
    }

    /** Another kind of filter at priority 1 (u32 here): ours cannot join it, and it is not ours to move. */
    @Test
    void anotherKindOfFilterAtOurPriorityIsRefused() throws Exception {
        try (ClampMaps maps = ClampMaps.create(); BpfProgram program = ClampProgram.load(LinkType.ETHERNET, maps, false)) {
            pair.inClient(() -> {
                tc("qdisc", "add", "dev", "a0", "clsact");
                tc("filter", "add", "dev", "a0", "egress", "protocol", "ip", "pref", "1",
                        "u32", "match", "u32", "0", "0");
                List<ClsBpfAttachment.Filter> before = ClsBpfAttachment.filters(a0, Hook.EGRESS);
                assertThatThrownBy(() -> attachment.attach(program, a0, Hook.EGRESS))
                        .hasMessageContaining("pref 1 holds another tool's u32 filter (protocol 0x800)");
                assertThat(ClsBpfAttachment.filters(a0, Hook.EGRESS)).containsExactlyElementsOf(before);
                return null;
            });
        }
    }

    /** Filters of other chains (run only by a "goto chain" action) do not hold our place in chain 0. */
    @Test
    void aFilterAtOurPriorityInAnotherChainIsNoObstacle() throws Exception {
        try (ClampMaps maps = ClampMaps.create(); BpfProgram program = ClampProgram.load(LinkType.ETHERNET, maps, false)) {
            pair.inClient(() -> {
                tc("qdisc", "add", "dev", "a0", "clsact");
                tc("filter", "add", "dev", "a0", "egress", "chain", "1", "protocol", "ip", "pref",
                        "1", "u32", "match", "u32", "0", "0");
                attachment.attach(program, a0, Hook.EGRESS);
                assertThat(attachment.ours(a0, Hook.EGRESS)).containsExactly(program.id());
                attachment.detach(a0, Hook.EGRESS);
                assertThat(tc("filter", "show", "dev", "a0", "egress")).contains("chain 1")
                        .contains("u32");
                return null;
            });
        }
    }

    /** No qdisc yet: attach adds clsact (at ingress here), and a second attach of ours replaces. */
    @Test
    void attachAddsTheQdiscAtIngressAndReattachReplaces() throws Exception {
        try (ClampMaps maps = ClampMaps.create(); BpfProgram first = ClampProgram.load(LinkType.ETHERNET, maps, true);
                BpfProgram second = ClampProgram.load(LinkType.ETHERNET, maps, true)) {
            pair.inClient(() -> {
                attachment.attach(first, a0, Hook.INGRESS);
                attachment.attach(first, a0, Hook.INGRESS);
                assertThat(attachment.ours(a0, Hook.INGRESS)).containsExactly(first.id());
                attachment.attach(second, a0, Hook.INGRESS);
                assertThat(attachment.ours(a0, Hook.INGRESS)).containsExactly(second.id());
                assertThat(attachment.ours(a0, Hook.EGRESS)).isEmpty();
                attachment.detach(a0, Hook.INGRESS);
                assertThat(attachment.ours(a0, Hook.INGRESS)).isEmpty();
                return null;
            });
            assertThat(tc("qdisc", "show", "dev", "a0")).contains("clsact");
        }
    }

    /** An ingress qdisc holds clsact's place and has no egress: refused, naming it, and left alone. */
    @Test
    void anIngressQdiscInClsactsPlaceIsRefused() throws Exception {
        try (ClampMaps maps = ClampMaps.create(); BpfProgram program = ClampProgram.load(LinkType.ETHERNET, maps, false)) {
            tc("qdisc", "add", "dev", "a0", "ingress");
            pair.inClient(() -> {
                assertThatThrownBy(() -> attachment.attach(program, a0, Hook.EGRESS))
                        .hasMessageContaining("ingress qdisc where clsact goes");
                return null;
            });
            assertThat(tc("qdisc", "show", "dev", "a0")).contains("qdisc ingress");
        }
    }

    /**
     * The fewest capabilities (BEHAVIOUR §7): a JVM in the client's namespace that setpriv(1) left
     * only CAP_BPF and CAP_NET_ADMIN loads the program, attaches it, finds it ours (by the
     * filter's name: opening a program by id would need CAP_SYS_ADMIN) and detaches it; with
     * CAP_BPF alone the start fails (EPERM), so the test would see a capability that is missing.
     */
    @Test
    void capBpfAndCapNetAdminAreEnough() throws Exception {
        assertThat(withCapabilities("-all,+bpf,+net_admin")).contains("ours 1, after detach 0");
        assertThat(withCapabilities("-all,+bpf")).contains("Operation not permitted");
    }

    private String withCapabilities(String boundingSet) throws Exception {
        String javaCommand = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process process = new ProcessBuilder(List.of("ip", "netns", "exec", pair.client, "setpriv", "--inh-caps=-all",
                "--bounding-set=" + boundingSet, "--", javaCommand, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), AttachAndDetach.class.getName(), Integer.toString(a0)))
                .redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        process.waitFor();
        return output;
    }

    /** Run in a JVM of fewer capabilities, in the client's namespace: attach, ours, detach at a0's egress. */
    public static final class AttachAndDetach {
        public static void main(String[] args) {
            int a0 = Integer.parseInt(args[0]);
            ClsBpfAttachment attachment = new ClsBpfAttachment();
            try (ClampMaps maps = ClampMaps.create(); BpfProgram program = ClampProgram.load(LinkType.ETHERNET, maps, false)) {
                attachment.attach(program, a0, Hook.EGRESS);
                int ours = attachment.ours(a0, Hook.EGRESS).size();
                attachment.detach(a0, Hook.EGRESS);
                System.out.println("ours " + ours + ", after detach " + attachment.ours(a0, Hook.EGRESS).size());
            } catch (Exception e) {
                System.out.println(e.getMessage());
            }
        }
    }

    /** Sends one SYN from the calling thread's namespace; true if the server's reset answered it. */
    private static boolean synRefused() throws Exception {
        try (Socket socket = new Socket()) {
            socket.connect(SERVER_DISCARD, 2000);
            return false;
        } catch (ConnectException refused) {
            return true;
        }
    }

    private void otherToolsFilter(String device, String priority, int handle) throws Exception {
        tc("filter", "add", "dev", device, "egress", "protocol", "all", "pref", priority,
                "handle", "0x" + Integer.toHexString(handle), "bpf", "bytecode", "1,6 0 0 0,");
    }

    /** tc(8) in the client's namespace, as another tool (or the operator) would run it. */
    private String tc(String... arguments) throws Exception {
        List<String> command = new ArrayList<>(List.of("tc", "-n", pair.client));
        command.addAll(List.of(arguments));
        return VethPair.run(command.toArray(String[]::new));
    }
}
