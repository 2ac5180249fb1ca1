package net.tcpmssd.queue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;
import net.tcpmssd.netlink.Attributes;
import net.tcpmssd.netlink.DatagramBatch;
import net.tcpmssd.netlink.Messages;
import net.tcpmssd.netlink.Netlink;
import net.tcpmssd.netlink.NetlinkChannel;
import net.tcpmssd.netlink.NetlinkSocket;
import net.tcpmssd.netlink.Requests;

/**
 * One NFQUEUE queue, spoken over nfnetlink (linux/netfilter/nfnetlink_queue.h).
 *
 * <p>The kernel sends each queued packet as an NFQNL_MSG_PACKET message with its id, the hook and
 * the whole packet; it holds the packet until it gets an NFQNL_MSG_VERDICT for that id. This class
 * guarantees the rule of BEHAVIOUR §2: every packet received gets exactly one NF_ACCEPT verdict, with
 * the new payload when the handler changed it. Verdicts of one batch go out in one send.
 */
public final class NfQueue implements AutoCloseable {

    /** What is done with each packet. */
    public interface Handler {
        /** Looks at (and may change in place) one packet; returns true if it changed it. */
        boolean handle(QueuedPacket packet);

        /**
         * {@link #handle} threw for this packet: it has been answered unchanged, and the queue
         * goes on with the next (BEHAVIOUR §8). Errors ({@link Error}) are not contained: they end
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
    /** NFQA_CFG_F_FAIL_OPEN: when the queue or our socket is full, accept instead of drop (BEHAVIOUR §2). */
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
    /** One datagram's room: for the replies to configuration requests and for the drain at the end. */
    private final MemorySegment single = arena.allocate(LARGEST_MESSAGE, 8);
    private final Netlink.Writer verdicts = new Netlink.Writer(arena.allocate(SEND_BUFFER, 8));
    private final Requests control;
    /** Packets that come while a configuration request waits for its answer are answered too. */
    private final Requests.Others packetsMeanwhile = message -> message(message, single.byteSize());
    private final Messages messages = new Messages();
    private final Attributes attributes = new Attributes();
    private final QueuedPacket packet = new QueuedPacket();
    /** Datagrams and messages that were not what the kernel sends (see {@link #malformed}). */
    private long malformed;
    private long lastMalformedReport;
    private boolean malformedReported;

    private NfQueue(int number, NetlinkSocket socket, Handler handler, ErrorListener errors) {
        this.number = number;
        this.socket = socket;
        this.handler = handler;
        this.errors = errors;
        this.control = new Requests(socket, arena.allocate(4096, 8), single);
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
            queue.configure("bind queue " + number);
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
     * Datagrams and messages that were not what the kernel sends: from another port than the
     * kernel's, cut short, or a packet message without a usable id or payload. Read by the queue's
     * thread (or after it stopped).
     */
    public long malformed() {
        return malformed;
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
            handled += dispatch(batch.data, batch.sender(i), batch.offset(i), batch.length(i), batch.offset(i) + batch.slotSize);
        }
        batch.forgetSenders(datagrams);
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
        while ((used = socket.receive(single, 0, true)) > 0) {
            dispatch(single, socket.sender(), 0, used, single.byteSize());
            flushVerdicts();
        }
    }

