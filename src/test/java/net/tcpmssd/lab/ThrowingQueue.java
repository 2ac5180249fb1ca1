package net.tcpmssd.lab;

import java.lang.foreign.ValueLayout;
import net.tcpmssd.packet.MaxMss;
import net.tcpmssd.packet.MssClamp;
import net.tcpmssd.queue.NfQueue;
import net.tcpmssd.queue.QueuedPacket;

/**
 * The daemon's queue with a handler that throws, for FaultsLabIT: binds queue ARG0 and serves
 * ARG1 packets. A packet whose TCP sequence number is odd has its MSS and TTL overwritten in the
 * receive buffer and then makes the handler throw; the others are clamped to MTU 1280. Prints
 * "handled N, failed F, errors E" and exits 0 (a throwable that escapes the queue ends it with a
 * trace and status 1). No test hook in the daemon: the failure is the handler's own.
 */
public final class ThrowingQueue {

    public static void main(String[] args) throws Exception {
        int number = Integer.parseInt(args[0]);
        int expected = Integer.parseInt(args[1]);
        int[] failed = {0};
        int[] errors = {0};
        NfQueue.Handler handler = new NfQueue.Handler() {
            @Override
            public boolean handle(QueuedPacket packet) {
                long tcp = packet.offset() + 20; // the test sends IPv4 without options
                if ((packet.buffer().get(ValueLayout.JAVA_BYTE, tcp + 7) & 1) == 1) {
                    packet.buffer().set(ValueLayout.JAVA_BYTE, packet.offset() + 8, (byte) 1);  // TTL
                    packet.buffer().set(ValueLayout.JAVA_BYTE, tcp + 22, (byte) 0);             // MSS
                    packet.buffer().set(ValueLayout.JAVA_BYTE, tcp + 23, (byte) 0);
                    throw new IllegalStateException("odd sequence number");
                }
                return MssClamp.clamp(packet.buffer(), packet.offset(), packet.length(), MaxMss.forMtu(1280), null)
                        .changesPacket();
            }

            public void failed(QueuedPacket packet, RuntimeException cause) {
                failed[0]++;
            }
        };
        int handled = 0;
        long deadline = System.nanoTime() + 30_000_000_000L;
        try (NfQueue queue = NfQueue.open(number, 1024, 1 << 20, handler, e -> errors[0]++)) {
            while (handled < expected && System.nanoTime() < deadline) {
                handled += Math.max(0, queue.receiveBatch());
            }
        }
        System.out.println("handled " + handled + ", failed " + failed[0] + ", errors " + errors[0]);
    }
}
