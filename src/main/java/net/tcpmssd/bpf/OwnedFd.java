package net.tcpmssd.bpf;

import net.tcpmssd.os.Libc;

/**
 * A file descriptor this process owns (a map, a program, a link), closed exactly once. Closing
 * the last fd of a BPF object that nothing else holds (no attachment, no pin) frees it.
 */
final class OwnedFd implements AutoCloseable {

    private int fd;

    OwnedFd(int fd) {
        this.fd = fd;
    }

    int get() {
        if (fd < 0) {
            throw new IllegalStateException("already closed");
        }
        return fd;
    }

    @Override
    public void close() {
        if (fd >= 0) {
            Libc.close(fd);
            fd = -1;
        }
    }
}
