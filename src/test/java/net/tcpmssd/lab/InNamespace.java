package net.tcpmssd.lab;

import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import net.tcpmssd.os.Libc;

/**
 * Runs test code in a named network namespace (/run/netns/NAME): on a thread of its own that
 * first joins it (setns(2) moves only the calling thread, and the thread ends with the call, so
 * no other code ever runs in it). For the kernel calls that name an ifindex.
 */
public final class InNamespace {

    private InNamespace() {}

    public static <T> T call(String namespace, Callable<T> work) throws Exception {
        AtomicReference<T> result = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread thread = new Thread(() -> {
            try {
                Libc.setns("/run/netns/" + namespace, Libc.CLONE_NEWNET);
                result.set(work.call());
            } catch (Throwable t) {
                failure.set(t);
            }
        }, "in " + namespace);
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
