package net.tcpmssd.bpf;

/**
 * A tcx attachment made as a BPF link (BPF_LINK_CREATE): it lasts as long as its fd, so it ends
 * with the process that holds it (or when closed), unless pinned.
 */
public final class TcxLink implements AutoCloseable {

    private final OwnedFd fd;

    TcxLink(OwnedFd fd) {
        this.fd = fd;
    }

    public int fd() {
        return fd.get();
    }

    /** Detaches: the program stops running at the hook. */
    @Override
    public void close() {
        fd.close();
    }
}
