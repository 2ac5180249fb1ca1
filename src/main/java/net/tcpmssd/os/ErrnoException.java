package net.tcpmssd.os;

import java.io.IOException;

/** A system call failed; carries errno so callers can tell the cases BEHAVIOUR §2 names apart. */
public final class ErrnoException extends IOException {

    private final int errno;

    public ErrnoException(String call, int errno) {
        super(call + ": " + Libc.strerror(errno));
        this.errno = errno;
    }

    /** What strerror(3) says, begun in lower case to follow a colon: "no such file or directory". */
    public String reason() {
        String text = Libc.strerror(errno);
        return text.isEmpty() ? text : Character.toLowerCase(text.charAt(0)) + text.substring(1);
    }

    public int errno() {
        return errno;
    }
}
