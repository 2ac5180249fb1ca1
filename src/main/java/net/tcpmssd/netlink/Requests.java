package net.tcpmssd.netlink;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;

/**
 * Requests to the kernel over one netlink socket, each answered only by what answers it: the
 * request carries a sequence number of its own, and a reply counts only if it carries the same
 * one (the kernel copies it, netlink_ack() and nlmsg_put()) and comes from the kernel's port id
 * 0. Any local process may send to our port (netlink(7) permits unicast between user sockets),
 * so a datagram from another port is dropped unread; a message from the kernel with another
 * sequence number (a notification, a queued packet, a late reply to a request that timed out) is
 * handed to the caller's {@link Others}, never taken for the answer.
 *
 * <p>An answer ends with NLMSG_ERROR (an acknowledgement or a refusal), with NLMSG_DONE after the
 * parts of a dump (NLM_F_MULTI), or, for a request that asked no acknowledgement, with its one
 * reply. Waiting ends after {@link #REPLY_TIMEOUT} without a part of the answer. One thread at
 * a time.
 */
public final class Requests {

    /**
     * How long a request waits for its answer, or for the next part of a dump. The kernel answers a request while our send is
     * still in progress (netlink_unicast_kernel() runs the family's handler in the sender's
     * context, and a dump's next part is made inside our recvmsg), so any answer is already
     * queued when the wait begins: the timeout only bounds a reply that will never come. 250 ms
     * holds a queue thread's SYNs for well under the 1 s initial retransmission timeout (RFC
     * 6298), so a SYN held by a lost reply is not yet sent again.
     */
    public static final Duration REPLY_TIMEOUT = Duration.ofMillis(250);

    private static final int NLM_F_MULTI = 0x02;
    private static final int NLMSG_OVERRUN = 4;

    /** The messages of an answer, other than its closing NLMSG_DONE or NLMSG_ERROR. */
    @FunctionalInterface
    public interface Replies {
        void reply(Messages message);
    }

    /** Messages from the kernel that answer nothing we wait for (notifications, queued packets). */
    @FunctionalInterface
    public interface Others {
        Others IGNORE = message -> { };

        void message(Messages message);
    }

    private final NetlinkChannel channel;
    private final Netlink.Writer request;
    private final MemorySegment reply;
    private final long timeoutNanos;
    private final Messages messages = new Messages();
    private int sequence;
    private int flags;
    private long strangers;
    private int closingFlags;

    /**
     * Requests over {@code channel}, written into {@code requestBuffer}; replies are read into
     * {@code replyBuffer}, which must hold the largest datagram the kernel sends on this socket
     * (a shorter one would cut it, and the cut answer is reported, not read).
     */
    public Requests(NetlinkChannel channel, MemorySegment requestBuffer, MemorySegment replyBuffer) {
        this(channel, requestBuffer, replyBuffer, REPLY_TIMEOUT);
    }

    Requests(NetlinkChannel channel, MemorySegment requestBuffer, MemorySegment replyBuffer, Duration timeout) {
        this.channel = channel;
        this.request = new Netlink.Writer(requestBuffer);
        this.reply = replyBuffer;
        this.timeoutNanos = timeout.toNanos();
    }

    /**
     * Begins the next request: one message of {@code type} with NLM_F_REQUEST and {@code flags}
     * and a sequence number of its own (never 0, which the kernel's notifications carry). The
     * caller writes the family's header and attributes, then calls {@link #exchange}.
     */
    public Netlink.Writer begin(int type, int flags) {
        sequence = sequence == Integer.MAX_VALUE ? 1 : sequence + 1;
        this.flags = flags;
        request.clear();
        return request.begin(type, Netlink.NLM_F_REQUEST | flags, sequence);
    }

    /**
     * The nlmsg_flags of the message that ended the last answer (its NLMSG_DONE or NLMSG_ERROR):
     * the kernel marks a dump's closing message too with NLM_F_DUMP_INTR when the table changed
     * while it was dumped (netlink_dump() runs nl_dump_check_consistent on it).
     */
    public int closingFlags() {
        return closingFlags;
    }

    /** Datagrams dropped because a port other than the kernel's sent them. */
    public long strangers() {
        return strangers;
    }

    /**
     * Sends the request begun and reads until it is answered, giving each reply to
     * {@code replies} and other messages from the kernel to {@code others}.
     *
     * @return 0 if the kernel answered or acknowledged it; the errno it refused it with
     * @throws ErrnoException ETIMEDOUT if no answer came within the timeout; EBADMSG if the answer
     *     was not one the kernel writes (an error message too short for its errno, a datagram cut
     *     short); or the socket's own error
     */
    public int exchange(String what, Replies replies, Others others) throws ErrnoException {
        request.end();
        channel.send(request.buffer(), request.length());
        boolean acknowledged = (flags & Netlink.NLM_F_ACK) != 0;
        closingFlags = 0;
        // A deadline for the next part of the answer, moved on by each part that comes: a dump of
        // a large table takes longer than the timeout in all, never that long between its parts.
        long deadline = System.nanoTime() + timeoutNanos;
        while (System.nanoTime() - deadline < 0) {
            int used = channel.receive(reply, 0, false);
            if (used == 0) {
                continue; // the socket's own timeout or a signal: the deadline decides
            }
            if (channel.sender() != NetlinkChannel.KERNEL) {
                strangers++;
                continue;
            }
            messages.over(reply, 0, used);
            while (messages.next()) {
                if (messages.sequence() != sequence) {
                    others.message(messages);
                    continue;
                }
                deadline = System.nanoTime() + timeoutNanos;
                switch (messages.type()) {
                    case Netlink.NLMSG_ERROR -> {
                        closingFlags = messages.flags();
                        int error = messages.error();
                        if (error == Messages.MALFORMED) {
                            throw new ErrnoException(what + ": error reply without an errno", Libc.EBADMSG);
                        }
                        return error;
                    }
                    case Netlink.NLMSG_DONE -> {
                        closingFlags = messages.flags();
                        // Its int is the dump's result; kernels before 4.x may not send one.
                        int error = messages.payloadLength() < 4 ? 0 : messages.error();
                        return error == Messages.MALFORMED ? 0 : error;
                    }
                    case Netlink.NLMSG_NOOP, NLMSG_OVERRUN -> { }
                    default -> {
                        replies.reply(messages);
                        if ((messages.flags() & NLM_F_MULTI) == 0 && !acknowledged) {
                            return 0;
                        }
                    }
                }
            }
            if (messages.broken()) {
                throw new ErrnoException(what + ": reply cut short", Libc.EBADMSG);
            }
        }
        throw new ErrnoException(what + ": no reply", Libc.ETIMEDOUT);
    }
}
