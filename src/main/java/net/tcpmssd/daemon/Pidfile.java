package net.tcpmssd.daemon;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import net.tcpmssd.cli.Options;

/**
 * The pidfile of BEHAVIOUR §5, held the way pidfile(3) holds it: the running daemon keeps a lock on
 * the file, so a file left by a dead process (no lock) is simply taken over, while a live one
 * (locked) refuses the start. No guessing from pids that the kernel may have reused.
 */
final class Pidfile implements AutoCloseable {

    private final Path path;
    private final FileChannel channel;
    private final FileLock lock;

    private Pidfile(Path path, FileChannel channel, FileLock lock) {
        this.path = path;
        this.channel = channel;
        this.lock = lock;
    }

    /** /var/run/tcpmssd.IFACE.pid with -i, /var/run/tcpmssd.PORT.pid otherwise. */
    static Path defaultPath(Options options) {
        String name = options.interfaceName() != null ? options.interfaceName() : options.queueSpec();
        return Path.of("/var/run", "tcpmssd." + name + ".pid");
    }

    static Pidfile acquire(Path path) throws StartupException {
        FileChannel channel = null;
        try {
            channel = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            FileLock lock = channel.tryLock();
            if (lock == null) {
                String pid = Files.readString(path, StandardCharsets.US_ASCII).trim();
                channel.close();
                throw new StartupException("already running as pid " + pid + " (" + path + ")");
            }
            channel.truncate(0);
            channel.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
            channel.force(false);
            return new Pidfile(path, channel, lock);
        } catch (IOException e) {
            closeQuietly(channel);
            throw new StartupException("can't write pidfile " + path + ": " + e.getMessage());
        }
    }

    @Override
    public void close() {
        try {
            Files.deleteIfExists(path);
            lock.release();
        } catch (IOException e) {
            // the process is ending; the lock goes with it
        } finally {
            closeQuietly(channel);
        }
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            if (channel != null) {
                channel.close();
            }
        } catch (IOException ignored) {
            // nothing left to do
        }
    }
}
