package net.tcpmssd;

import static net.tcpmssd.lab.Lab.ROUTER;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import net.tcpmssd.lab.Lab.Family;
import net.tcpmssd.lab.Lab;
import net.tcpmssd.lab.LabExtension;
import net.tcpmssd.lab.Tcpmssd;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Issue 3 in the lab: detaching, syslog, pidfiles, signals, live interface MTU, systemd, least privilege. */
class DaemonLabIT {

    private static final int QUEUE = 100;

    @RegisterExtension
    static final LabExtension LAB = new LabExtension();

    private Lab lab;

    @BeforeEach
    void queueSyns() {
        lab = LAB.lab();
        lab.queueSynsToWan();
    }

    @AfterEach
    void resetRouter() {
        lab.host(ROUTER, "sh", "-c", "ip link del tm0 2>/dev/null; ip link set wan0 mtu 1280");
        lab.sh(Lab.WAN, "ip link set eth0 mtu 1280");
    }

    /**
     * Runs tcpmssd detached, in a mount namespace of its own where /dev/log is a socket this test
     * reads (the test machine has no syslog daemon, and the host's /dev stays untouched).
     */
    private Path startDetachedWithSyslog(String... args) throws Exception {
        Path dir = lab.scratch().resolve("syslog-" + System.nanoTime());
        Path syslog = dir.resolve("syslog.txt");
        String script = String.join("\n",
                ownDev(dir),
                "socat -u UNIX-RECV:/dev/log,mode=666 CREATE:" + syslog + " </dev/null >/dev/null 2>&1 &",
                "while [ ! -S /dev/log ]; do sleep 0.05; done",
                "exec " + Lab.ROOT.resolve("bin/tcpmssd") + " " + String.join(" ", args));
        Lab.Result started = lab.host(ROUTER, "sh", "-c", script);
        assertThat(started.status()).as("detached start: %s", started.stderr()).isZero();
        assertThat(started.stderr()).isEmpty();
        return syslog;
    }

    /**
     * Shell lines giving the script a /dev of its own with only the null and random devices in it
     * (ip netns exec runs it in a mount namespace of its own, so the host's /dev stays as it is).
     */
    private static String ownDev(Path dir) throws Exception {
        Files.createDirectories(dir.resolve("host-dev"));
        return String.join("\n",
                "set -e",
                "mount --bind /dev " + dir.resolve("host-dev"),
                "mount -t tmpfs tmpfs /dev",
                "for n in null zero random urandom; do touch /dev/$n; mount --bind " + dir.resolve("host-dev") + "/$n /dev/$n; done");
    }

    @Test
    void detachesOnlyOnceBoundThenClampsLogsToSyslogAndStopsOnSigterm() throws Exception {
        Path syslog = startDetachedWithSyslog("-p", "100", "-i", "wan0");

        // The parent returned: the queue is already bound and the pidfile written (BEHAVIOUR §5).
        assertThat(Tcpmssd.queueBound(lab, QUEUE)).isTrue();
        Path pidfile = Path.of("/var/run/tcpmssd.wan0.pid");
        String pid = Files.readString(pidfile).trim();
        String stat = Files.readString(Path.of("/proc", pid, "stat"));
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        assertThat(fields[3]).as("session id: a session of its own").isEqualTo(pid);
        assertThat(fields[4]).as("tty_nr: no controlling terminal").isEqualTo("0");
        assertThat(Files.readSymbolicLink(Path.of("/proc", pid, "fd", "1"))).hasToString("/dev/null");

        assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1240);
        assertThat(lab.mssAtServer(Family.IPV6)).isEqualTo(1220);
        Lab.awaitLog(syslog, "tcpmssd[" + pid + "]: Maximum MSS: 1240", Duration.ofSeconds(5));

        lab.sh(null, "kill -USR1 " + pid);
        Lab.awaitLog(syslog, "IPv4: 1 seen, 1 clamped", Duration.ofSeconds(5));
        Lab.awaitLog(syslog, "IPv6: 1 seen, 1 clamped", Duration.ofSeconds(5));

