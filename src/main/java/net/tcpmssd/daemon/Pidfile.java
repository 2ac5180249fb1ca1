package net.tcpmssd.daemon;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import net.tcpmssd.cli.Options;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;

/**
 * The pidfile of BEHAVIOUR §5, held the way pidfile(3) holds it: the running daemon keeps a lock on
 * the file, so a file left by a dead process (no lock) is simply taken over, while a live one
 * (locked) refuses the start. No guessing from pids that the kernel may have reused.
 *
 * <p>Written as root, perhaps into a directory others can write (BEHAVIOUR §8): opened as
 * {@link OwnFile} says, and nothing is changed in it before the lock is held: a live daemon's
 * pidfile, or anybody else's file, is left as it was. Its mode is 0644 (fchmod, whatever the
 * umask), so that anyone may read the pid and only we write it.
 *
 * <p>The same lock, in a file per network namespace and ifindex under /run, tells that an
 * interface is served by a live --attach daemon (BEHAVIOUR §7).
 */
final class Pidfile implements AutoCloseable {

    static final int MODE = 0644;
    private static final int MAX_PID_TEXT = 32;

    private final Path path;
    private final int fd;

    private Pidfile(Path path, int fd) {
        this.path = path;
        this.fd = fd;
    }

    /**
     * /var/run/tcpmssd.IFACE.pid with -i; otherwise /var/run/tcpmssd.PORT.pid, or with --attach
     * tcpmssd.attach.IFACE[,IFACE...].pid.
     */
    static Path defaultPath(Options options) {
        String name = options.interfaceName() != null ? options.interfaceName()
                : options.attach() != null ? "attach." + String.join(",", options.attach())
                : options.queueSpec();
        return Path.of("/var/run", "tcpmssd." + name + ".pid");
    }

    static Pidfile acquire(Path path) throws StartupException {
        return acquire(path, "pidfile", pid -> new StartupException("already running as pid " + pid + " (" + path + ")"));
    }

    /** What to say when a live process holds the lock, given its pid as its file says. */
    @FunctionalInterface
    interface Held {
        StartupException by(String pid);
    }

    /**
     * Takes the lock of the file at {@code path} and writes our pid into it: a pidfile, or the
     * lock of an interface that this daemon serves ({@code what} names it in errors).
     */
    static Pidfile acquire(Path path, String what, Held held) throws StartupException {
        int fd = OwnFile.open(path, MODE, what);
        try {
            try {
                Libc.flock(fd, Libc.LOCK_EX | Libc.LOCK_NB);
            } catch (ErrnoException e) {
                if (e.errno() != Libc.EWOULDBLOCK) {
                    throw e;
                }
                throw held.by(new String(Libc.pread(fd, MAX_PID_TEXT, 0), StandardCharsets.US_ASCII).trim());
            }
            Libc.fchmod(fd, MODE);
            Libc.ftruncate(fd, 0);
            Libc.pwrite(fd, (ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII), 0);
            return new Pidfile(path, fd);
        } catch (ErrnoException e) {
            Libc.close(fd);
            throw OwnFile.refused(what, path, e.getMessage());
        } catch (StartupException e) {
            Libc.close(fd);
            throw e;
        }
    }

    /** Removes the file, then lets go of the lock: a new daemon never finds the old one's file unlocked. */
    @Override
    public void close() {
        try {
            Files.deleteIfExists(path); // unlink(2): removes a link put in its place, never what it points to
        } catch (IOException e) {
            // the process is ending; the lock goes with it
        } finally {
            Libc.close(fd);
        }
    }
}