    /** Unbinds the queue (after a {@link #drain()}) and closes the socket. */
    @Override
    public void close() {
        try {
            Netlink.Writer w = beginConfig();
            w.beginAttribute(CFG_CMD).u8(CMD_UNBIND).u8(0).be16(0).endAttribute();
            configure("unbind queue " + number);
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
        return control.begin(MSG_CONFIG, Netlink.NLM_F_ACK).u8(0).u8(0).be16(number);
    }

    /** Sends the configuration message and waits for its acknowledgement, answering packets meanwhile. */
    private void configure(String what) throws ErrnoException {
        int error;
        try {
            error = control.exchange(what, reply -> { }, packetsMeanwhile);
        } finally {
            flushVerdicts();
        }
        if (error != 0) {
            throw new ErrnoException(what, error);
        }
    }

    /**
     * Walks the netlink messages of one datagram, {@code segment[start, start + used)}, which
     * may use the buffer up to {@code limit} (for a packet that grows). Only the kernel queues
     * packets: any local process may send to our port id (netlink(7)), and a verdict for a forged
     * message would name, and could rewrite, a packet of someone else's choosing.
     */
    private int dispatch(MemorySegment segment, int sender, long start, int used, long limit) {
        if (sender != NetlinkChannel.KERNEL) {
            malformed("datagram from a port other than the kernel's, dropped");
            return 0;
        }
        int handled = 0;
        messages.over(segment, start, start + used);
        while (messages.next()) {
            handled += message(messages, limit);
        }
        if (messages.broken()) {
            malformed("message longer than its datagram, rest of the datagram skipped");
        }
        return handled;
    }

    /** Answers one message from the kernel; returns 1 if it was a packet given a verdict. */
    private int message(Messages message, long limit) {
        int type = message.type();
        if (type == MSG_PACKET) {
            // Room to grow only for the datagram's last message: nothing to overwrite behind it.
            return handlePacket(message, message.last() ? limit : message.at() + message.length());
        }
        if (type == Netlink.NLMSG_ERROR) {
            int error = message.error();
            if (error == Messages.MALFORMED) {
                malformed("error message without an errno");
            } else if (error != 0) {
                errors.error(new ErrnoException("kernel", error)); // the listener names the queue
            }
        }
        return 0;
    }

    /** What {@link #readPacket} found in a packet message. */
    static final int NO_ID = 0;
    static final int ID_ONLY = 1;
    static final int WHOLE = 2;

    /**
     * Reads an NFQNL_MSG_PACKET message into {@code packet}: its id and hook from NFQA_PACKET_HDR
     * (struct nfqnl_msg_packet_hdr: be32 id, be16 hw_protocol, u8 hook; 7 bytes), its interfaces,
     * and where its payload lies, growing up to {@code limit} if nothing follows it.
     *
     * @return {@link #WHOLE} if the handler may look at it; {@link #ID_ONLY} if it can only be
     *     accepted unchanged (no payload, or attributes that broke off); {@link #NO_ID} if no
     *     verdict can name it (no packet header of the right size)
     */
    static int readPacket(Messages message, Attributes attributes, QueuedPacket packet, long limit) {
        boolean haveId = false;
        packet.buffer = message.segment();
        packet.length = -1;
        packet.inInterface = 0;
        packet.outInterface = 0;
        message.attributes(attributes, NFGENMSG);
        while (attributes.next()) {
            switch (attributes.type()) {
                case ATTR_PACKET_HDR -> {
                    packet.id = attributes.be32(0);
                    packet.hook = attributes.u8(6);
                    haveId = !attributes.truncated();
                }
                case ATTR_IFINDEX_INDEV -> packet.inInterface = attributes.be32(0);
                case ATTR_IFINDEX_OUTDEV -> packet.outInterface = attributes.be32(0);
                case ATTR_PAYLOAD -> {
                    packet.offset = attributes.offset();
                    packet.length = attributes.length();
                }
                default -> { }
            }
        }
        if (!haveId) {
            return NO_ID;
        }
        if (packet.length < 0 || attributes.broken()) {
            packet.length = 0;
            return ID_ONLY;
        }
        long messageEnd = message.at() + message.length();
        boolean payloadLast = packet.offset + packet.length >= messageEnd - 3;
        packet.capacity = payloadLast ? (int) Math.min(limit - packet.offset, 65535) : packet.length;
        return WHOLE;
    }

    /** Gives the packet at {@code message} its one verdict; returns 1, or 0 if it has no id to answer. */
    private int handlePacket(Messages message, long limit) {
        int read = readPacket(message, attributes, packet, limit);
        if (read == NO_ID) {
            malformed("packet message without a packet header, skipped");
            return 0;
        }
        if (read == ID_ONLY) {
            malformed("packet message without a payload, accepted unchanged");
        }
        boolean changed = false;
        try {
            changed = read == WHOLE && handler.handle(packet);
        } catch (RuntimeException e) {
            // Contained to this packet. Its verdict goes without NFQA_PAYLOAD, and the kernel
            // then accepts its own copy of the packet (nfqnl_recv_verdict mangles only when that
            // attribute is present): byte for byte as it came, whatever the handler had already
            // changed in ours before it threw.
            handler.failed(packet, e);
        } finally {
            addVerdict(packet.id, changed);
        }
        return 1;
    }

    /**
     * Counts something the kernel does not send, and reports it at most once a second (a stranger
     * could send many): the report names the latest and the count so far. {@code what} is a
     * constant, so nothing is built for what is only counted.
     */
    private void malformed(String what) {
        malformed++;
        long now = System.nanoTime();
        if (!malformedReported || now - lastMalformedReport >= 1_000_000_000L) {
            malformedReported = true;
            lastMalformedReport = now;
            errors.error(new ErrnoException(what + " (" + malformed + " so far)", Libc.EBADMSG));
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
            verdicts.beginAttribute(ATTR_PAYLOAD).bytes(packet.buffer, packet.offset, packet.length).endAttribute();
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