        lab.sh(null, "kill -TERM " + pid);
        lab.awaitTrue(null, "! kill -0 " + pid + " 2>/dev/null", Duration.ofSeconds(10));
        assertThat(pidfile).doesNotExist();
        assertThat(Tcpmssd.queueBound(lab, QUEUE)).isFalse();
    }

    /** Runs a shell script in the router that starts tcpmssd detached; at most 20 s (then exit 124: it did not detach). */
    private Lab.Result startDetached(String script) {
        return lab.host(ROUTER, "timeout", "20", "sh", "-c", script);
    }

    private static long pidIn(Path pidfile) throws Exception {
        return Long.parseLong(Files.readString(pidfile).trim());
    }

    @Test
    void aRelativePidfileIsWrittenWhereTcpmssdWasStartedNotInRoot() throws Exception {
        Path dir = Files.createDirectories(lab.scratch().resolve("relative"));
        String name = "relative-" + System.nanoTime() + ".pid";
        try {
            Lab.Result started = startDetached("cd " + dir + " && exec " + Lab.ROOT.resolve("bin/tcpmssd")
                    + " --pidfile " + name + " -p 100 -m 1280");
            assertThat(started.status()).as(started.stderr()).isZero();
            Path pidfile = dir.resolve(name);
            long pid = pidIn(pidfile);
            assertThat(Files.readSymbolicLink(Path.of("/proc", Long.toString(pid), "cwd"))).as("daemon(3): works in /").hasToString("/");

            lab.sh(null, "kill -TERM " + pid);
            lab.awaitTrue(null, "! kill -0 " + pid + " 2>/dev/null", Duration.ofSeconds(10));
            assertThat(pidfile).as("removed by the name it was written under").doesNotExist();
        } finally {
            lab.terminate(ROUTER, name);
            assertThat(Path.of("/", name)).as("nothing written into /").doesNotExist();
        }
    }

    @Test
    void aPidfileThatIsASymbolicLinkIsRefusedAndItsTargetLeftAsItWas() throws Exception {
        Path target = lab.scratch().resolve("root-only");
        Files.writeString(target, "root:secret\n");
        Files.setPosixFilePermissions(target, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        Path link = Files.createSymbolicLink(lab.scratch().resolve("link.pid"), target);

        Lab.Result r = lab.host(ROUTER, "timeout", "20", Lab.ROOT.resolve("bin/tcpmssd").toString(),
                "--foreground", "--pidfile", link.toString(), "-p", "100", "-m", "1280");

        assertThat(r.status()).isEqualTo(1);
        assertThat(r.stderr()).isEqualTo("tcpmssd: can't write pidfile " + link + ": it is a symbolic link\n");
        assertThat(Files.readString(target)).isEqualTo("root:secret\n");
        assertThat(Tcpmssd.queueBound(lab, QUEUE)).as("unbound again on the way out").isFalse();
    }

    @Test
    void thePidfileModeIs0644WhateverTheUmask() throws Exception {
        Path pidfile = lab.scratch().resolve("umask-" + System.nanoTime() + ".pid");
        Path log = lab.scratch().resolve("umask.log");
        Process daemon = lab.spawn(ROUTER, log, "sh", "-c", "umask 0; exec " + Lab.ROOT.resolve("bin/tcpmssd")
                + " --foreground --pidfile " + pidfile + " -p 100 -m 1280");
        Lab.awaitLog(pidfile, Long.toString(daemon.pid()), Duration.ofSeconds(20));
        assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(pidfile)))
                .as("not 0666 from umask 0").isEqualTo("rw-r--r--");
        daemon.destroy();
        assertThat(daemon.waitFor()).isZero();
    }

    @Test
    void aDetachMarkerInheritedFromTheCallersEnvironmentDoesNotStopTheDetach() throws Exception {
        Path pidfile = lab.scratch().resolve("inherited-" + System.nanoTime() + ".pid");
        try {
            // An exported TCPMSSD_DETACHED, old style or naming some other parent: the daemon must still detach.
            for (String inherited : new String[] {"1", "child-of-1"}) {
                Lab.Result started = startDetached("TCPMSSD_DETACHED=" + inherited + " exec " + Lab.ROOT.resolve("bin/tcpmssd")
                        + " --pidfile " + pidfile + " -p 100 -m 1280");
                assertThat(started.status()).as("returned once detached (124: stayed in the foreground): %s", started.stderr()).isZero();
                long pid = pidIn(pidfile);
                String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
                assertThat(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[3]).as("a session of its own").isEqualTo(Long.toString(pid));
                lab.sh(null, "kill -TERM " + pid);
                lab.awaitTrue(null, "! kill -0 " + pid + " 2>/dev/null", Duration.ofSeconds(10));
            }
        } finally {
            lab.terminate(ROUTER, pidfile.toString());
        }
    }

    @Test
    void aMissingSyslogIsToldOnTheTerminalBeforeDetaching() throws Exception {
        Path dir = lab.scratch().resolve("no-syslog-" + System.nanoTime());
        Path pidfile = dir.resolve("t.pid");
        try {
            // A /dev without a log socket, whatever the host has.
            Lab.Result started = startDetached(String.join("\n", ownDev(dir),
                    "exec " + Lab.ROOT.resolve("bin/tcpmssd") + " --pidfile " + pidfile + " -p 100 -m 1280"));
            assertThat(started.status()).as(started.stderr()).isZero();
            assertThat(started.stderr()).isEqualTo("tcpmssd: warning: no syslog daemon at /dev/log (no such file or directory): the detached"
                    + " daemon's messages go to /dev/console at best; run it with --foreground under a supervisor, or start a syslog daemon\n");
            assertThat(Tcpmssd.queueBound(lab, QUEUE)).as("it started all the same").isTrue();
        } finally {
            lab.terminate(ROUTER, pidfile.toString());
        }
    }

    @Test
    void startUpErrorsReachTheTerminalBeforeDetaching() {
        try (Tcpmssd first = Tcpmssd.start(lab, QUEUE, "-v", "-p", "100", "-m", "1280")) {
            Lab.Result second = Tcpmssd.run(lab, "-p", "100", "-m", "1280");
            assertThat(second.status()).isEqualTo(1);
            assertThat(second.stderr()).isEqualTo("tcpmssd: queue 100 is already in use\n");
        }
        Lab.Result unknown = Tcpmssd.run(lab, "-p", "100", "-i", "nosuch0");
        assertThat(unknown.status()).isEqualTo(1);
        assertThat(unknown.stderr()).isEqualTo("tcpmssd: unknown interface nosuch0\n");
    }

    @Test
    void staleValidPidfileIsTakenOverButALiveOneBlocks() throws Exception {
        Path pidfile = lab.scratch().resolve("stale.pid");
        Files.writeString(pidfile, "999999\n"); // a pid no process has: left by a crash
        try (Tcpmssd daemon = Tcpmssd.start(lab, QUEUE, "--foreground", "--pidfile", pidfile.toString(), "-p", "100", "-m", "1280")) {
            // The queue is bound first, then the pidfile written: wait for it, not just for the queue.
            Lab.awaitLog(pidfile, Long.toString(daemon.process().pid()), Duration.ofSeconds(5));
            assertThat(Files.readString(pidfile).trim()).isEqualTo(Long.toString(daemon.process().pid()));

            // Another instance (another queue, same pidfile) must not start.
            Lab.Result second = Tcpmssd.run(lab, "--foreground", "--pidfile", pidfile.toString(), "-p", "101", "-m", "1280");
            assertThat(second.status()).isEqualTo(1);
            assertThat(second.stderr()).isEqualTo("tcpmssd: already running as pid " + daemon.process().pid() + " (" + pidfile + ")\n");
            assertThat(daemon.stop()).isZero();
        }
        assertThat(pidfile).doesNotExist();
    }

    @Test
    void followsTheInterfaceMtuLiveAndOnSighup() {
        try (Tcpmssd daemon = Tcpmssd.start(lab, QUEUE, "-v", "-p", "100", "-i", "wan0")) {
            assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1240);

            // Both ends of the link change (an MTU below 1280 would switch IPv6 off on it).
            lab.sh(Lab.WAN, "ip link set eth0 mtu 1400");
            lab.sh(ROUTER, "ip link set wan0 mtu 1400");
            Lab.awaitLog(daemon.logFile(), "Maximum MSS: 1360 (IPv6: 1340)", Duration.ofSeconds(5));
            assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1360);
            assertThat(lab.mssAtServer(Family.IPV6)).isEqualTo(1340);

            lab.sh(ROUTER, "ip link set wan0 mtu 1280");
            lab.sh(Lab.WAN, "ip link set eth0 mtu 1280");
            Lab.awaitLog(daemon.logFile(), "Maximum MSS: 1240 (IPv6: 1220)", Duration.ofSeconds(5));
            assertThat(lab.mssAtServer(Family.IPV6)).isEqualTo(1220);
            long before = daemon.log().lines().filter(l -> l.startsWith("Maximum MSS: 1240")).count();
            lab.sh(null, "kill -HUP " + daemon.process().pid());
            lab.awaitTrue(null, "[ $(grep -c '^Maximum MSS: 1240' " + daemon.logFile() + ") -gt " + before + " ]", Duration.ofSeconds(5));
        }
    }

    @Test
    void survivesTheInterfaceBeingDeletedAndRecreated() {
        lab.sh(ROUTER, "ip link add tm0 mtu 1400 type veth peer name tm1");
        try (Tcpmssd daemon = Tcpmssd.start(lab, QUEUE, "-v", "-p", "100", "-i", "tm0")) {
            // Logged just after the queue is bound, which is all that start() waits for.
            Lab.awaitLog(daemon.logFile(), "Maximum MSS: 1360", Duration.ofSeconds(5));

            lab.sh(ROUTER, "ip link del tm0");
            Lab.awaitLog(daemon.logFile(), "warning: interface tm0 is gone; keeping Maximum MSS: 1360", Duration.ofSeconds(5));
            assertThat(lab.mssAtServer(Family.IPV4)).as("the last MTU stays in force").isEqualTo(1360);

            lab.sh(ROUTER, "ip link add tm0 mtu 1300 type veth peer name tm1");
            Lab.awaitLog(daemon.logFile(), "interface tm0 is back, MTU 1300", Duration.ofSeconds(5));
            Lab.awaitLog(daemon.logFile(), "Maximum MSS: 1260", Duration.ofSeconds(5));
            assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1260);
            assertThat(daemon.process().isAlive()).isTrue();
        }
    }

    @Test
    void withWaitForInterfaceAMissingInterfaceIsAwaitedThenClampedFor() throws Exception {
        // PPPoE at boot: the daemon starts before ppp0 exists (here tm0, whose MTU the SYNs to the server get).
        try (Tcpmssd daemon = Tcpmssd.start(lab, QUEUE, "-v", "--wait-for-interface", "-p", "100", "-i", "tm0")) {
            Lab.awaitLog(daemon.logFile(), "waiting for interface tm0 to appear; no MSS is lowered until then", Duration.ofSeconds(5));
            assertThat(lab.unclampedMssAtServer(Family.IPV4)).as("nothing to clamp for yet: passed unchanged").isEqualTo(1460);

            lab.sh(ROUTER, "ip link add tm0 mtu 1400 type veth peer name tm1");
            Lab.awaitLog(daemon.logFile(), "interface tm0 is there, MTU 1400", Duration.ofSeconds(5));
            Lab.awaitLog(daemon.logFile(), "Maximum MSS: 1360 (IPv6: 1340)", Duration.ofSeconds(5));
            assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1360);
            assertThat(lab.mssAtServer(Family.IPV6)).isEqualTo(1340);
            assertThat(daemon.log()).doesNotContain("unknown interface");
        }
    }

    @Test
    void sigusr1CountersMatchTheConnectionsMade() {
        try (Tcpmssd daemon = Tcpmssd.start(lab, QUEUE, "--foreground", "--pidfile", lab.scratch().resolve("c.pid").toString(),
                "-p", "100", "-m", "1280")) {
            for (int i = 0; i < 3; i++) {
                assertThat(lab.echoRoundTrip(Family.IPV4)).isTrue();
            }
            for (int i = 0; i < 2; i++) {
                assertThat(lab.echoRoundTrip(Family.IPV6)).isTrue();
            }
            lab.sh(null, "kill -USR1 " + daemon.process().pid());
            Lab.awaitLog(daemon.logFile(), "IPv4: 3 seen, 3 clamped; unchanged: 0 MSS small enough", Duration.ofSeconds(5));
            Lab.awaitLog(daemon.logFile(), "IPv6: 2 seen, 2 clamped; unchanged: 0 MSS small enough", Duration.ofSeconds(5));
            assertThat(daemon.log()).as("--foreground writes no per-packet lines").doesNotContain("MSS: 1460 -> 1240");
        }
    }

    @Test
    void notifiesSystemdReadinessOnceTheQueueIsBound() throws Exception {
        Path notify = lab.scratch().resolve("notify.sock");
        Path received = lab.scratch().resolve("notify.txt");
        lab.spawn(ROUTER, received, "socat", "-u", "UNIX-RECV:" + notify, "STDOUT");
        lab.awaitTrue(null, "[ -S " + notify + " ]", Duration.ofSeconds(5));
        Path log = lab.scratch().resolve("notify-daemon.log");
        Process daemon = lab.spawn(ROUTER, log, "env", "NOTIFY_SOCKET=" + notify, Lab.ROOT.resolve("bin/tcpmssd").toString(),
                "--foreground", "--pidfile", lab.scratch().resolve("n.pid").toString(), "-p", "100", "-m", "1280");
        Lab.awaitLog(received, "READY=1", Duration.ofSeconds(20));
        assertThat(Tcpmssd.queueBound(lab, QUEUE)).as("bound when READY=1 arrives").isTrue();
        daemon.destroy();
        assertThat(daemon.waitFor()).isZero();
    }

    @Test
    void runsAsAnUnprivilegedUserHoldingOnlyCapNetAdmin() throws Exception {
        Path dir = Files.createDirectories(lab.scratch().resolve("nobody"));
        lab.sh(null, "chmod 755 " + lab.scratch() + "; chmod 777 " + dir);
        String asNobody = "setpriv --reuid=65534 --regid=65534 --clear-groups";
        String tcpmssd = Lab.ROOT.resolve("bin/tcpmssd") + " --foreground --pidfile " + dir.resolve("t.pid") + " -p 100 -m 1280";

        Lab.Result without = lab.host(ROUTER, "sh", "-c", asNobody + " --inh-caps=-all " + tcpmssd);
        assertThat(without.status()).isEqualTo(1);
        assertThat(without.stderr()).isEqualTo("tcpmssd: can't bind queue 100: operation not permitted (needs CAP_NET_ADMIN)\n");

        Path log = dir.resolve("daemon.log");
        Process daemon = lab.spawn(ROUTER, log, "sh", "-c",
                "exec " + asNobody + " --inh-caps=+net_admin --ambient-caps=+net_admin --bounding-set=-all,+net_admin " + tcpmssd);
        lab.awaitTrue(ROUTER, "grep -q '^ *100 ' /proc/net/netfilter/nfnetlink_queue", Duration.ofSeconds(20));
        String status = Files.readString(Path.of("/proc", Long.toString(daemon.pid()), "status"));
        assertThat(status).containsPattern("Uid:\\s+65534").containsPattern("CapEff:\\s+0000000000001000");
        assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1240);
        daemon.destroy();
        assertThat(daemon.waitFor()).isZero();
    }
}
