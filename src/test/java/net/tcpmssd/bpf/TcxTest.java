package net.tcpmssd.bpf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReference;
import net.tcpmssd.MaxMss;
import net.tcpmssd.Outcome;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The tcx primitives against the kernel, in two network namespaces joined by a veth pair:
 * client (a0, 198.51.100.1) ── server (b0, 198.51.100.2). The kernel calls that name an ifindex
 * run on a thread of their own that first joins the client's namespace (setns(2) moves only the
 * calling thread, and the thread ends with the call, so no other code ever runs in it).
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
        String line = run("ip", "-n", client, "-o", "link", "show", "dev", "a0");
        a0 = Integer.parseInt(line.substring(0, line.indexOf(':')).strip());
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
                assertThatThrownBy(() -> Tcx.detach(a0, TcxHook.INGRESS, id, chain.revision() - 1))
                        .isInstanceOfSatisfying(ErrnoException.class, e -> assertThat(e.errno()).isEqualTo(ESTALE));
                Tcx.detach(a0, TcxHook.INGRESS, id, chain.revision());
                assertThat(Tcx.query(a0, TcxHook.INGRESS).programIds()).isEmpty();
                return null;
            });
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

    private static <T> T inClient(Callable<T> work) throws Exception {
        AtomicReference<T> result = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread thread = new Thread(() -> {
            try {
                Libc.setns("/run/netns/" + client, Libc.CLONE_NEWNET);
                result.set(work.call());
            } catch (Throwable t) {
                failure.set(t);
            }
        }, "in " + client);
        thread.start();
        thread.join();
        if (failure.get() instanceof Exception e) {
            throw e;
        } else if (failure.get() instanceof Error e) {
            throw e;
        }
        return result.get();
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
