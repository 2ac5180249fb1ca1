package net.tcpmssd;

import static net.tcpmssd.lab.Lab.ROUTER;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import net.tcpmssd.lab.Lab;
import net.tcpmssd.lab.Lab.Family;
import net.tcpmssd.lab.LabExtension;
import net.tcpmssd.lab.Tcpmssd;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Least privilege per data path: the real daemon, started as root (or as nobody with ambient
 * capabilities, as a unit would), keeps CAP_NET_ADMIN alone on the queue path and CAP_BPF with
 * CAP_NET_ADMIN on --attach, read from /proc/PID/status and /proc/PID/task/TID/status, and still
 * clamps. In the foreground the daemon's own threads have dropped them, the one that runs signal
 * actions too (the JVM's threads from before main keep theirs: capabilities are per thread);
 * detached, every thread of the process.
 */
class PrivilegesLabIT {

    private static final long NET_ADMIN = 1L << 12;
    private static final long BPF = 1L << 39;
    /** Kept by --attach where held: opening the programs at a hook by id needs it (Privileges). */
    private static final long SYS_ADMIN = 1L << 21;

    @RegisterExtension
    static final LabExtension LAB = new LabExtension();

    private Lab lab;

    @BeforeEach
    void takeLab() {
        lab = LAB.lab();
    }

    /** One set ("CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb") of a /proc status file. */
    private static long set(String status, String name) {
        Matcher m = Pattern.compile("(?m)^" + name + ":\\s+([0-9a-f]{16})$").matcher(status);
        assertThat(m.find()).as("%s in\n%s", name, status).isTrue();
        return Long.parseUnsignedLong(m.group(1), 16);
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The status files of the threads of {@code pid} whose name (comm) is {@code name}, but not the process's first thread. */
    private static List<String> threads(long pid, String name) throws IOException {
        List<String> statuses = new ArrayList<>();
        try (var tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
            for (Path task : tasks.toList()) {
                if (!task.getFileName().toString().equals(Long.toString(pid)) && read(task.resolve("comm")).strip().equals(name)) {
                    statuses.add(read(task.resolve("status")));
                }
            }
        }
        return statuses;
    }

    private static void assertHoldsOnly(String status, long caps, long ambient, String what) {
        assertThat(set(status, "CapEff")).as("effective set of %s", what).isEqualTo(caps);
        assertThat(set(status, "CapPrm")).as("permitted set of %s", what).isEqualTo(caps);
        assertThat(set(status, "CapInh") & ~ambient).as("inheritable set of %s", what).isZero();
        assertThat(set(status, "CapAmb")).as("ambient set of %s", what).isEqualTo(ambient);
    }

    /** In the foreground: the daemon's main thread and its named threads hold {@code caps}, nothing else. */
    private static void assertDaemonThreadsHoldOnly(Tcpmssd daemon, long caps, String... named) throws IOException {
        long pid = daemon.process().pid(); // ip netns exec and bin/tcpmssd exec: the JVM itself
        assertThat(read(Path.of("/proc/" + pid + "/comm")).strip()).isEqualTo("java");
        List<String> main = threads(pid, "java");
        assertThat(main).as("the thread that ran main").hasSize(1);
        assertHoldsOnly(main.getFirst(), caps, 0, "the main thread");
        assertThat(set(main.getFirst(), "CapBnd")).as("bounding set of the main thread").isEqualTo(caps);
        for (String name : named) {
            List<String> statuses = threads(pid, name);
            assertThat(statuses).as("threads named %s", name).isNotEmpty();
            statuses.forEach(status -> assertHoldsOnly(status, caps, 0, name));
        }
    }

    /** Starts a detaching tcpmssd (it exits once the daemon is ready) and returns the daemon's pid from its pidfile. */
    private long startDetached(String prefix, Path pidfile, String... args) {
        List<String> command = new ArrayList<>(List.of("sh", "-c", prefix + Lab.ROOT.resolve("bin/tcpmssd") + " --pidfile " + pidfile
                + " " + String.join(" ", args)));
        Lab.Result started = lab.host(ROUTER, command.toArray(String[]::new));
        assertThat(started.status()).as("detaching tcpmssd; stderr: %s", started.stderr()).isZero();
        return Long.parseLong(read(pidfile).strip());
    }

    /** Every thread of the detached daemon, and the process as /proc/PID/status shows it, holds {@code caps} alone. */
    private static void assertProcessHoldsOnly(long pid, long caps, long ambient, boolean root) throws IOException {
        assertHoldsOnly(read(Path.of("/proc/" + pid + "/status")), caps, ambient, "process " + pid);
        try (var tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
            for (Path task : tasks.toList()) {
                String status = read(task.resolve("status"));
                assertHoldsOnly(status, caps, ambient, "thread " + read(task.resolve("comm")).strip());
                if (root) { // uid 0 holds CAP_SETPCAP, so it cut its bounding set: execve gives root that set
                    assertThat(set(status, "CapBnd") & ~caps).as("bounding set beyond %x", caps).isZero();
                }
            }
        }
    }

    private void stopDetached(long pid, Path pidfile) {
        lab.sh(ROUTER, "kill " + pid);
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (Files.exists(Path.of("/proc/" + pid))) {
            assertThat(System.nanoTime()).as("daemon %d still running 10 s after SIGTERM", pid).isLessThan(deadline);
            Lab.pause(20);
        }
        assertThat(pidfile).as("pidfile removed at stop, as root without CAP_DAC_OVERRIDE").doesNotExist();
    }

    @Test
    void theQueuePathKeepsOnlyNetAdmin() throws IOException {
        lab.queueSynsToWan();
        try (Tcpmssd daemon = Tcpmssd.start(lab, 100, "-v", "-p", "100", "-i", "wan0")) {
            assertDaemonThreadsHoldOnly(daemon, NET_ADMIN, "queue-100", "signals");
            // A signal's action runs on that thread: SIGUSR1's counters are still logged.
            lab.sh(ROUTER, "kill -USR1 " + daemon.process().pid());
            Lab.awaitLog(daemon.logFile(), "IPv4: ", Duration.ofSeconds(5));
            assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1240);
            assertThat(lab.mssAtServer(Family.IPV6)).isEqualTo(1220);
        }
        Path pidfile = lab.scratch().resolve("queue.pid");
        long pid = startDetached("", pidfile, "-p", "100", "-i", "wan0");
        assertProcessHoldsOnly(pid, NET_ADMIN, 0, true);
        assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1240);
        stopDetached(pid, pidfile);
    }

    @Test
    void theKernelPathKeepsBpfAndNetAdmin() throws IOException {
        try (Tcpmssd daemon = Tcpmssd.startAttached(lab, "-v", "--attach", "wan0", "-m", "1280")) {
            assertDaemonThreadsHoldOnly(daemon, BPF | NET_ADMIN | SYS_ADMIN, "signals");
            assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1240);
        }
        Path pidfile = lab.scratch().resolve("attach.pid");
        long pid = startDetached("", pidfile, "--attach", "wan0", "-m", "1280");
        assertProcessHoldsOnly(pid, BPF | NET_ADMIN | SYS_ADMIN, 0, true);
        assertThat(lab.mssAtServer(Family.IPV6)).isEqualTo(1220);
        stopDetached(pid, pidfile);
    }

    /**
     * As a unit runs it: an unprivileged user whose ambient set holds both paths' capabilities.
     * The detached queue daemon is a new process started after the drop: it holds CAP_NET_ADMIN
     * alone, ambient still (so its execve kept it), and binds its queue.
     */
    @Test
    void anUnprivilegedQueueDaemonKeepsItsAmbientNetAdminAcrossTheDetach() throws IOException {
        lab.queueSynsToWan();
        Path pidfile = Path.of("/tmp/tcpmssd-privileges-" + ProcessHandle.current().pid() + ".pid");
        String asNobody = "exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all,+net_admin,+bpf"
                + " --ambient-caps=-all,+net_admin,+bpf -- ";
        long pid;
        try {
            pid = startDetached(asNobody, pidfile, "-p", "100", "-m", "1280");
        } catch (AssertionError | UncheckedIOException e) {
            deleteIfThere(pidfile);
            throw e;
        }
        try {
            assertProcessHoldsOnly(pid, NET_ADMIN, NET_ADMIN, false);
            assertThat(set(read(Path.of("/proc/" + pid + "/status")), "CapInh")).isEqualTo(NET_ADMIN);
            assertThat(Tcpmssd.queueBound(lab, 100)).isTrue();
            assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1240);
            stopDetached(pid, pidfile);
        } finally {
            deleteIfThere(pidfile);
        }
    }

    private static void deleteIfThere(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (NoSuchFileException e) {
            // gone
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
