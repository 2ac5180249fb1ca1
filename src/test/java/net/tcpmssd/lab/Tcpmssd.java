package net.tcpmssd.lab;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The real daemon, started with bin/tcpmssd in the lab's router namespace. */
public final class Tcpmssd implements AutoCloseable {

    private static final Duration READY_LIMIT = Duration.ofSeconds(20);

    private final Lab lab;
    private final Process process;
    private final Path log;

    private Tcpmssd(Lab lab, Process process, Path log) {
        this.lab = lab;
        this.process = process;
        this.log = log;
    }

    /** Starts tcpmssd and returns once the kernel lists {@code queue} as bound in the router. */
    public static Tcpmssd start(Lab lab, int queue, String... args) {
        List<String> command = new ArrayList<>();
        command.add(Lab.ROOT.resolve("bin/tcpmssd").toString());
        command.addAll(List.of(args));
        return commandBound(lab, queue, command.toArray(String[]::new));
    }

    /**
     * Starts tcpmssd with --attach (in {@code args}) and returns once it has attached: it logs the
     * maximum right after attaching, before it tells systemd it is ready.
     */
    public static Tcpmssd startAttached(Lab lab, String... args) {
        List<String> command = new ArrayList<>();
        command.add(Lab.ROOT.resolve("bin/tcpmssd").toString());
        command.addAll(List.of(args));
        return commandAttached(lab, command.toArray(String[]::new));
    }

    /** As {@link #startAttached}, for a command that runs bin/tcpmssd --attach in the end (setpriv, unshare). */
    public static Tcpmssd commandAttached(Lab lab, String... command) {
        Path log = lab.scratch().resolve("tcpmssd-" + System.nanoTime() + ".log");
        Tcpmssd daemon = new Tcpmssd(lab, lab.spawn(Lab.ROUTER, log, command), log);
        long deadline = System.nanoTime() + READY_LIMIT.toNanos();
        while (!daemon.log().contains("Maximum MSS")) {
            if (!daemon.process.isAlive()) {
                throw new AssertionError("tcpmssd exited " + daemon.process.exitValue() + " before attaching:\n" + daemon.log());
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("tcpmssd did not attach within " + READY_LIMIT + ":\n" + daemon.log());
            }
            Lab.pause(20);
        }
        return daemon;
    }

    /** As {@link #start}, for a command that runs a tcpmssd with -p in the end (an installed one, in a mount namespace). */
    public static Tcpmssd commandBound(Lab lab, int queue, String... command) {
        Path log = lab.scratch().resolve("tcpmssd-" + System.nanoTime() + ".log");
        Tcpmssd daemon = new Tcpmssd(lab, lab.spawn(Lab.ROUTER, log, command), log);
        daemon.awaitBound(queue);
        return daemon;
    }

    /** {@link #start}, with the daemon and every thread of its JVM held to one CPU (taskset), as bench/syn-rate runs it. */
    public static Tcpmssd startOnCpu(Lab lab, int cpu, int queue, String... args) {
        Path log = lab.scratch().resolve("tcpmssd-" + System.nanoTime() + ".log");
        List<String> command = new ArrayList<>(List.of("taskset", "-c", Integer.toString(cpu), Lab.ROOT.resolve("bin/tcpmssd").toString()));
        command.addAll(List.of(args));
        Tcpmssd daemon = new Tcpmssd(lab, lab.spawn(Lab.ROUTER, log, command.toArray(String[]::new)), log);
        daemon.awaitBound(queue);
        return daemon;
    }

    /** Runs tcpmssd in the router expecting it to exit by itself; returns what it did. */
    public static Lab.Result run(Lab lab, String... args) {
        List<String> command = new ArrayList<>();
        command.add(Lab.ROOT.resolve("bin/tcpmssd").toString());
        command.addAll(List.of(args));
        return lab.host(Lab.ROUTER, command.toArray(String[]::new));
    }

    private void awaitBound(int queue) {
        long deadline = System.nanoTime() + READY_LIMIT.toNanos();
        while (!queueBound(lab, queue)) {
            if (!process.isAlive()) {
                throw new AssertionError("tcpmssd exited " + process.exitValue() + " before binding queue " + queue + ":\n" + log());
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("tcpmssd did not bind queue " + queue + " within " + READY_LIMIT + ":\n" + log());
            }
            Lab.pause(20);
        }
    }

    /** True if the router's kernel lists this queue as bound (first column of the proc file). */
    public static boolean queueBound(Lab lab, int queue) {
        String table = lab.sh(Lab.ROUTER, "cat /proc/net/netfilter/nfnetlink_queue");
        return table.lines().anyMatch(line -> line.trim().split("\\s+")[0].equals(Integer.toString(queue)));
    }

    public Process process() {
        return process;
    }

    public String log() {
        try {
            return Files.exists(log) ? Files.readString(log) : "";
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    public Path logFile() {
        return log;
    }

    /** SIGTERM, then the exit status (waits up to 10 s). */
    public int stop() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("tcpmssd ignored SIGTERM for 10 s:\n" + log());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
        return process.exitValue();
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            stop();
        }
    }
}
