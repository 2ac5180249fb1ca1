package net.tcpmssd.queue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import net.tcpmssd.netlink.Netlink;
import net.tcpmssd.os.ErrnoException;

/**
 * Synthetic traffic for warming the packet path up before the bind (issue 11): NFQNL_MSG_PACKET
 * datagrams as the kernel sends them, carrying the SYNs a router sees most, so that the JIT
 * compiles the paths they take. A cold JVM interprets the packet path at a few tens of thousands
 * of SYNs a second, and links its native calls and loads its classes at the first batch; a
 * restarted router's backlog of SYNs arrives just then, fills the queue, and fail-open passes
 * the rest unclamped.
 */
public final class WarmUp {

    /** At least this many batches: 1,280 packets, to link the native calls and load the classes. */
    public static final int MIN_ROUNDS = 20;
    /**
     * At most this long for more, until the batches stop getting faster: on one busy CPU the JIT
     * needs a few hundred milliseconds for the packet path, and what it has not finished by the
     * bind it compiles while the first SYNs wait. Bounded for the ready target (0.5 s).
     */
    public static final long BUDGET_NANOS = 150_000_000L;

    private WarmUp() {}

    /** Datagrams, one for each slot of a batch. */
    record Traffic(List<MemorySegment> datagrams) {
        int count() {
            return datagrams.size();
        }

        MemorySegment datagram(int i) {
            return datagrams.get(i);
        }
    }

    /** Runs batches of synthetic packets through the packet path and {@code handler}, as long as it pays. */
    public static void run(NfQueue.Handler handler) throws ErrnoException {
        NfQueue.warmUp(handler, traffic(), MIN_ROUNDS, BUDGET_NANOS);
    }

    /**
     * A batch's worth, in the proportions of a router's queue: mostly IPv4 SYNs forwarded out
     * with an MSS to lower (options as Linux sends them: MSS, SACK-permitted, timestamps, window
     * scale), some IPv6 ones, some whose MSS is small enough, and an incoming one.
     */
    static Traffic traffic() {
        String tcp = "8000 0009 00000001 00000000 a002 faf0 0000 0000 0204 05b4 0402 080a 00000001 00000000 0103 0307";
        String tcpSmall = tcp.replace("0204 05b4", "0204 0400");
        byte[] v4 = hex("4500 003c 0000 4000 4006 0000 c6336402 cb007102 " + tcp);
        byte[] v4Small = hex("4500 003c 0000 4000 4006 0000 c6336402 cb007102 " + tcpSmall);
        byte[] v6 = hex("6000 0000 0028 0640 20010db8000100000000000000000002 20010db8000300000000000000000002 " + tcp);
        List<MemorySegment> datagrams = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            byte[] payload = i % 8 == 7 ? v6 : i % 16 == 3 ? v4Small : v4;
            int hook = i == 31 ? QueuedPacket.PRE_ROUTING : QueuedPacket.FORWARD;
            datagrams.add(message(i + 1, hook, payload));
        }
        return new Traffic(datagrams);
    }

    private static MemorySegment message(int id, int hook, byte[] payload) {
        Netlink.Writer w = new Netlink.Writer(Arena.ofAuto().allocate(256 + payload.length, 8));
        w.begin(NfQueue.MSG_PACKET, 0, 0).u8((payload[0] & 0xf0) == 0x60 ? 10 : 2).u8(0).be16(100);
        w.beginAttribute(NfQueue.ATTR_PACKET_HDR).be32(id).be16((payload[0] & 0xf0) == 0x60 ? 0x86dd : 0x0800).u8(hook).endAttribute();
        w.attributeBe32(hook == QueuedPacket.PRE_ROUTING ? NfQueue.ATTR_IFINDEX_INDEV : NfQueue.ATTR_IFINDEX_OUTDEV, 2);
        w.beginAttribute(NfQueue.ATTR_PAYLOAD).bytes(MemorySegment.ofArray(payload), 0, payload.length).endAttribute();
        w.end();
        return w.buffer().asSlice(0, w.length());
    }

    private static byte[] hex(String digits) {
        return HexFormat.of().parseHex(digits.replace(" ", ""));
    }
}
