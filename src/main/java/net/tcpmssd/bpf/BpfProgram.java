package net.tcpmssd.bpf;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import net.tcpmssd.os.ErrnoException;

/** A BPF program loaded into the kernel (BPF_PROG_LOAD), held by its fd. */
public final class BpfProgram implements AutoCloseable {

    /** BPF_PROG_TYPE_SCHED_CLS: a tc classifier, run by tcx or a cls_bpf filter with an skb as context. */
    public static final int SCHED_CLS = 3;

    /**
     * Verifier log buffer for a refused program: log level 1 writes every instruction of the
     * refused path with its register states; since Linux 6.4 the log is rotated, so a buffer that
     * is too small keeps the end, where the reason is.
     */
    private static final int LOG_SIZE = 4 << 20;

    private final OwnedFd fd;
    private final String name;

    private BpfProgram(OwnedFd fd, String name) {
        this.fd = fd;
        this.name = name;
    }

    /**
     * Loads {@code code} (as {@link Asm#assemble()} makes it). It is first loaded without a log,
     * which verifies fastest; only when the kernel refuses is it loaded again with a log, to say
     * why.
     *
     * @param license the license string; helpers marked gpl_only need a GPL-compatible one
     * @throws VerifierException if the kernel refuses the program (EACCES: the verifier; EINVAL:
     *     a malformed instruction, also explained in the log)
     * @throws ErrnoException for other failures, e.g. EPERM without CAP_BPF (or CAP_SYS_ADMIN)
     */
    public static BpfProgram load(int type, byte[] code, String license, String name) throws ErrnoException, VerifierException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment attr = loadAttr(arena, type, code, license);
            BpfMap.putName(attr, 48, name); // prog_name, after kern_version and prog_flags
            try {
                return new BpfProgram(new OwnedFd(BpfCommand.PROG_LOAD.run(attr)), name);
            } catch (ErrnoException refused) {
                if (refused.errno() == EPERM) {
                    throw refused; // no privilege: a log would not say more
                }
                MemorySegment log = withLog(attr, arena, BPF_LOG_LEVEL1, LOG_SIZE);
                try {
                    return new BpfProgram(new OwnedFd(BpfCommand.PROG_LOAD.run(attr)), name); // accepted the second time: take it
                } catch (ErrnoException again) {
                    throw new VerifierException(name, again.errno(), log.getString(0));
                }
            }
        }
    }

    private static final int EPERM = 1;
    // bpf.h's log levels: 1 every instruction walked, 4 (BPF_LOG_STATS) only the statistics.
    private static final int BPF_LOG_LEVEL1 = 1;
    private static final int BPF_LOG_STATS = 4;

    /**
     * What the verifier says of an accepted program at BPF_LOG_STATS: "processed N insns (limit
     * 1000000) max_states_per_insn ..." and its time. For tests and benchmarks.
     */
    static String verifierStatistics(int type, byte[] code, String license) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment attr = loadAttr(arena, type, code, license);
            MemorySegment log = withLog(attr, arena, BPF_LOG_STATS, 4096);
            new OwnedFd(BpfCommand.PROG_LOAD.run(attr)).close();
            return log.getString(0).strip();
        }
    }

    // prog_load: prog_type, insn_cnt, insns, license, log_level, log_size, log_buf, ...
    private static MemorySegment loadAttr(Arena arena, int type, byte[] code, String license) {
        MemorySegment attr = arena.allocate(BpfCommand.PROG_LOAD.attrSize, 8);
        MemorySegment insns = arena.allocate(code.length, 8);
        MemorySegment.copy(MemorySegment.ofArray(code), 0, insns, 0, code.length);
        attr.set(JAVA_INT, 0, type);
        attr.set(JAVA_INT, 4, code.length / 8);
        attr.set(JAVA_LONG, 8, insns.address());
        attr.set(JAVA_LONG, 16, arena.allocateFrom(license).address());
        return attr;
    }

    private static MemorySegment withLog(MemorySegment attr, Arena arena, int level, int size) {
        MemorySegment log = arena.allocate(size);
        attr.set(JAVA_INT, 24, level);
        attr.set(JAVA_INT, 28, size);
        attr.set(JAVA_LONG, 32, log.address());
        return log;
    }

    /**
     * A program already in the kernel, by its id (BPF_PROG_GET_FD_BY_ID): a new fd to it, named by
     * its info. The kernel allows this only with CAP_SYS_ADMIN (EPERM otherwise), so the daemon
     * uses it only where it has that (TcxAttachment), and the tests as root.
     */
    public static BpfProgram byId(int id) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment attr = arena.allocate(BpfCommand.PROG_GET_FD_BY_ID.attrSize, 8);
            attr.set(JAVA_INT, 0, id);
            OwnedFd fd = new OwnedFd(BpfCommand.PROG_GET_FD_BY_ID.run(attr));
            try {
                return new BpfProgram(fd, info(fd.get(), arena).getString(INFO_NAME));
            } catch (ErrnoException e) {
                fd.close();
                throw e;
            }
        }
    }

    /** The kernel's id of this program (what BPF_PROG_QUERY lists). */
    public int id() throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            return info(fd(), arena).get(JAVA_INT, INFO_ID);
        }
    }

    /** The size of the JIT's machine code for it in bytes, 0 if it is interpreted: what it costs the instruction cache at most. */
    public int jitedLength() throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            return info(fd(), arena).get(JAVA_INT, INFO_JITED_LENGTH);
        }
    }

    // struct bpf_prog_info: type, id, tag[8], jited_prog_len, xlated_prog_len, jited_prog_insns,
    // xlated_prog_insns, load_time, created_by_uid, nr_map_ids, map_ids, name[16], ... The
    // kernel fills only as much as info_len asks for.
    private static final int INFO_ID = 4;
    private static final int INFO_JITED_LENGTH = 16;
    private static final int INFO_NAME = 64;
    private static final int INFO_SIZE = 80;

    private static MemorySegment info(int fd, Arena arena) throws ErrnoException {
        MemorySegment info = arena.allocate(INFO_SIZE, 8);
        MemorySegment attr = arena.allocate(BpfCommand.OBJ_GET_INFO_BY_FD.attrSize, 8);
        attr.set(JAVA_INT, 0, fd);
        attr.set(JAVA_INT, 4, INFO_SIZE);
        attr.set(JAVA_LONG, 8, info.address());
        BpfCommand.OBJ_GET_INFO_BY_FD.run(attr);
        return info;
    }

    /** struct __sk_buff up to ingress_ifindex; the kernel reads the rest as zero. */
    private static final int SKB_CONTEXT_SIZE = 40;
    private static final int SKB_INGRESS_IFINDEX = 36;

    public int fd() {
        return fd.get();
    }

    public String name() {
        return name;
    }

    /**
     * Runs the program on {@code packet} (BPF_PROG_TEST_RUN). For SCHED_CLS the kernel builds an
     * skb of it as if it had arrived on the loopback device: the data must start with an
     * Ethernet header, whose type becomes skb->protocol (eth_type_trans), and checksums are
     * CHECKSUM_NONE. The packet may grow by at most {@code room} bytes.
     */
    public TestRun testRun(byte[] packet, int room, int repeat) throws ErrnoException {
        return testRun(packet, room, repeat, 0);
    }

    /**
     * As above, with the skb's skb_iif (what the program reads as __sk_buff.ingress_ifindex)
     * set to {@code ingressIfindex}: the kernel takes it from the context passed in (ctx_in,
     * a struct __sk_buff of which only some fields may be set); skb->dev stays the loopback.
     */
    public TestRun testRun(byte[] packet, int room, int repeat, int ingressIfindex) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment attr = arena.allocate(BpfCommand.PROG_TEST_RUN.attrSize, 8);
            MemorySegment in = arena.allocate(Math.max(1, packet.length));
            MemorySegment.copy(MemorySegment.ofArray(packet), 0, in, 0, packet.length);
            MemorySegment out = arena.allocate(packet.length + room);
            attr.set(JAVA_INT, 0, fd());
            attr.set(JAVA_INT, 8, packet.length);
            attr.set(JAVA_INT, 12, (int) out.byteSize());
            attr.set(JAVA_LONG, 16, in.address());
            attr.set(JAVA_LONG, 24, out.address());
            attr.set(JAVA_INT, 32, repeat);
            if (ingressIfindex != 0) {
                MemorySegment context = arena.allocate(SKB_CONTEXT_SIZE, 8);
                context.set(JAVA_INT, SKB_INGRESS_IFINDEX, ingressIfindex);
                attr.set(JAVA_INT, 40, SKB_CONTEXT_SIZE); // ctx_size_in
                attr.set(JAVA_LONG, 48, context.address()); // ctx_in
            }
            BpfCommand.PROG_TEST_RUN.run(attr);
            int length = attr.get(JAVA_INT, 12);
            return new TestRun(attr.get(JAVA_INT, 4), out.asSlice(0, length).toArray(JAVA_BYTE), attr.get(JAVA_INT, 36) & 0xffffffffL);
        }
    }

    @Override
    public void close() {
        fd.close();
    }
}
