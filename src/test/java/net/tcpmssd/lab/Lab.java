package net.tcpmssd.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import net.tcpmssd.os.NetworkNamespace;
import org.junit.jupiter.api.Assumptions;

/**
 * The namespace lab of BEHAVIOUR §6 for end-to-end tests: {@code scripts/lab} builds it (one topology
 * for the demo and the tests); this class runs commands on its hosts and always tears it down,
 * with every process started in it, also when a test fails or the JVM is interrupted.
 *
 * <pre>
 *   client ── router (tcpmssd) ══ wan ── server
 *         1500            MTU 1280    1500
 * </pre>
 */
public final class Lab implements AutoCloseable {

    public static final Path ROOT = Path.of(System.getProperty("user.dir"));
    public static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(30);
    private static final AtomicInteger SERIAL = new AtomicInteger();

    public static final String CLIENT = "client";
    public static final String ROUTER = "router";
    public static final String WAN = "wan";
    public static final String SERVER = "server";

    /** The server's addresses, as socat spells them. */
    public enum Family {
        IPV4("203.0.113.2", "TCP4", "TCP4-LISTEN", "iptables", "ip"),
        IPV6("[2001:db8:3::2]", "TCP6", "TCP6-LISTEN", "ip6tables", "ip6");

        public final String server;
        final String connect;
        final String listen;
        public final String iptables;
        final String pcap;

        Family(String server, String connect, String listen, String iptables, String pcap) {
            this.server = server;
            this.connect = connect;
            this.listen = listen;
            this.iptables = iptables;
            this.pcap = pcap;
        }
    }

    public final String prefix;
    private final Path scratch;
    private final List<Process> processes = new ArrayList<>();
    private final Thread cleanup;

    private Lab(String prefix) throws IOException {
        this.prefix = prefix;
        this.scratch = Files.createTempDirectory("tcpmssd-lab-");
        this.cleanup = new Thread(this::tearDown, "lab-cleanup-" + prefix);
        Runtime.getRuntime().addShutdownHook(cleanup);
    }

    /** Builds a new lab with a name unique to this run. Fails (in CI) or skips if the kernel cannot be used. */
    public static Lab create() throws IOException {
        requireKernel();
        String prefix = "tm" + (ProcessHandle.current().pid() % 100000) + (char) ('a' + SERIAL.getAndIncrement() % 26);
        Lab lab = new Lab(prefix);
        try {
            lab.host(null, ROOT.resolve("scripts/lab").toString(), "up", prefix).orFail();
        } catch (RuntimeException | AssertionError e) {
            lab.close();
            throw e;
        }
        return lab;
    }

    /**
     * Lab tests need root (namespaces, iptables) and the lab's tools. Outside CI they are skipped
     * when that is missing; in CI (CI=true) they fail, so a green run means the kernel was used.
     */
    static void requireKernel() {
        List<String> missing = new ArrayList<>();
        if (!"root".equals(System.getProperty("user.name"))) {
            missing.add("root");
        }
        String programs = ListedPrograms.unavailable();
        if (programs != null) {
            missing.add(programs);
        }
        if (missing.isEmpty()) {
            return;
        }
        String why = "the namespace lab needs " + String.join("; ", missing);
        if ("true".equals(System.getenv("CI"))) {
            fail(why);
        }
        Assumptions.abort(why);
    }

    public String namespace(String host) {
        return prefix + "-" + host;
    }

    public Path scratch() {
        return scratch;
    }

