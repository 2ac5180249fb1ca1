package net.tcpmssd.queue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;
import net.tcpmssd.netlink.Netlink;
import net.tcpmssd.netlink.NetlinkSocket;
import net.tcpmssd.netlink.DatagramBatch;

/**
 * One NFQUEUE queue, spoken over nfnetlink (linux/netfilter/nfnetlink_queue.h).
 *
 * <p>The kernel sends each queued packet as an NFQNL_MSG_PACKET message with its id, the hook and
 * the whole packet; it holds the packet until it gets an NFQNL_MSG_VERDICT for that id. This class
 * guarantees the rule of SPEC §2: every packet received gets exactly one NF_ACCEPT verdict, with
 * the new payload when the handler changed it. Verdicts of one batch go out in one send.
 */
public final class NfQueue implements AutoCloseable {

    /** What is done with each packet. */
    public interface Handler {
        /** Looks at (and may change in place) one packet; returns true if it changed it. */
        boolean handle(QueuedPacket packet);

        /**
         * {@link #handle} threw for this packet: it has been answered unchanged, and the queue
         * goes on with the next (SPEC §8). Errors ({@link Error}) are not contained: they end
         * the thread, and the daemon with it.
         */
        void failed(QueuedPacket packet, RuntimeException cause);
    }

    /** Kernel errors that arrive asynchronously, e.g. for a verdict the kernel no longer wanted. */
    @FunctionalInterface
    public interface ErrorListener {
        void error(ErrnoException error);
    }

    /** {@link #receiveBatch()}'s answer when the socket overflowed. */
    public static final int OVERRUN = -1;

    private static final int NFNL_SUBSYS_QUEUE = 3;
    static final int MSG_PACKET = NFNL_SUBSYS_QUEUE << 8;
    private static final int MSG_VERDICT = (NFNL_SUBSYS_QUEUE << 8) | 1;
    private static final int MSG_CONFIG = (NFNL_SUBSYS_QUEUE << 8) | 2;
    private static final int NFGENMSG = 4; // struct nfgenmsg: family, version, res_id (big-endian)

    private static final int CFG_CMD = 1;
    private static final int CFG_PARAMS = 2;
    private static final int CFG_QUEUE_MAXLEN = 3;
    private static final int CFG_MASK = 4;
    private static final int CFG_FLAGS = 5;
    private static final int CMD_BIND = 1;
    private static final int CMD_UNBIND = 2;
    private static final int COPY_PACKET = 2;
    private static final int COPY_RANGE = 0xffff;
    /** NFQA_CFG_F_FAIL_OPEN: when the queue or our socket is full, accept instead of drop (SPEC §2). */
    private static final int FLAG_FAIL_OPEN = 1;

    static final int ATTR_PACKET_HDR = 1;
    private static final int ATTR_VERDICT_HDR = 2;
    static final int ATTR_IFINDEX_INDEV = 5;
    static final int ATTR_IFINDEX_OUTDEV = 6;
    static final int ATTR_PAYLOAD = 10;
    private static final int NF_ACCEPT = 1;

    /** The largest datagram: a 64 KiB packet plus its attributes. */
    private static final int LARGEST_MESSAGE = 65536 + 4096;
    /** Datagrams taken per recvmmsg: a burst of SYNs is answered a batch at a time. */
    private static final int BATCH = 64;
    private static final int SEND_BUFFER = 4 * LARGEST_MESSAGE;

    private final int number;
    private final NetlinkSocket socket;
    private final Handler handler;
    private final ErrorListener errors;
    private final Arena arena = Arena.ofShared();
    /** Made when the first batch is read: mapping it would link mmap(2) before the bind. */
    private DatagramBatch batch;
    /** Where datagrams are read: one datagram's room until the batch is made, then the batch's slots. */
    private MemorySegment received = arena.allocate(LARGEST_MESSAGE, 8);
    private final Netlink.Writer verdicts = new Netlink.Writer(arena.allocate(SEND_BUFFER, 8));
    private final Netlink.Writer control = new Netlink.Writer(arena.allocate(4096, 8));
    private final QueuedPacket packet = new QueuedPacket();
    private int sequence;
    private int ackSequence = -1;
    private int ackError;

