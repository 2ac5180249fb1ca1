package net.tcpmssd.netlink;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.function.IntFunction;

/**
 * A scripted netlink socket: every send is kept, and each receive returns the next datagram of
 * the script, built when it is received from the sequence number of the last request sent (so a
 * script can answer it, or answer it wrongly). An empty script answers as a receive timeout does.
 */
final class FakeKernel implements NetlinkChannel {

    record Datagram(int sender, IntFunction<byte[]> bytes) {}

    final List<byte[]> sent = new ArrayList<>();
    private final Deque<Datagram> script = new ArrayDeque<>();
    private int sender = -1;
    int receives;

    /** Queues a datagram from the kernel, built from the sequence number of the last request. */
    FakeKernel answer(IntFunction<byte[]> bytes) {
        return from(KERNEL, bytes);
    }

    FakeKernel from(int port, IntFunction<byte[]> bytes) {
        script.add(new Datagram(port, bytes));
        return this;
    }

    int lastSequence() {
        return MemorySegment.ofArray(sent.getLast()).get(ValueLayout.JAVA_INT_UNALIGNED, 8);
    }

    @Override
    public void send(MemorySegment buffer, long length) {
        sent.add(buffer.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE));
    }

    @Override
    public int receive(MemorySegment buffer, long offset, boolean dontWait) {
        receives++;
        Datagram next = script.poll();
        if (next == null) {
            try {
                Thread.sleep(5); // as SO_RCVTIMEO would, briefly
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            sender = -1;
            return 0;
        }
        byte[] bytes = next.bytes().apply(lastSequence());
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, buffer, offset, bytes.length);
        sender = next.sender();
        return bytes.length;
    }

    @Override
    public int sender() {
        return sender;
    }
}
