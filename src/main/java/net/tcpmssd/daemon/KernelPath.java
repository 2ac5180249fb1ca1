package net.tcpmssd.daemon;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import net.tcpmssd.attach.AttachException;
import net.tcpmssd.attach.KernelDataPath;
import net.tcpmssd.attach.TcxRecord;
import net.tcpmssd.cli.Options;
import net.tcpmssd.mss.MssPolicy;
import net.tcpmssd.mss.PathMtu;
import net.tcpmssd.netlink.RouteTable;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;

/**
 * --attach: the in-kernel data path (BEHAVIOUR §7) as the daemon keeps it. No packet reaches
 * the daemon; it writes the policy's maximum (or, with --pmtu, the routes) into the program's
 * maps, reads its counters, holds the served-interface locks, and at the end detaches the
 * programs, or leaves them clamping (SIGUSR2).
 */
final class KernelPath implements DataPath {

    /**
     * The directory of --attach's files: the served-interface locks, the records of the tcx
     * programs attached, and the verifier log. One path for every tcpmssd, so that all see each
     * other's locks; systemd's RuntimeDirectory=tcpmssd makes it for a daemon that runs as a user
     * of its own, root makes it itself. The records must outlive a daemon that stopped leaving
     * its programs (SIGUSR2), so a unit keeps the directory (RuntimeDirectoryPreserve=yes).
     */
    static final Path RUN_DIRECTORY = Path.of("/run/tcpmssd");
    /** Where a refused program's whole verifier log goes (BEHAVIOUR §7), mode 0600. */
    static final Path VERIFIER_LOG = RUN_DIRECTORY.resolve("verifier.log");

    private final Options options;
    private final MssPolicy policy;
    private final Log log;
    /** Null once closed: the maps are let go. Guarded by this for writes into the maps. */
    private KernelDataPath kernel;
    private boolean attached; // only the main thread's
    private volatile boolean stopping;
    private volatile boolean leaveAttached;
    /** The program's counts as last read; kept for the last report once its maps are closed. */
    private volatile Counters counts = new Counters();
    /** --pmtu: what went wrong writing the routes last, "" if the last write worked; the mirror's thread's. */
    private volatile String routesTrouble = "";
    private volatile boolean routesFollowed; // past the first write: failures are logged

    private KernelPath(Options options, MssPolicy policy, Log log) {
        this.options = options;
        this.policy = policy;
        this.log = log;
    }

    /**
     * Before the pidfile: interfaces and the lock of every one there (its network namespace and
     * ifindex), maps, programs and the way to attach, then the maximum into the map. Nothing
     * attached is touched yet, so a daemon that fails here leaves the running one's programs (or
     * the ones a stopped daemon left) clamping.
     */
    static KernelPath prepare(Options options, MssPolicy policy, Log log) throws StartupException, ErrnoException {
        KernelPath path = new KernelPath(options, policy, log);
        try {
            long namespace = KernelDataPath.networkNamespace();
            runDirectory();
            path.kernel = KernelDataPath.prepare(options.attach(), options.bothDirections(), options.addMss(), options.clsBpf(),
                    options.source() instanceof PathMtu, options.waitForInterface(), options.verbose(), (name, ifindex) -> servedLock(namespace, name, ifindex, log),
                    log);
        } catch (AttachException e) {
            throw new StartupException(e.verifierLog() == null ? e.getMessage() : e.getMessage() + writeVerifierLog(VERIFIER_LOG, e.verifierLog()));
        }
        try {
            policy.onChange(path::writeMaximum);
            synchronized (path) {
                path.kernel.setMaxMss(policy.uniform());
            }
            if (options.source() instanceof PathMtu) {
                policy.onRoutes(path::writeRoutes); // the routes in force now, written before it returns
                if (!path.routesTrouble.isEmpty()) {
                    throw new StartupException(path.routesTrouble);
                }
                path.routesFollowed = true;
            }
        } catch (StartupException | ErrnoException | RuntimeException e) {
            path.close();
            throw e;
        }
        return path;
    }

    @Override
    public void serve() {}

    /** Attaching comes last: nothing after it can fail and leave an interface without the old program or ours. */
    @Override
    public void commit() throws StartupException {
        try {
            kernel.attach();
        } catch (AttachException e) {
            throw new StartupException(e.getMessage());
        }
        attached = true;
        if (options.verbose()) {
            kernel.logEvents(log);
        }
        log.info(kernel.describe());
    }

