package net.tcpmssd.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import sun.misc.Signal;

class SignalsTest {

    /**
     * A burst of one signal whose action is slow (SIGHUP: a --pmtu reread of a large routing
     * table) must not crowd out another: the SIGUSR2 after it still runs. With one shared bounded
     * queue the burst filled it and the SIGUSR2 was dropped.
     */
    @Test
    void aBurstOfOneSignalNeverLosesAnother() throws Exception {
        AtomicInteger hangups = new AtomicInteger();
        CountDownLatch user2 = new CountDownLatch(1);
        Signals.onHangup(() -> {
            hangups.incrementAndGet();
            sleep(50);
        });
        Signals.onUser2(user2::countDown);
        for (int i = 0; i < 40; i++) {
            Signal.raise(new Signal("HUP"));
        }
        Signal.raise(new Signal("USR2"));
        assertThat(user2.await(5, TimeUnit.SECONDS)).as("SIGUSR2's action ran after 40 SIGHUPs").isTrue();
        assertThat(hangups.get()).as("the SIGHUPs merged while their action waited").isBetween(1, 39);
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