    private NfQueue(int number, NetlinkSocket socket, Handler handler, ErrorListener errors) {
        this.number = number;
        this.socket = socket;
        this.handler = handler;
        this.errors = errors;
    }

    /**
     * Binds queue {@code number}, copying whole packets, fail-open, with room for {@code maxLength}
     * packets in the kernel. Bind and configuration go in one message so that no packet is ever
     * queued to us in another copy mode.
     */
    public static NfQueue open(int number, int maxLength, int socketBuffer, Handler handler, ErrorListener errors)
            throws ErrnoException {
        NetlinkSocket socket = NetlinkSocket.open(NetlinkSocket.NETLINK_NETFILTER);
        NfQueue queue = new NfQueue(number, socket, handler, errors);
        try {
            socket.setReceiveBuffer(socketBuffer);
            socket.setReceiveTimeout(Duration.ofMillis(200));
            Netlink.Writer w = queue.beginConfig();
            w.beginAttribute(CFG_CMD).u8(CMD_BIND).u8(0).be16(0).endAttribute();
            w.beginAttribute(CFG_PARAMS).be32(COPY_RANGE).u8(COPY_PACKET).endAttribute();
            w.attributeBe32(CFG_QUEUE_MAXLEN, maxLength);
            w.attributeBe32(CFG_MASK, FLAG_FAIL_OPEN);
            w.attributeBe32(CFG_FLAGS, FLAG_FAIL_OPEN);
            queue.request("bind queue " + number);
        } catch (ErrnoException e) {
            queue.release();
            throw e;
        }
        return queue;
    }