    /** The kernel clamps; the daemon only answers signals, the MTU follower and scrapes until it stops. */
    @Override
    public void awaitStop() {
        while (!stopping) {
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    @Override
    public void stop(boolean leaveAttached) {
        if (leaveAttached) {
            this.leaveAttached = true;
        }
        stopping = true;
    }

    /** The policy's maximum into the kernel's map: at start, and whenever the policy sets it anew. */
    private synchronized void writeMaximum() {
        if (kernel == null) {
            return; // stopping: the maps are let go
        }
        try {
            kernel.setMaxMss(policy.uniform());
        } catch (ErrnoException e) {
            log.warning("can't write the maximum MSS into the kernel: " + e.getMessage());
        }
    }

    /**
     * --pmtu: the routes into the kernel's maps, at start and after each read; a failure leaves
     * the last table written in force and is logged once until a write works.
     */
    private synchronized void writeRoutes(RouteTable table) { // synchronized: close() waits for it
        if (kernel == null) {
            return;
        }
        try {
            kernel.setRoutes(table);
            if (!routesTrouble.isEmpty() && routesFollowed) {
                log.info("--pmtu: the routes are in the BPF maps again");
            }
            routesTrouble = "";
        } catch (ErrnoException | RuntimeException e) {
            String trouble = "can't write the routes into the BPF maps: " + e.getMessage();
            if (!trouble.equals(routesTrouble) && routesFollowed) { // at the start, the start-up error says it
                log.warning("--pmtu: " + trouble + "; the routes last written stay in force");
            }
            routesTrouble = trouble;
        }
    }

    @Override
    public synchronized List<Counters> counters() {
        if (kernel != null) {
            counts = Counters.snapshot(kernel::count);
        }
        return List.of(counts);
    }

    /**
     * SIGTERM takes our programs away (their maps go with them); SIGUSR2 leaves them clamping at
     * the last maximum. A daemon that never attached touches nothing. The served-interface locks
     * go either way.
     */
    @Override
    public void close() {
        KernelDataPath path;
        synchronized (this) {
            path = kernel;
        }
        if (path == null) {
            return;
        }
        if (attached && !leaveAttached) {
            path.detach();
        } else if (attached) {
            log.info(options.source() instanceof PathMtu
                    ? "stopping; the program stays attached, clamping by the routes last written (no longer following changes)"
                    : "stopping; the program stays attached, clamping at the last maximum");
        }
        counters(); // the last counts, before the maps are let go
        synchronized (this) {
            kernel = null;
        }
        path.close();
    }

    /**
     * The lock of an interface served, /run/tcpmssd/served.NETNS.IFINDEX.lock (BEHAVIOUR §7), at
     * start and when it is re-created; with it, read once the lock is held, the record of the tcx
     * programs an earlier daemon attached there, served.NETNS.IFINDEX.tcx.
     */
    private static KernelDataPath.Lock servedLock(long namespace, String name, int ifindex, Log log) throws AttachException {
        String served = "served." + namespace + "." + ifindex;
        Pidfile lock;
        try {
            lock = Pidfile.acquire(RUN_DIRECTORY.resolve(served + ".lock"), "lock file",
                    pid -> new StartupException(name + " is already served by pid " + pid));
        } catch (StartupException e) {
            throw new AttachException(e.getMessage());
        }
        TcxRecord record = TcxRecordFile.read(RUN_DIRECTORY.resolve(served + TcxRecordFile.SUFFIX), log);
        return new KernelDataPath.Lock() {
            @Override
            public TcxRecord record() {
                return record;
            }

            @Override
            public void close() {
                lock.close();
            }
        };
    }

    /**
     * {@link #RUN_DIRECTORY}, made (0755) if missing: mkdir(2) never follows a link in the last
     * component, and what is there must be a real directory of root's or ours.
     */
    private static void runDirectory() throws StartupException {
        try {
            Files.createDirectory(RUN_DIRECTORY, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        } catch (FileAlreadyExistsException e) {
            // made by an earlier daemon, or by systemd: checked below
        } catch (IOException e) {
            throw new StartupException("can't make " + RUN_DIRECTORY + ": " + e.getMessage());
        }
        checkRunDirectory(RUN_DIRECTORY);
    }

    /**
     * A directory of root's or ours; or a symbolic link of root's to one. systemd makes the
     * latter: with DynamicUser= a preserved RuntimeDirectory= lives in /run/private/tcpmssd and
     * /run/tcpmssd links to it (systemd.exec(5)). Only root can make a link in /run, so one of
     * root's is followed; one of anybody else's is refused.
     */
    static void checkRunDirectory(Path directory) throws StartupException {
        try {
            Path real = directory;
            if (Files.isSymbolicLink(directory)) {
                if (owner(directory) != 0) {
                    throw new StartupException(directory + " is a symbolic link that is not root's");
                }
                real = directory.toRealPath();
            }
            PosixFileAttributes attributes = Files.readAttributes(real, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            int owner = owner(real);
            if (!attributes.isDirectory() || (owner != 0 && owner != Libc.geteuid())) {
                throw new StartupException(directory + " is not a directory of root's or ours");
            }
        } catch (IOException e) {
            throw new StartupException("can't use " + directory + ": " + e.getMessage());
        }
    }

    private static int owner(Path path) throws IOException {
        return (int) Files.getAttribute(path, "unix:uid", LinkOption.NOFOLLOW_LINKS);
    }

    /** The verifier's whole log into {@code path} (0600, never through a link); what to add to the error line. */
    static String writeVerifierLog(Path path, String text) {
        try {
            if (path.getParent().equals(RUN_DIRECTORY)) {
                runDirectory();
            }
            int fd = OwnFile.open(path, 0600, "verifier log");
            try {
                Libc.fchmod(fd, 0600);
                Libc.ftruncate(fd, 0);
                Libc.pwrite(fd, text.getBytes(StandardCharsets.UTF_8), 0);
            } finally {
                Libc.close(fd);
            }
            return " (the verifier's log is in " + path + ")";
        } catch (StartupException | ErrnoException e) {
            return " (" + e.getMessage() + ")";
        }
    }
}
