package net.tcpmssd.netlink;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import net.tcpmssd.os.ErrnoException;

/**
 * Counts changes to links and routes (RTMGRP_LINK, RTMGRP_IPV4_ROUTE, RTMGRP_IPV6_ROUTE): every
 * notification, and every lost one (ENOBUFS), moves {@link #generation()} on, telling the
 * {@link Routes} caches to forget what they know.
 */
public final class RoutingChanges implements AutoCloseable {

    private static final int GROUPS = 0x1 | 0x40 | 0x400;

    private final NetlinkSocket socket;
    private final Thread thread;
    private volatile long generation;
    private volatile boolean closed;

    private RoutingChanges(NetlinkSocket socket) {
        this.socket = socket;
        this.thread = Thread.ofPlatform().daemon().name("routing-changes").start(this::run);
    }

    public static RoutingChanges start() throws ErrnoException {
        NetlinkSocket socket = NetlinkSocket.subscribe(GROUPS);
        return new RoutingChanges(socket);
    }

    public long generation() {
        return generation;
    }

    /** As if everything changed (SIGHUP): every cache asks again. */
    public synchronized void bump() {
        generation++;
    }

    private void run() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(64 * 1024, 8);
            while (!closed) {
                try {
                    // Only the kernel's notifications count: any local process may send to our port.
                    if (socket.receive(buffer, 0, false) > 0 && socket.sender() == NetlinkChannel.KERNEL) {
                        bump();
                    }
                } catch (ErrnoException e) {
                    bump(); // notifications were lost (ENOBUFS): assume everything changed
                }
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            thread.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        socket.close();
    }
}