    /** Runs a command on a lab host (null: on the test machine itself) and waits for it. */
    public Result host(String host, String... command) {
        List<String> full = inNamespace(host, command);
        try {
            Process p = ListedPrograms.processBuilder(full).redirectErrorStream(false).start();
            p.getOutputStream().close();
            Path out = scratch.resolve("out-" + SERIAL.incrementAndGet());
            // Read both streams fully so that a chatty command cannot block on a full pipe.
            Thread err = Thread.ofVirtual().start(() -> copy(p.getErrorStream(), out));
            String stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(COMMAND_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("timed out: " + String.join(" ", full));
            }
            err.join();
            return new Result(String.join(" ", full), p.exitValue(), stdout, Files.readString(out));
        } catch (IOException e) {
            throw new AssertionError("cannot run " + String.join(" ", full), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** A shell command line on a lab host, which must succeed. */
    public String sh(String host, String script) {
        return host(host, "sh", "-c", script).orFail().stdout();
    }

    /** Starts a command on a lab host in the background; it is killed when the lab closes. */
    public Process spawn(String host, Path log, String... command) {
        try {
            Process p = ListedPrograms.processBuilder(inNamespace(host, command))
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .start();
            p.getOutputStream().close();
            synchronized (processes) {
                processes.add(p);
            }
            return p;
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    /** Adds the same rule with iptables and ip6tables on a host. */
    public void bothFamilies(String host, String rule) {
        for (Family f : Family.values()) {
            sh(host, f.iptables + " " + rule);
        }
    }

    /** The rule BEHAVIOUR §2 recommends: SYNs leaving by the small link go to queue 100, bypassed while nobody listens. */
    public void queueSynsToWan() {
        bothFamilies(ROUTER, "-t mangle -A FORWARD -o wan0 -p tcp --tcp-flags SYN,RST SYN -j NFQUEUE --queue-num 100 --queue-bypass");
    }

    /**
     * Back to the lab as built, after a test: every tcpmssd stopped (SIGTERM, so queues unbind),
     * the router's mangle rules and the server's raw rules gone, the black hole closed.
     */
    public void reset() {
        terminate(ROUTER, "tcpmssd");
        flushRouterRules();
        forgetRouterRules();
        bothFamilies(SERVER, "-t raw -F");
        blackhole(false);
    }

    /**
     * The records of rules added in the router's namespace (AppliedRules: /run/tcpmssd-rules,
     * named by the namespace's inode), whose rules flushRouterRules took away.
     */
    private void forgetRouterRules() {
        String namespace;
        try {
            namespace = Long.toString(NamespaceThread.call(namespace(ROUTER), NetworkNamespace::current));
        } catch (Exception e) {
            throw new AssertionError("the router's network namespace", e);
        }
        Path directory = Path.of("/run/tcpmssd-rules");
        if (!Files.isDirectory(directory)) {
            return;
        }
        try (var records = Files.list(directory)) {
            for (Path record : records.filter(r -> r.getFileName().toString().startsWith(namespace + ".")).toList()) {
                Files.deleteIfExists(record);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try (var left = Files.list(directory)) {
            if (left.findAny().isEmpty()) {
                Files.delete(directory); // made by the tests' --add-rules: no trace on the host
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The client's kernel always sends an MSS: nftables on the client overwrites it with NOPs (for --add-mss). */
    public void clientSendsSynsWithoutMss() {
        sh(CLIENT, "nft -f - <<'EOF'\n"
                + "table inet strip {\n"
                + "  chain out {\n"
                + "    type filter hook output priority mangle; policy accept;\n"
                + "    tcp flags syn reset tcp option maxseg\n"
                + "  }\n"
                + "}\n"
                + "EOF");
    }

    /** Undoes {@link #clientSendsSynsWithoutMss}, if it was done. */
    public void clientSendsSynsWithMss() {
        host(CLIENT, "nft", "delete", "table", "inet", "strip");
    }

    /** Removes every rule and user chain (tcpmssd --add-rules') from the router's mangle table, both families. */
    public void flushRouterRules() {
        bothFamilies(ROUTER, "-w 10 -t mangle -F");
        bothFamilies(ROUTER, "-w 10 -t mangle -X");
        host(ROUTER, "nft", "delete", "table", "inet", "tcpmssd-100");
    }

    /** The wan host drops the ICMP errors it would send about its small link (BEHAVIOUR §6). */
    public void blackhole(boolean on) {
        host(null, ROOT.resolve("scripts/lab").toString(), "blackhole", prefix, on ? "on" : "off").orFail();
    }

    /**
     * Forgets the path MTUs that client and server learnt from earlier ICMP errors: a learnt PMTU
     * lowers the MSS a host announces and shrinks what it sends, hiding both clamping and black holes.
     */
    public void flushRouteCaches() {
        for (String host : List.of(CLIENT, SERVER)) {
            sh(host, "ip route flush cache; ip -6 route flush cache");
        }
    }

    /** Starts echo (port 5001) and 1 MB download (port 5003) servers for both families. */
    public void startServers() {
        for (Family f : Family.values()) {
            String options = f == Family.IPV6 ? ",ipv6only=1,fork,reuseaddr" : ",fork,reuseaddr";
            spawn(SERVER, scratch.resolve("echo-" + f), "socat", f.listen + ":5001" + options, "PIPE");
            spawn(SERVER, scratch.resolve("download-" + f), "socat", f.listen + ":5003" + options,
                    "SYSTEM:head -c 1000000 /dev/zero");
        }
        for (Family f : Family.values()) {
            String probe = f == Family.IPV6 ? "ss -Hltn 'sport = :5003' | grep -q '\\['" : "ss -Hltn4 'sport = :5003' | grep -q .";
            awaitTrue(SERVER, probe + " && ss -Hltn 'sport = :5001' | grep -q .", Duration.ofSeconds(10));
        }
    }

    /** Sends 200 kB from the client through the echo server and checks every byte came back. */
    public boolean echoRoundTrip(Family f) {
        return echoRoundTrip(CLIENT, f);
    }

    /** Sends 200 kB from {@code host} (the client, or the router's own connection) through the echo server, checks every byte came back. */
    public boolean echoRoundTrip(String host, Family f) {
        flushRouteCaches();
        Path in = scratch.resolve("echo-in");
        Path out = scratch.resolve("echo-out");
        sh(null, "head -c 200000 /dev/urandom > " + in + "; rm -f " + out);
        // -t: how long socat waits for the echo after its input ended. 5 s once ran out in a
        // fresh-clone CI run with the host busy (a stalled transfer, no checksum error): 10 s.
        Result r = host(host, "sh", "-c", "timeout 30 socat -t 10 -T 20 - " + f.connect + ":" + f.server + ":5001 < "
                + in + " > " + out + " && cmp -s " + in + " " + out);
        return r.status() == 0;
    }

    /** Downloads up to 1 MB from the server within the timeout; returns the bytes received. */
    public long download(Family f, Duration timeout) {
        flushRouteCaches();
        String bytes = sh(CLIENT, "timeout " + timeout.toSeconds() + " socat -u " + f.connect + ":" + f.server
                + ":5003 - 2>/dev/null | wc -c");
        return Long.parseLong(bytes.trim());
    }

    /**
     * Captures, on {@code host}'s {@code device}, the first TCP segment with SYN set travelling
     * to ({@code synAck} false) or from (true) port 5001, while {@code traffic} runs; returns the
     * MSS option it carried, or -1 if it had none.
     */
    public int capturedMss(String host, String device, Family f, boolean synAck, Runnable traffic) {
        // For IPv6, libpcap cannot index the TCP header: without extension headers it starts at 40.
        String flags = f == Family.IPV4 ? "tcp[13]" : "ip6[53]";
        String filter = f.pcap + " and tcp " + (synAck ? "src" : "dst") + " port 5001 and "
                + flags + " & 0x12 = " + (synAck ? "0x12" : "0x02");
        Path log = scratch.resolve("tcpdump-" + SERIAL.incrementAndGet());
        Process capture = spawn(host, log, "timeout", "10", "tcpdump", "-i", device, "-n", "-l", "-v", "-c", "1", filter);
        awaitLog(log, "listening on", Duration.ofSeconds(10));
        traffic.run();
        try {
            if (!capture.waitFor(10, TimeUnit.SECONDS)) {
                capture.destroyForcibly();
            }
            String text = Files.readString(log);
            Matcher m = Pattern.compile("mss (\\d+)").matcher(text);
            if (m.find()) {
                return Integer.parseInt(m.group(1));
            }
            assertThat(text).as("tcpdump saw the segment").contains("Flags [S");
            return -1;
        } catch (IOException e) {
            throw new AssertionError(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /**
     * The MSS of the client's SYN as it reached the server, for a short exchange: for SYNs left
     * unclamped, where a bulk transfer would depend on path MTU discovery, which is not under test.
     */
    public int unclampedMssAtServer(Family f) {
        flushRouteCaches();
        String connect = "echo hello | timeout 10 socat -t 2 - " + f.connect + ":" + f.server + ":5001";
        return capturedMss(SERVER, "eth0", f, false, () -> assertThat(sh(CLIENT, connect)).isEqualTo("hello\n"));
    }

    /** The MSS of the client's SYN as it reached the server, for a real echo round trip. */
    public int mssAtServer(Family f) {
        boolean[] ok = new boolean[1];
        int mss = capturedMss(SERVER, "eth0", f, false, () -> ok[0] = echoRoundTrip(f));
        assertThat(ok[0]).as("%s connection carried 200 kB both ways intact", f).isTrue();
        return mss;
    }

    /** Pids of the processes in a host's namespace whose command line contains {@code fragment}. */
    public List<Long> pids(String host, String fragment) {
        List<Long> found = new ArrayList<>();
        for (String pid : sh(null, "ip netns pids " + namespace(host)).split("\\s+")) {
            if (pid.isEmpty()) {
                continue;
            }
            try {
                String commandLine = Files.readString(Path.of("/proc", pid, "cmdline")).replace('\0', ' ');
                if (commandLine.contains(fragment)) {
                    found.add(Long.parseLong(pid));
                }
            } catch (IOException e) {
                // it ended meanwhile
            }
        }
        return found;
    }

    /** SIGTERM to every process on a host whose command line contains {@code fragment}; waits until they are gone. */
    public void terminate(String host, String fragment) {
        List<Long> pids = pids(host, fragment);
        for (long pid : pids) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroy);
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (pids.stream().anyMatch(pid -> ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false))) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("still running 10 s after SIGTERM: " + fragment + " " + pids);
            }
            pause(20);
        }
    }

    /** The MAC address of a host's interface, as trafgen bytes: "0x02, 0xab, ...". */
    public String macBytes(String host, String device) {
        String mac = sh(host, "cat /sys/class/net/" + device + "/address").trim();
        return "0x" + mac.replace(":", ", 0x");
    }

    /**
     * Sends raw IP packets from the client's eth0 to the router with trafgen, {@code rounds}
     * times over, {@code gapMicros} apart (trafgen's own pacing), in order.
     */
    public void sendRaw(List<byte[]> packets, int rounds, int gapMicros) {
        StringBuilder config = new StringBuilder();
        String ethernet = macBytes(ROUTER, "lan0") + ", " + macBytes(CLIENT, "eth0") + ", ";
        for (byte[] packet : packets) {
            config.append("{ ").append(ethernet).append((packet[0] & 0xf0) == 0x60 ? "0x86, 0xdd" : "0x08, 0x00");
            for (byte b : packet) {
                config.append(String.format(", 0x%02x", b & 0xff));
            }
            config.append(" }\n");
        }
        Path file = scratch.resolve("trafgen-" + SERIAL.incrementAndGet() + ".cfg");
        try {
            Files.writeString(file, config);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        sh(CLIENT, "timeout 60 trafgen --conf " + file + " --dev eth0 --num " + ((long) packets.size() * rounds)
                + " --gap " + gapMicros + "us --cpus 1 --no-sock-mem --notouch-irq >/dev/null");
    }

    /** Waits until a shell test on a host succeeds. */
    public void awaitTrue(String host, String script, Duration limit) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (host(host, "sh", "-c", script).status() != 0) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not true within " + limit + " on " + host + ": " + script);
            }
            pause(50);
        }
    }

    public static void awaitLog(Path log, String text, Duration limit) {
        long deadline = System.nanoTime() + limit.toNanos();
        try {
            while (!Files.exists(log) || !Files.readString(log).contains(text)) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("\"" + text + "\" did not appear in " + log + " within " + limit
                            + (Files.exists(log) ? ":\n" + Files.readString(log) : ""));
                }
                pause(20);
            }
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    public static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    @Override
    public void close() {
        tearDown();
        try {
            Runtime.getRuntime().removeShutdownHook(cleanup);
        } catch (IllegalStateException e) {
            // already shutting down: the hook runs tearDown anyway
        }
    }

    private void tearDown() {
        synchronized (processes) {
            for (Process p : processes) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
            processes.clear();
        }
        host(null, ROOT.resolve("scripts/lab").toString(), "down", prefix);
    }

    private List<String> inNamespace(String host, String... command) {
        List<String> full = new ArrayList<>();
        if (host != null) {
            full.addAll(List.of("ip", "netns", "exec", namespace(host)));
        }
        full.addAll(List.of(command));
        return full;
    }

    private static void copy(java.io.InputStream in, Path to) {
        try (in) {
            Files.write(to, in.readAllBytes());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** What a finished command did. */
    public record Result(String command, int status, String stdout, String stderr) {
        public Result orFail() {
            if (status != 0) {
                throw new AssertionError(command + " exited " + status + ":\n" + stdout + stderr);
            }
            return this;
        }
    }
}