    /**
     * True if the kernel lists this queue as bound in our network namespace. The kernel answers a
     * bind of someone else's queue with EPERM, just as it answers a caller without CAP_NET_ADMIN:
     * this tells the two apart.
     */
    public static boolean isBound(int number) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/net/netfilter/nfnetlink_queue"))) {
                String[] fields = line.trim().split("\\s+");
                if (fields.length > 0 && fields[0].equals(Integer.toString(number))) {
                    return true;
                }
            }
        } catch (IOException | RuntimeException e) {
            return false;
        }
        return false;
    }

    public int number() {
        return number;
    }

    /**
     * Packets the kernel wanted to queue to us but could not, our socket being full: with
     * fail-open it accepted them unmodified. Any thread may ask.
     */
    public long socketDrops() throws ErrnoException {
        return socket.drops();
    }

    /**
     * Waits up to the receive timeout for packets, then takes every datagram already waiting (up
     * to a batch) in the same system call, hands each packet to the handler and answers them all
     * in one send.
     *
     * @return the number of packets handled; 0 after a timeout; {@link #OVERRUN} if our socket
     *     overflowed since the last call (the kernel passed what did not fit, unclamped)
     */
    public int receiveBatch() throws ErrnoException {
        if (batch == null) {
            batch = new DatagramBatch(arena, BATCH, LARGEST_MESSAGE);
            received = batch.data;
        }
        int datagrams = socket.receive(batch);
        if (datagrams == NetlinkSocket.OVERRUN) {
            return OVERRUN;
        }
        try {
            return answer(datagrams);
        } finally {
            flushVerdicts(); // also when an Error ends the thread: what was answered leaves
        }
    }

    /** Hands the packets in the batch's first {@code datagrams} slots to the handler and writes their verdicts. */
    private int answer(int datagrams) {
        int handled = 0;
        for (int i = 0; i < datagrams; i++) {
            handled += dispatch(batch.offset(i), batch.length(i), batch.offset(i) + batch.slotSize);
        }
        return handled;
    }

    /**
     * Runs the packet path before any queue is bound: batches of the datagrams in {@code traffic}
     * (one a slot, copied afresh for each round, as the handler may change them) go through the
     * same code as received ones, and their verdicts are written and thrown away. A started
     * daemon then meets its first SYNs with the packet path's native calls linked, its classes
     * loaded and its methods compiled, instead of interpreting and compiling while the queue
     * fills (issue 11). Rounds go on until they stop getting faster (the JIT has compiled what
     * they run) or {@code budgetNanos} of them have passed, and at least {@code minRounds}.
     */
    static void warmUp(Handler handler, WarmUp.Traffic traffic, int minRounds, long budgetNanos) throws ErrnoException {
        NfQueue queue = new NfQueue(-1, null, handler, e -> { });
        try {
            queue.batch = new DatagramBatch(queue.arena, BATCH, LARGEST_MESSAGE);
            queue.received = queue.batch.data;
            int datagrams = Math.min(BATCH, traffic.count());
            long start = System.nanoTime();
            long fastest = Long.MAX_VALUE;
            int sinceFaster = 0;
            for (int round = 0; round < minRounds || (sinceFaster < STEADY_ROUNDS && System.nanoTime() - start < budgetNanos); round++) {
                long began = System.nanoTime();
                for (int i = 0; i < datagrams; i++) {
                    queue.batch.fill(i, traffic.datagram(i));
                }
                // The batch receive and the verdict send on no socket (fd -1: EBADF at once, before
                // the kernel reads anything else): their downcalls are linked and their call sites run.
                Libc.recvmmsg(-1, queue.batch.data, 0, 0);
                queue.answer(datagrams);
                Libc.sendBare(-1, queue.verdicts.buffer(), queue.verdicts.length(), 0);
                queue.verdicts.clear();
                long took = System.nanoTime() - began;
                if (took < fastest - fastest / 8) { // a compiled method came in: the rounds got faster
                    fastest = took;
                    sinceFaster = 0;
                } else {
                    sinceFaster++;
                }
            }
        } finally {
            queue.arena.close();
        }
    }

    /** Rounds without getting faster after which the warm-up counts as done. */
    private static final int STEADY_ROUNDS = 100;

    /** Answers every packet already waiting in the socket, without blocking. */
    public void drain() throws ErrnoException {
        int used;
        while ((used = socket.receive(received, 0, true)) > 0) {
            dispatch(0, used, received.byteSize());
            flushVerdicts();
        }
    }

    /** Unbinds the queue (after a {@link #drain()}) and closes the socket. */
    @Override
    public void close() {
        try {
            Netlink.Writer w = beginConfig();
            w.beginAttribute(CFG_CMD).u8(CMD_UNBIND).u8(0).be16(0).endAttribute();
            request("unbind queue " + number);
        } catch (ErrnoException e) {
            errors.error(e);
        } finally {
            release();
        }
    }

    private void release() {
        socket.close();
        arena.close();
    }

    private Netlink.Writer beginConfig() {
        control.clear();
        ackSequence = ++sequence;
        return control.begin(MSG_CONFIG, Netlink.NLM_F_REQUEST | Netlink.NLM_F_ACK, ackSequence)
                .u8(0).u8(0).be16(number);
    }

    /** Sends the control message and waits for its acknowledgement, answering packets meanwhile. */
    private void request(String what) throws ErrnoException {
        control.end();
        socket.send(control.buffer(), control.length());
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        ackError = 1;
        while (ackError == 1) {
            if (System.nanoTime() > deadline) {
                throw new ErrnoException(what, Libc.ETIMEDOUT);
            }
            int used = socket.receive(received, 0, false);
            if (used > 0) {
                dispatch(0, used, received.byteSize());
                flushVerdicts();
            }
        }
        if (ackError != 0) {
            throw new ErrnoException(what, -ackError);
        }
    }

    /**
     * Walks the netlink messages of one datagram, {@code received[start, start + used)}, which
     * may use the buffer up to {@code limit} (for a packet that grows).
     */
    private int dispatch(long start, int used, long limit) {
        int handled = 0;
        long end = start + used;
        int length;
        for (long at = start; (length = Netlink.wholeMessageLength(received, at, end)) > 0; at += Netlink.align(length)) {
            int type = Netlink.messageType(received, at);
            if (type == MSG_PACKET) {
                // Room to grow only for the datagram's last message: nothing to overwrite behind it.
                handlePacket(at, length, at + Netlink.align(length) >= end ? limit : at + length);
                handled++;
            } else if (type == Netlink.NLMSG_ERROR) {
                int error = Netlink.u32(received, at + Netlink.HEADER);
                int ofSequence = Netlink.u32(received, at + Netlink.HEADER + 4 + 8);
                if (ofSequence == ackSequence && ackSequence >= 0) {
                    ackError = error;
                    ackSequence = -1;
                } else if (error != 0) {
                    errors.error(new ErrnoException("queue " + number, -error));
                }
            }
        }
        return handled;
    }

    private void handlePacket(long message, int length, long limit) {
        long end = message + length;
        long at = message + Netlink.HEADER + NFGENMSG;
        boolean haveId = false;
        packet.buffer = received;
        packet.length = -1;
        packet.inInterface = 0;
        packet.outInterface = 0;
        while (at + Netlink.ATTRIBUTE_HEADER <= end) {
            int attributeLength = Netlink.u16(received, at);
            if (attributeLength < Netlink.ATTRIBUTE_HEADER || at + attributeLength > end) {
                break;
            }
            long value = at + Netlink.ATTRIBUTE_HEADER;
            switch (Netlink.u16(received, at + 2) & Netlink.ATTRIBUTE_TYPE_MASK) {
                case ATTR_PACKET_HDR -> {
                    packet.id = Netlink.be32(received, value);
                    packet.hook = Netlink.u8(received, value + 6);
                    haveId = true;
                }
                case ATTR_IFINDEX_INDEV -> packet.inInterface = Netlink.be32(received, value);
                case ATTR_IFINDEX_OUTDEV -> packet.outInterface = Netlink.be32(received, value);
                case ATTR_PAYLOAD -> {
                    packet.offset = value;
                    packet.length = attributeLength - Netlink.ATTRIBUTE_HEADER;
                }
                default -> { }
            }
            at += Netlink.align(attributeLength);
        }
        if (!haveId) {
            return; // without an id there is nothing to answer; the kernel always sends one
        }
        if (packet.length >= 0) {
            boolean payloadLast = packet.offset + packet.length >= message + length - 3;
            packet.capacity = payloadLast ? (int) Math.min(limit - packet.offset, 65535) : packet.length;
        }
        boolean changed = false;
        try {
            changed = packet.length >= 0 && handler.handle(packet);
        } catch (RuntimeException e) {
            // Contained to this packet. Its verdict goes without NFQA_PAYLOAD, and the kernel
            // then accepts its own copy of the packet (nfqnl_recv_verdict mangles only when that
            // attribute is present): byte for byte as it came, whatever the handler had already
            // changed in ours before it threw.
            handler.failed(packet, e);
        } finally {
            addVerdict(packet.id, changed);
        }
    }

    private void addVerdict(int id, boolean withPayload) {
        int needed = Netlink.HEADER + NFGENMSG + 12 + (withPayload ? Netlink.ATTRIBUTE_HEADER + packet.length + 3 : 0);
        if (verdicts.free() < needed) {
            flushVerdicts();
        }
        verdicts.begin(MSG_VERDICT, Netlink.NLM_F_REQUEST, 0).u8(0).u8(0).be16(number);
        verdicts.beginAttribute(ATTR_VERDICT_HDR).be32(NF_ACCEPT).be32(id).endAttribute();
        if (withPayload) {
            verdicts.beginAttribute(ATTR_PAYLOAD).bytes(received, packet.offset, packet.length).endAttribute();
        }
        verdicts.end();
    }

    private void flushVerdicts() {
        if (verdicts.length() == 0) {
            return;
        }
        try {
            socket.sendBatch(verdicts.buffer(), verdicts.length());
        } catch (ErrnoException e) {
            // The kernel keeps packets it got no verdict for until the queue is unbound; with
            // fail-open that cannot stall new traffic. Report and go on.
            errors.error(e);
        } finally {
            verdicts.clear();
        }
    }
}
