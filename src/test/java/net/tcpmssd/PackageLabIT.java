package net.tcpmssd;

import static net.tcpmssd.lab.Lab.ROUTER;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import net.tcpmssd.lab.Lab;
import net.tcpmssd.lab.Lab.Family;
import net.tcpmssd.lab.LabExtension;
import net.tcpmssd.lab.ListedPrograms;
import net.tcpmssd.lab.Tcpmssd;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 13's package: scripts/package builds the .deb once; dpkg installs it into a scratch root
 * of this test's own (--root, the maintainer scripts run with DPKG_ROOT), never into the host's
 * /usr; the installed /usr/sbin/tcpmssd runs in the namespace lab in a mount namespace where no
 * JDK is visible and clamps, on both data paths; its man page and unit pass their tools; an
 * upgrade's postinst hands a running instance over; and removal, then purge, leave nothing of it
 * behind (last: it removes what the others use).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PackageLabIT {

    @RegisterExtension
    static final LabExtension LAB = new LabExtension();

    /** What the package installs besides the runtime, whose own files are checked apart. */
    private static final Set<String> INSTALLED = Set.of(
            "etc/tcpmssd/IFACE.conf.example",
            "lib/systemd/system/tcpmssd@.service",
            "usr/lib/tcpmssd/jvm.options",
            "usr/lib/tcpmssd/tcpmssd.jar",
            "usr/sbin/tcpmssd",
            "usr/share/doc/tcpmssd/changelog.gz",
            "usr/share/doc/tcpmssd/copyright",
            "usr/share/lintian/overrides/tcpmssd",
            "usr/share/man/man8/tcpmssd.8.gz");

    /**
     * The JDKs of this machine hidden from the installed daemon by a tmpfs over them; it fails
     * if one is still visible: a java on the PATH, or the JDK that runs this test.
     */
    private static String noJdk() {
        return "mount -t tmpfs tmpfs /usr/lib/jvm && " + failIfJdkVisible() + " && exec env -i PATH=" + listedPath() + " ";
    }

    /** sh: ends with status 99 if a java is on the PATH or the JDK that runs this test is still there. */
    private static String failIfJdkVisible() {
        return "if command -v java >/dev/null || [ -e " + System.getProperty("java.home") + " ]; then echo 'a JDK is visible'; exit 99; fi";
    }

    /** The directory of the listed programs, as a PATH. */
    private static String listedPath() {
        return ListedPrograms.processBuilder(List.of("sh")).environment().get("PATH");
    }

    private static Path deb;
    private static Path root;
    private static Set<String> skeleton;

    @BeforeAll
    static void buildAndInstall() throws IOException {
        // The lab is up: root and the listed programs are there (else this class failed or was skipped).
        String built = run(List.of(Lab.ROOT.resolve("scripts/package").toString()), 600);
        deb = Lab.ROOT.resolve(built.lines().reduce((a, b) -> b).orElseThrow().split(":", 2)[0]);
        assertThat(deb).exists();
        root = Files.createTempDirectory("tcpmssd-root-");
        // dpkg's database for this root alone: dpkg --root reads and writes it, and nothing else.
        for (String dir : List.of("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers")) {
            Files.createDirectories(root.resolve(dir));
        }
        Files.createFile(root.resolve("var/lib/dpkg/status"));
        skeleton = tree();
        // --force-depends: the scratch root's database lists no libc6 nor init-system-helpers;
        // the host's C library serves the runtime.
        dpkg("--force-depends", "--install", deb.toString());
    }

    @AfterAll
    static void removeRoot() {
        if (root != null) {
            run(List.of("rm", "-rf", "--one-file-system", root.toString()), 60);
        }
    }

    private static String dpkg(String... args) {
        List<String> command = new ArrayList<>(List.of("dpkg", "--root=" + root, "--force-script-chrootless",
                "--log=/dev/null"));
        command.addAll(List.of(args));
        return run(command, 120);
    }

    /** Runs a listed program on the test machine; its output, or a failure with it. */
    private static String run(List<String> command, int seconds) {
        try {
            Process p = ListedPrograms.processBuilder(command).redirectErrorStream(true).start();
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(seconds, TimeUnit.SECONDS)).as("%s in %d s", command, seconds).isTrue();
            assertThat(p.exitValue()).as("%s:\n%s", command, out).isZero();
            return out;
        } catch (IOException e) {
            throw new AssertionError(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Every path in the scratch root, relative to it, directories included, except inside dpkg's database. */
    private static Set<String> tree() throws IOException {
        try (Stream<Path> paths = Files.walk(root)) {
            return paths.filter(p -> !p.equals(root)).map(p -> root.relativize(p).toString())
                    .filter(p -> !p.startsWith("var/lib/dpkg/"))
                    .collect(TreeSet::new, Set::add, Set::addAll);
        }
    }

    private static Path installed(String path) {
        return root.resolve(path);
    }

    @Test
    @Order(1)
    void theDebHoldsTheLayoutAndARuntimeWithoutJdkTools() {
        String contents = run(List.of("dpkg-deb", "--contents", deb.toString()), 60);
        Set<String> files = new TreeSet<>();
        Set<String> runtime = new TreeSet<>();
        for (String line : contents.lines().toList()) {
            String[] fields = line.trim().split("\\s+", 6);
            assertThat(fields[1]).as("owner of %s", fields[5]).isEqualTo("root/root");
            String path = fields[5].replaceFirst("^\\./", "");
            if (path.startsWith("usr/lib/tcpmssd/runtime/")) {
                runtime.add(path.substring("usr/lib/tcpmssd/runtime/".length()));
            } else if (!line.startsWith("d")) {
                files.add(path);
            }
        }
        assertThat(files).containsExactlyInAnyOrderElementsOf(INSTALLED);
        assertThat(runtime).contains("bin/java", "lib/modules", "lib/server/libjvm.so", "legal/java.base/LICENSE", "release");
        // Only the runtime: no compiler, no jlink, no man pages or headers of the JDK.
        assertThat(runtime).noneMatch(p -> p.startsWith("man/") || p.startsWith("include/") || p.startsWith("jmods/")
                || p.equals("bin/javac") || p.equals("bin/jlink") || p.equals("lib/src.zip"));
        assertThat(contents).contains("-rwxr-xr-x root/root", "./usr/sbin/tcpmssd");
        String pomVersion = run(List.of("sed", "-n", "s|^  <version>\\(.*\\)</version>$|\\1|p", Lab.ROOT.resolve("pom.xml").toString()), 10)
                .lines().findFirst().orElseThrow();
        String arch = run(List.of("dpkg", "--print-architecture"), 10).strip();
        assertThat(deb.getFileName().toString()).isEqualTo("tcpmssd_" + pomVersion + "_" + arch + ".deb");
        assertThat(run(List.of("dpkg-deb", "--field", deb.toString(), "Package", "Version", "Architecture", "Depends"), 10))
                .matches("Package: tcpmssd\nVersion: " + pomVersion + "\nArchitecture: " + arch
                        + "\nDepends: libc6 \\(>= 2\\.[0-9]+\\), init-system-helpers \\(>= 1\\.54~\\)\n");
        assertThat(run(List.of("dpkg-deb", "--info", deb.toString(), "conffiles"), 10)).isEqualTo("/etc/tcpmssd/IFACE.conf.example\n");
    }

    @Test
    @Order(2)
    void lintianFindsNoError() {
        String out = run(List.of("lintian", "--fail-on", "error", deb.toString()), 300);
        assertThat(out.lines()).noneMatch(line -> line.startsWith("E:"));
        // Lintian skips a check whose program it cannot run, and says so only in passing.
        assertThat(out).doesNotContain("skipping check", "No such file or directory");
    }

    @Test
    @Order(3)
    void theInstalledManPageRenders() {
        ProcessBuilder builder = ListedPrograms.processBuilder(List.of("man", "--warnings", "-E", "UTF-8", "-l",
                installed("usr/share/man/man8/tcpmssd.8.gz").toString()));
        builder.environment().put("MANWIDTH", "80");
        builder.environment().put("LC_ALL", "C.UTF-8");
        builder.environment().put("MANPAGER", "cat");
        String[] rendered = output(builder);
        assertThat(rendered[1]).as("groff warnings").isEmpty();
        assertThat(rendered[0]).contains("tcpmssd [-bv] -p port {-i iface | -m mtu}");
    }

    /** systemd-analyze checks that ExecStart's program exists: the installed unit, pointed at the scratch root's launcher. */
    @Test
    @Order(4)
    void systemdAnalyzeAcceptsTheInstalledUnit() throws IOException {
        Path units = Files.createTempDirectory(Lab.ROOT.resolve("target"), "units-");
        try {
            String unit = Files.readString(installed("lib/systemd/system/tcpmssd@.service"));
            assertThat(unit).contains("ExecStart=/usr/sbin/tcpmssd ").doesNotContain("/opt/")
                    .as("a stop detaches: SIGTERM, systemd's default").doesNotContain("KillSignal=");
            Files.writeString(units.resolve("tcpmssd@.service"), unit.replace("=/usr/sbin/tcpmssd ", "=" + installed("usr/sbin/tcpmssd") + " ")
                    .replace("=+/usr/sbin/tcpmssd ", "=+" + installed("usr/sbin/tcpmssd") + " "));
            for (String instance : List.of("tcpmssd@ppp0.service", "tcpmssd@wg\\x2dhome.service")) {
                ProcessBuilder builder = ListedPrograms.processBuilder(List.of("systemd-analyze", "verify", units.resolve(instance).toString()));
                builder.environment().put("MANPATH", installed("usr/share/man").toString());
                String[] out = output(builder);
                assertThat(out[0] + out[1]).as(instance).isEmpty();
            }
        } finally {
            run(List.of("rm", "-rf", units.toString()), 10);
        }
    }

    /** [stdout, stderr] of a command that must exit 0. */
    private static String[] output(ProcessBuilder builder) {
        try {
            Process p = builder.start();
            p.getOutputStream().close();
            Path err = Files.createTempFile("tcpmssd-err-", ".txt");
            try {
                Thread reader = Thread.ofVirtual().start(() -> {
                    try (var in = p.getErrorStream()) {
                        Files.write(err, in.readAllBytes());
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
                reader.join();
                String stderr = Files.readString(err);
                assertThat(p.exitValue()).as(out + stderr).isZero();
                return new String[] {out, stderr};
            } finally {
                Files.deleteIfExists(err);
            }
        } catch (IOException e) {
            throw new AssertionError(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** The installed launcher, run in a new mount namespace in the router in which no JDK is visible. */
    private static String[] withoutJdk(String environment, String... args) {
        return new String[] {"unshare", "--mount", "--propagation", "private", "sh", "-c",
                noJdk() + environment + " " + installed("usr/sbin/tcpmssd") + " " + String.join(" ", args)};
    }

    @Test
    @Order(5)
    void theInstalledDaemonClampsInTheKernelWithItsOwnRuntime() throws IOException {
        Lab lab = LAB.lab();
        // Where systemd's CacheDirectory= would be: the launcher makes the start-up cache there.
        Path cache = Files.createDirectories(installed("var/cache/tcpmssd"));
        try (Tcpmssd daemon = Tcpmssd.commandAttached(lab, withoutJdk("CACHE_DIRECTORY=" + cache, "-v", "--attach", "wan0", "-i", "wan0"))) {
            assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1240);
            assertThat(lab.mssAtServer(Family.IPV6)).isEqualTo(1220);
            assertThat(daemon.log()).contains("attached with tcx to wan0 (egress)");
            assertThat(javaOf(lab)).isEqualTo(installed("usr/lib/tcpmssd/runtime/bin/java"));
        }
        // Made beside the first start, by a training run with the packaged runtime.
        lab.awaitTrue(null, "[ -s " + cache.resolve("tcpmssd.aot") + " ]", java.time.Duration.ofSeconds(30));
        try (Tcpmssd daemon = Tcpmssd.commandAttached(lab, withoutJdk("CACHE_DIRECTORY=" + cache, "-v", "--attach", "wan0", "-m", "1300"))) {
            assertThat(lab.mssAtServer(Family.IPV4)).as("a start from the cache").isEqualTo(1260);
            long pid = daemonPid(lab);
            assertThat(Files.readString(Path.of("/proc", Long.toString(pid), "maps"))).as("the cache mapped")
                    .contains(cache.resolve("tcpmssd.aot").toString());
        }
        try (Stream<Path> left = Files.list(cache)) {
            assertThat(left.map(p -> p.getFileName().toString())).as("no training run's file left").containsExactly("tcpmssd.aot");
        }
    }

    @Test
    @Order(6)
    void theInstalledDaemonClampsOnTheQueue() {
        Lab lab = LAB.lab();
        lab.queueSynsToWan();
        try (Tcpmssd daemon = Tcpmssd.commandBound(lab, 100, withoutJdk("", "-v", "-p", "100", "-i", "wan0"))) {
            assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1240);
            assertThat(lab.mssAtServer(Family.IPV6)).isEqualTo(1220);
            assertThat(javaOf(lab)).isEqualTo(installed("usr/lib/tcpmssd/runtime/bin/java"));
        }
    }

    /** The pid of the one daemon in the router: a JVM running the jar, not a training run beside it. */
    private static long daemonPid(Lab lab) {
        List<Long> pids = lab.pids(ROUTER, "tcpmssd.jar").stream().filter(pid -> !commandLine(pid).contains("tcpmssd-train0")).toList();
        assertThat(pids).hasSize(1);
        return pids.getFirst();
    }

    private static String commandLine(long pid) {
        try {
            return Files.readString(Path.of("/proc", Long.toString(pid), "cmdline")).replace('\0', ' ');
        } catch (IOException e) {
            return ""; // it ended meanwhile
        }
    }

    /** The program the daemon runs. */
    private static Path javaOf(Lab lab) {
        try {
            return Path.of("/proc", Long.toString(daemonPid(lab)), "exe").toRealPath();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * systemd's part in an upgrade, for tcpmssd@wan0.service alone, standing in for systemctl in
     * a mount namespace where /run/systemd/system exists: what the postinst asks of it, logged
     * one call a line. "start" runs the installed daemon as the unit would (--foreground, -i,
     * and {@code options}) and returns once it is ready (it logs the maximum right after
     * attaching or binding), as a Type=notify start does at READY=1; a shell waits for it and
     * records its exit status, as the service manager does. "restart" is SIGTERM, then start.
     */
    private static String standInSystemctl(Path dir, String options) {
        return "#!/bin/sh\n"
                + "echo \"$*\" >> " + dir.resolve("calls") + "\n"
                + "n=$(cat " + dir.resolve("starts") + " 2>/dev/null || echo 0)\n"
                + "alive() { [ \"$n\" -gt 0 ] && [ ! -e " + dir + "/exit-$n ]; }\n"
                + "start() {\n"
                + "  if alive; then return 0; fi\n"
                + "  n=$((n + 1)); echo $n > " + dir.resolve("starts") + "\n"
                + "  ( " + installed("usr/sbin/tcpmssd") + " --foreground -v --pidfile /run/tcpmssd/wan0.pid -i wan0 " + options
                + " > " + dir + "/daemon-$n.log 2>&1 & echo $! > " + dir + "/pid-$n; wait $!; echo $? > " + dir + "/exit-$n ) &\n"
                + "  until grep -q 'Maximum MSS' " + dir + "/daemon-$n.log 2>/dev/null; do\n"
                + "    if [ -e " + dir + "/exit-$n ]; then return 1; fi; sleep 0.02\n"
                + "  done\n"
                + "}\n"
                + "case \"$*\" in\n"
                + "  '--system daemon-reload') ;;\n"
                + "  'list-units --plain --no-legend --state=active tcpmssd@*.service')\n"
                + "    if alive; then echo 'tcpmssd@wan0.service loaded active running TCP MSS clamping daemon for wan0'; fi ;;\n"
                + "  'show --property=MainPID --value tcpmssd@wan0.service') if alive; then cat " + dir + "/pid-$n; else echo 0; fi ;;\n"
                + "  'kill --kill-who=main --signal=SIGUSR2 tcpmssd@wan0.service') kill -USR2 \"$(cat " + dir + "/pid-$n)\" ;;\n"
                + "  '--quiet is-active tcpmssd@wan0.service') alive ;;\n"
                + "  'start tcpmssd@wan0.service') start ;;\n"
                + "  'restart tcpmssd@wan0.service')\n"
                + "    if alive; then kill -TERM \"$(cat " + dir + "/pid-$n)\"; until [ -e " + dir + "/exit-$n ]; do sleep 0.02; done; fi\n"
                + "    start ;;\n"
                + "  *) echo \"systemctl: not expected: $*\" >&2; exit 1 ;;\n"
                + "esac\n";
    }

    /** A PATH of the stand-in systemctl (in dir/bin, its calls in dir/calls) and the listed programs. */
    private static String standInPath(Path dir, String options) throws IOException {
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Files.writeString(bin.resolve("systemctl"), standInSystemctl(dir, options));
        Files.setPosixFilePermissions(bin.resolve("systemctl"), java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        return bin + ":" + listedPath();
    }

    /** What an upgrade did: the stand-in's calls, its directory, the MSS of each SYN the server saw from before it to after. */
    private record Upgrade(List<String> calls, Path dir, List<Integer> mss) {
        String file(String name) throws IOException {
            return Files.readString(dir.resolve(name));
        }
    }

    /**
     * The postinst of an upgrade (configure 0.1.0), run as dpkg runs it with systemd running,
     * while the instance, started with {@code options}, runs and the client opens one short
     * connection after another (at most 3,000) from before it to after it.
     */
    private static Upgrade upgrade(String options) throws Exception {
        Lab lab = LAB.lab();
        Path dir = Files.createTempDirectory(lab.scratch(), "upgrade-");
        String path = standInPath(dir, options);
        // A system of its own: /run (systemd's marker, the daemon's locks) and /var/cache (the
        // postinst removes the start-up cache there) are tmpfs, the JDKs hidden; then the unit
        // is started, and once the test says so, the package's postinst runs as dpkg runs it.
        String system = "mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system && mount -t tmpfs tmpfs /var/cache"
                + " && mount -t tmpfs tmpfs /usr/lib/jvm && export PATH=" + path
                + " && " + failIfJdkVisible()
                + " && systemctl start tcpmssd@wan0.service && touch " + dir.resolve("started")
                + " && while [ ! -e " + dir.resolve("go") + " ]; do sleep 0.05; done"
                + "; " + installed("var/lib/dpkg/info/tcpmssd.postinst") + " configure 0.1.0; echo $? > " + dir.resolve("postinst.rc")
                + "; while [ ! -e " + dir.resolve("end") + " ]; do sleep 0.05; done";
        lab.spawn(ROUTER, dir.resolve("system.log"), "unshare", "--mount", "--propagation", "private", "sh", "-c", system);
        try {
            lab.awaitTrue(null, "[ -e " + dir.resolve("started") + " ]", java.time.Duration.ofSeconds(20));
            lab.flushRouteCaches();
            Path capture = dir.resolve("syns");
            lab.spawn(Lab.SERVER, capture, "timeout", "60", "tcpdump", "-i", "eth0", "-n", "-l", "-v",
                    "ip and tcp dst port 5001 and tcp[13] & 0x12 = 0x02");
            Lab.awaitLog(capture, "listening on", java.time.Duration.ofSeconds(10));
            Path stop = dir.resolve("stop-traffic");
            lab.spawn(Lab.CLIENT, dir.resolve("traffic.log"), "sh", "-c", "i=0; while [ ! -e " + stop + " ] && [ $i -lt 3000 ]; do"
                    + " echo x | timeout 2 socat -t 0.1 - TCP4:" + Family.IPV4.server + ":5001 >/dev/null; i=$((i + 1)); done");
            Lab.pause(500);
            Files.createFile(dir.resolve("go"));
            lab.awaitTrue(null, "[ -e " + dir.resolve("postinst.rc") + " ]", java.time.Duration.ofSeconds(30));
            Lab.pause(500);
            Files.createFile(stop);
            Lab.pause(300);
            assertThat(Files.readString(dir.resolve("postinst.rc")).strip()).as(Files.readString(dir.resolve("system.log"))).isEqualTo("0");
            List<Integer> mss = java.util.regex.Pattern.compile("mss (\\d+)").matcher(Files.readString(capture)).results()
                    .map(m -> Integer.parseInt(m.group(1))).toList();
            return new Upgrade(Files.readAllLines(dir.resolve("calls")), dir, mss);
        } finally {
            Files.writeString(dir.resolve("end"), "");
        }
    }

    /**
     * --attach: the instance ends with SIGUSR2, which leaves its program attached, and starts
     * again from the new files; SYNs sent all through it, at 1,460 from the client, all reach the
     * server clamped to 1,240.
     */
    @Test
    @Order(7)
    void anUpgradeHandsAnAttachedInstanceOverWithNoSynUnclamped() throws Exception {
        assertHandedOver("--attach wan0", "attached with tcx to wan0");
    }

    /** The same with clsact/cls_bpf, what Debian 12's own 6.1 kernel (no tcx) gets. */
    @Test
    @Order(7)
    void anUpgradeHandsAClsBpfInstanceOverWithNoSynUnclamped() throws Exception {
        assertHandedOver("--attach wan0 --cls-bpf", "attached with clsact/cls_bpf to wan0");
    }

    private static void assertHandedOver(String options, String attached) throws Exception {
        Upgrade upgrade = upgrade(options);
        List<String> calls = upgrade.calls();
        assertThat(calls.subList(0, 5)).containsExactly(
                "start tcpmssd@wan0.service", // the test's, as systemd's at boot
                "--system daemon-reload",
                "list-units --plain --no-legend --state=active tcpmssd@*.service",
                "show --property=MainPID --value tcpmssd@wan0.service", // its command line says --attach
                "kill --kill-who=main --signal=SIGUSR2 tcpmssd@wan0.service");
        assertThat(calls.subList(5, calls.size() - 1)).as("waits until it ended").isNotEmpty()
                .allMatch("--quiet is-active tcpmssd@wan0.service"::equals);
        assertThat(calls.getLast()).isEqualTo("start tcpmssd@wan0.service");
        assertThat(upgrade.file("exit-1").strip()).as("the old daemon's exit status").isEqualTo("0");
        assertThat(upgrade.file("daemon-1.log")).contains("the program stays attached");
        assertThat(upgrade.dir().resolve("exit-2")).as("the new daemon runs").doesNotExist();
        assertThat(upgrade.file("daemon-2.log")).contains(attached);
        assertThat(upgrade.mss()).as("SYNs at the server all through the upgrade").hasSizeGreaterThan(10).containsOnly(1240);
    }

    /** The queue path, which has no program to leave, is restarted at once; the new daemon clamps. */
    @Test
    @Order(8)
    void anUpgradeRestartsAQueueInstance() throws Exception {
        LAB.lab().queueSynsToWan();
        Upgrade upgrade = upgrade("-p 100");
        assertThat(upgrade.calls()).containsExactly(
                "start tcpmssd@wan0.service",
                "--system daemon-reload",
                "list-units --plain --no-legend --state=active tcpmssd@*.service",
                "show --property=MainPID --value tcpmssd@wan0.service",
                "restart tcpmssd@wan0.service");
        assertThat(upgrade.file("exit-1").strip()).isEqualTo("0");
        assertThat(upgrade.dir().resolve("exit-2")).as("the new daemon runs").doesNotExist();
        assertThat(upgrade.mss()).as("SYNs at the server").hasSizeGreaterThan(10);
        assertThat(upgrade.mss().getLast()).as("the last SYN, after the upgrade").isEqualTo(1240);
    }

    /**
     * With $DPKG_ROOT set the scripts act on that root alone: they ask nothing of a systemd that
     * runs here (it is not the root's), though /run/systemd/system says one does.
     */
    @Test
    @Order(9)
    void withDpkgRootTheScriptsLeaveTheRunningSystemdAlone() throws IOException {
        Path dir = Files.createTempDirectory(LAB.lab().scratch(), "dpkg-root-");
        String path = standInPath(dir, "--attach wan0");
        Path info = installed("var/lib/dpkg/info");
        run(List.of("unshare", "--mount", "--propagation", "private", "sh", "-c", "mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system"
                + " && export PATH=" + path + " DPKG_ROOT=" + root
                + " && " + info.resolve("tcpmssd.postinst") + " configure 0.1.0 && " + info.resolve("tcpmssd.prerm") + " upgrade 0.1.0"
                + " && " + info.resolve("tcpmssd.prerm") + " remove && " + info.resolve("tcpmssd.postrm") + " remove"), 60);
        assertThat(dir.resolve("calls")).as("systemctl was not run").doesNotExist();
    }

    @Test
    @Order(10)
    void anUpgradeRemovesTheStaleStartUpCache() throws IOException {
        Path aot = Files.createDirectories(installed("var/cache/private/tcpmssd")).resolve("tcpmssd.aot");
        Files.writeString(aot, "made for the jar before");
        dpkg("--force-depends", "--install", deb.toString()); // the same version again: postinst configure with the old one
        assertThat(aot).doesNotExist();
        assertThat(installed("usr/sbin/tcpmssd")).isExecutable();
    }

    @Test
    @Order(11)
    void removalThenPurgeLeaveNothingBehind() throws IOException {
        // What an operator and systemd add: a unit's options, its enablement, the runtime directory.
        Files.writeString(installed("etc/tcpmssd/wan0.conf"), "TCPMSSD_OPTIONS=\"--attach wan0 -b\"\n");
        Path wants = Files.createDirectories(installed("etc/systemd/system/sys-subsystem-net-devices-wan0.device.wants"));
        Files.createSymbolicLink(wants.resolve("tcpmssd@wan0.service"), Path.of("/lib/systemd/system/tcpmssd@.service"));
        Files.createDirectories(installed("run/tcpmssd"));
        Files.writeString(installed("run/tcpmssd/wan0.pid"), "1\n");
        Files.createDirectories(installed("var/cache/tcpmssd"));
        Set<String> systemsOwn = Set.of("etc", "etc/systemd", "etc/systemd/system", "etc/systemd/system/sys-subsystem-net-devices-wan0.device.wants",
                "run", "var/cache", "var/cache/private");

        dpkg("--remove", "tcpmssd");
        assertThat(tree()).as("after --remove: the conffile and the operator's files stay, the rest is gone")
                .containsExactlyInAnyOrderElementsOf(union(skeleton, systemsOwn, Set.of("etc/tcpmssd", "etc/tcpmssd/IFACE.conf.example",
                        "etc/tcpmssd/wan0.conf", "etc/systemd/system/sys-subsystem-net-devices-wan0.device.wants/tcpmssd@wan0.service")));

        dpkg("--purge", "tcpmssd");
        assertThat(tree()).as("after --purge: only what was there and the system's own directories")
                .containsExactlyInAnyOrderElementsOf(union(skeleton, systemsOwn, Set.of()));
        assertThat(Files.readString(installed("var/lib/dpkg/status"))).as("dpkg forgot the package").doesNotContain("tcpmssd");
    }

    @SafeVarargs
    private static Set<String> union(Set<String>... sets) {
        Set<String> all = new TreeSet<>();
        for (Set<String> set : sets) {
            all.addAll(set);
        }
        return all;
    }
}
