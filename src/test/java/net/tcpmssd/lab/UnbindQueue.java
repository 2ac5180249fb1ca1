package net.tcpmssd.lab;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;

/**
 * A hostile neighbour for the reliability tests: sends NFQNL_CFG_CMD_UNBIND for a queue it does
 * not own and prints what the kernel answered. Written from the uapi header, independent of the
 * daemon's own netlink code.
 */
public final class UnbindQueue {

    public static void main(String[] args) throws Exception {
        int queue = Integer.parseInt(args[0]);
        int fd = Libc.socket(Libc.AF_NETLINK, Libc.SOCK_RAW, 12); // NETLINK_NETFILTER
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment address = arena.allocate(12);
            address.set(ValueLayout.JAVA_SHORT, 0, (short) Libc.AF_NETLINK);
            Libc.bind(fd, address);
            MemorySegment m = arena.allocate(28);
            m.set(ValueLayout.JAVA_INT, 0, 28);                          // nlmsg_len
            m.set(ValueLayout.JAVA_SHORT, 4, (short) ((3 << 8) | 2));    // NFQNL_MSG_CONFIG
            m.set(ValueLayout.JAVA_SHORT, 6, (short) (1 | 4));           // NLM_F_REQUEST | NLM_F_ACK
            m.set(ValueLayout.JAVA_INT, 8, 1);                           // sequence
            m.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN), 18, (short) queue); // res_id
            m.set(ValueLayout.JAVA_SHORT, 20, (short) 8);                // nla_len
            m.set(ValueLayout.JAVA_SHORT, 22, (short) 1);                // NFQA_CFG_CMD
            m.set(ValueLayout.JAVA_BYTE, 24, (byte) 2);                  // NFQNL_CFG_CMD_UNBIND
            Libc.send(fd, m, 28, 0);
            MemorySegment reply = arena.allocate(4096);
            Libc.recvfrom(fd, reply, 4096, 0, MemorySegment.NULL, MemorySegment.NULL);
            int error = -reply.get(ValueLayout.JAVA_INT, 16);
            System.out.println("unbind queue " + queue + ": " + (error == 0 ? "done" : new ErrnoException("x", error).getMessage().substring(3)));
        } finally {
            Libc.close(fd);
        }
    }
}
