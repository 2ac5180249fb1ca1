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
 * <p>Written as root, perhaps into a directory others can write (BEHAVIOUR §8): the file is opened
 * once, without following a symbolic link (O_NOFOLLOW), and everything after that is done on the
 * descriptor, so that the path cannot be swapped in between. It must be a regular file of ours
 * with no other name (a hard link to /etc/shadow, say), and nothing is changed in it before the
 * lock is held: a live daemon's pidfile, or anybody else's file, is left as it was. Its mode is
 * 0644 (fchmod, whatever the umask), so that anyone may read the pid and only we write it.
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
        int fd;
        try {
            // O_NOCTTY: the detached daemon leads a session without a terminal, and opening a
            // terminal device would make it its controlling terminal.
            fd = Libc.open(path.toString(), Libc.O_RDWR | Libc.O_CREAT | Libc.O_NOFOLLOW | Libc.O_NOCTTY | Libc.O_CLOEXEC, MODE);
        } catch (ErrnoException e) {
            throw refused(path, e.errno() == Libc.ELOOP ? "it is a symbolic link" : e.reason());
        }
        try {
            Libc.FileStatus status = Libc.fstat(fd);
            if (!status.regular()) {
                throw refused(path, "not a regular file");
            }
            if (status.owner() != Libc.geteuid()) {
                throw refused(path, "owned by uid " + Integer.toUnsignedString(status.owner()) + ", not by us");
            }
            if (status.links() != 1) {
                throw refused(path, "it has other hard links");
            }
            try {
                Libc.flock(fd, Libc.LOCK_EX | Libc.LOCK_NB);
            } catch (ErrnoException e) {
                if (e.errno() != Libc.EWOULDBLOCK) {
                    throw e;
                }
                String pid = new String(Libc.pread(fd, MAX_PID_TEXT, 0), StandardCharsets.US_ASCII).trim();
                throw new StartupException("already running as pid " + pid + " (" + path + ")");
            }
            Libc.fchmod(fd, MODE);
            Libc.ftruncate(fd, 0);
            Libc.pwrite(fd, (ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII), 0);
            return new Pidfile(path, fd);
        } catch (ErrnoException e) {
            Libc.close(fd);
            throw refused(path, e.getMessage());
        } catch (StartupException e) {
            Libc.close(fd);
            throw e;
        }
    }

    private static StartupException refused(Path path, String reason) {
        return new StartupException("can't write pidfile " + path + ": " + reason);
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
