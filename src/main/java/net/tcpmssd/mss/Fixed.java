package net.tcpmssd.mss;

import java.lang.foreign.MemorySegment;
import net.tcpmssd.packet.MaxMss;

/** A maximum that never changes: -m and --set-mss. */
final class Fixed implements MssPolicy {

    private final MaxMss max;
    private final MssLog log;

    Fixed(MaxMss max, MssLog log) {
        this.max = max;
        this.log = log;
    }

    @Override
    public MaxMss forPacket(MemorySegment packet, long offset, int length, int inInterface, int outInterface) {
        return max;
    }

    @Override
    public MaxMss uniform() {
        return max;
    }

    @Override
    public void reread() {
        log.info(describe()); // nothing to read again: say what holds
    }

    @Override
    public String describe() {
        return MssPolicy.describe(max);
    }

    @Override
    public void close() {}
}
