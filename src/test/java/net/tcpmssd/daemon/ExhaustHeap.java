package net.tcpmssd.daemon;

import java.util.ArrayList;
import java.util.List;

/**
 * For FatalProcessTest: the daemon's fatal-error handling, then a thread named like a queue
 * thread that runs the heap out for real (run with a small -Xmx). The main thread waits, as the
 * daemon's does; only the handler can end the process.
 */
public final class ExhaustHeap {

    public static void main(String[] args) throws InterruptedException {
        Fatal.install(false);
        Thread.ofPlatform().name("queue-100").start(() -> {
            List<long[]> hoard = new ArrayList<>();
            while (true) {
                hoard.add(new long[1 << 16]);
            }
        });
        Thread.sleep(60_000);
        System.err.println("still running after 60 s");
    }
}
