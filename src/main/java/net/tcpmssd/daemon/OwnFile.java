package net.tcpmssd.daemon;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;

/**
 * A file the daemon writes as root, perhaps in a directory others can write (BEHAVIOUR §8): the
 * pidfile, the served-interface locks, the verifier log. Opened once, without following a
 * symbolic link (O_NOFOLLOW), and everything after that is done on the descriptor, so that the
 * path cannot be swapped in between. It must be a regular file of ours with no other name (a
 * hard link to /etc/shadow, say); nothing in it is changed here. And read back the same way
 * ({@link #read}): the tcx records, the rule records.
 */
public final class OwnFile {

    private OwnFile() {}

    /**
     * Opens (creating with {@code mode}) the file; {@code what} names it in the error, e.g.
     * "can't write pidfile /run/x.pid: it is a symbolic link".
     */
    static int open(Path path, int mode, String what) throws StartupException {
        int fd;
        try {
            // O_NOCTTY: the detached daemon leads a session without a terminal, and opening a
            // terminal device would make it its controlling terminal.
            fd = Libc.open(path.toString(), Libc.O_RDWR | Libc.O_CREAT | Libc.O_NOFOLLOW | Libc.O_NOCTTY | Libc.O_CLOEXEC, mode);
        } catch (ErrnoException e) {
            throw refused(what, path, e.errno() == Libc.ELOOP ? "it is a symbolic link" : e.reason());
        }
        try {
            Libc.FileStatus status = Libc.fstat(fd);
            if (!status.regular()) {
                throw refused(what, path, "not a regular file");
            }
            if (status.owner() != Libc.geteuid()) {
                throw refused(what, path, "owned by uid " + Integer.toUnsignedString(status.owner()) + ", not by us");
            }
            if (status.links() != 1) {
                throw refused(what, path, "it has other hard links");
            }
            return fd;
        } catch (ErrnoException e) {
            Libc.close(fd);
            throw refused(what, path, e.getMessage());
        } catch (StartupException e) {
            Libc.close(fd);
            throw e;
        }
    }

    /**
     * At most {@code limit} bytes of the file, if it is a regular file of ours or root's, opened
     * without following a link (ELOOP) and without waiting on a FIFO for a writer (O_NONBLOCK,
     * open(2)): fstat then refuses it. A missing file is ENOENT.
     */
    public static byte[] read(Path path, int limit) throws IOException {
        // O_RDONLY is 0: only the flags that keep the open safe.
        int fd = Libc.open(path.toString(), Libc.O_NOFOLLOW | Libc.O_NOCTTY | Libc.O_CLOEXEC | Libc.O_NONBLOCK, 0);
        try {
            Libc.FileStatus status = Libc.fstat(fd);
            if (!status.regular()) {
                throw new IOException("not a regular file");
            }
            if (status.owner() != Libc.geteuid() && status.owner() != 0) {
                throw new IOException("owned by uid " + Integer.toUnsignedString(status.owner()) + ", neither ours nor root's");
            }
            return Libc.pread(fd, limit, 0);
        } finally {
            Libc.close(fd);
        }
    }

    /**
     * {@code bytes} as the whole of the file at {@code path}: written into PATH.new (opened as
     * {@link #open} opens, so never through a link), then renamed over {@code path}, which
     * rename(2) replaces whatever it is, a link included, following none; so a reader finds the
     * old text or the new, whole.
     */
    public static void replace(Path path, byte[] bytes, int mode, String what) throws IOException {
        Path next = path.resolveSibling(path.getFileName() + ".new");
        int fd;
        try {
            fd = open(next, mode, what);
        } catch (StartupException e) {
            throw new IOException(e.getMessage());
        }
        try {
            Libc.fchmod(fd, mode);
            Libc.ftruncate(fd, 0);
            Libc.pwrite(fd, bytes, 0);
        } finally {
            Libc.close(fd);
        }
        Files.move(next, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    static StartupException refused(String what, Path path, String reason) {
        return new StartupException("can't write " + what + " " + path + ": " + reason);
    }
}
