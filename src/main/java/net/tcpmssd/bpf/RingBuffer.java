package net.tcpmssd.bpf;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.function.Consumer;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;

/**
 * The reading end of a BPF_MAP_TYPE_RINGBUF map (kernel/bpf/ringbuf.c), mapped into this process:
 * a page with the consumer position, which only we write; a page with the producer position,
 * which only the kernel writes; then the data area, mapped twice in a row so that no record
 * wraps. Each record has an 8-byte header: its length, with bit 31 set while the producer is
 * still writing it and bit 30 if it was discarded, then the page offset, then the data padded to
 * 8 bytes. Positions only grow; the data is at {@code position & (size - 1)}.
 *
 * <p>One reader at a time (the consumer position is ours alone). Not thread-safe.
 */
public final class RingBuffer implements AutoCloseable {

    private static final int PAGE = 4096;
    private static final int HEADER = 8;
    private static final int BUSY = 1 << 31;
    private static final int DISCARDED = 1 << 30;
    private static final VarHandle POSITION = JAVA_LONG.varHandle();

    private final Arena arena = Arena.ofShared();
    private final MemorySegment consumer;
    private final MemorySegment producer;
    private final MemorySegment data;
    private final long mask;

    /** Maps {@code map}, a ring buffer of {@code size} bytes (its max_entries). */
    public RingBuffer(BpfMap map, int size) throws ErrnoException {
        try {
            consumer = Libc.mapShared(map.fd(), PAGE, true, 0, arena);
            MemorySegment rest = Libc.mapShared(map.fd(), PAGE + 2L * size, false, PAGE, arena);
            producer = rest.asSlice(0, PAGE);
            data = rest.asSlice(PAGE);
            mask = size - 1;
        } catch (ErrnoException e) {
            arena.close();
            throw e;
        }
    }

    /** Hands each complete record written so far to {@code record} (a view valid only during the call); returns how many. */
    public int drain(Consumer<MemorySegment> record) {
        long at = (long) POSITION.getAcquire(consumer, 0L);
        long end = (long) POSITION.getAcquire(producer, 0L);
        int records = 0;
        while (at < end) {
            int length = (int) JAVA_INT.varHandle().getAcquire(data, at & mask);
            if ((length & BUSY) != 0) {
                break; // reserved, not yet submitted: later records wait behind it
            }
            int bytes = length & ~(BUSY | DISCARDED);
            if ((length & DISCARDED) == 0) {
                record.accept(data.asSlice((at & mask) + HEADER, bytes));
                records++;
            }
            at += (HEADER + bytes + 7) & ~7;
            POSITION.setRelease(consumer, 0L, at);
        }
        return records;
    }

    @Override
    public void close() {
        arena.close();
    }
}
