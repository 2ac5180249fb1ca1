package net.tcpmssd.os;

import java.io.IOException;

/** A system call failed; carries errno so callers can tell the cases BEHAVIOUR §2 names apart. */
public final class ErrnoException extends IOException {

    private final int errno;

    public ErrnoException(String call, int errno) {
        super(call + ": " + Libc.strerror(errno));
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
