package net.tcpmssd.attach;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import net.tcpmssd.lab.NamespaceThread;

/**
 * Two network namespaces of unique names joined by a veth pair, client (a0, 198.51.100.1) ──
 * server (b0, 198.51.100.2), removed by {@link #close} (also when building them failed half way).
 * Work that names an ifindex or opens a socket in the client runs in a {@link NamespaceThread}.
 */
final class VethPair implements AutoCloseable {

    final String client;
    final String server;

    private VethPair(String prefix) {
        client = prefix + "-c";
        server = prefix + "-s";
    }

    static VethPair create(String purpose) throws IOException, InterruptedException {
        VethPair pair = new VethPair("tcpmssd-" + purpose + "-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 24)));
        try {
            run("ip", "netns", "add", pair.client);
            run("ip", "netns", "add", pair.server);
            run("ip", "-n", pair.client, "link", "add", "a0", "type", "veth", "peer", "name", "b0", "netns", pair.server);
            run("ip", "-n", pair.client, "addr", "add", "198.51.100.1/24", "dev", "a0");
            run("ip", "-n", pair.server, "addr", "add", "198.51.100.2/24", "dev", "b0");
            for (String[] end : new String[][] {{pair.client, "a0"}, {pair.server, "b0"}, {pair.client, "lo"}, {pair.server, "lo"}}) {
                run("ip", "-n", end[0], "link", "set", end[1], "up");
            }
        } catch (IOException | InterruptedException | RuntimeException e) {
            pair.close();
            throw e;
        }
        return pair;
    }

    int ifindex(String namespace, String device) throws IOException, InterruptedException {
        String line = run("ip", "-n", namespace, "-o", "link", "show", "dev", device);
        return Integer.parseInt(line.substring(0, line.indexOf(':')).strip());
    }

    /** Runs {@code work} on a thread of its own inside the client's namespace and returns its result. */
    <T> T inClient(Callable<T> work) throws Exception {
        return NamespaceThread.call(client, work);
    }

    /** Runs a command, returns its output; fails with its output if it exits non-zero. */
    static String run(String... command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(List.of(command)).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (process.waitFor() != 0) {
            throw new IOException(String.join(" ", command) + ": " + output.strip());
        }
        return output;
    }

    @Override
    public void close() throws IOException, InterruptedException {
        for (String namespace : new String[] {client, server}) {
            new ProcessBuilder("ip", "netns", "del", namespace).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor();
        }
    }
}
