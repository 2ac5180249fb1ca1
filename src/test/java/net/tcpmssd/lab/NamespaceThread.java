package net.tcpmssd.lab;

import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import net.tcpmssd.os.Libc;

/**
 * Runs Java code inside a network namespace: on a new thread that first joins it. setns(2) moves
 * only the calling thread, and the thread ends with the work, so no other code ever runs in the
 * namespace; what the work looks up (an ifindex) or opens (a socket) is the namespace's.
 */
public final class NamespaceThread {

    private NamespaceThread() {}

    /** Runs {@code work} in the namespace named {@code name} (as {@code ip netns} names it) and returns its result. */
    public static <T> T call(String name, Callable<T> work) throws Exception {
        AtomicReference<T> result = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread thread = new Thread(() -> {
            try {
                Libc.setns("/run/netns/" + name, Libc.CLONE_NEWNET);
                result.set(work.call());
            } catch (Throwable t) {
                failure.set(t);
            }
        }, "in " + name);
        thread.start();
        thread.join();
        if (failure.get() instanceof Exception e) {
            throw e;
        } else if (failure.get() instanceof Error e) {
            throw e;
        }
        return result.get();
    }
}
