package net.tcpmssd.bpf;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import net.tcpmssd.os.ErrnoException;

/**
 * Attaching SCHED_CLS programs with tcx (Linux 6.6 and later; kernel/bpf/tcx.c, bpf_mprog.c), in
 * the network namespace of the calling thread, where the ifindex is looked up.
 *
 * <p>Two ways to attach, with different lifetimes (BEHAVIOUR §7): a link ({@link #link}) ends with its
 * fd; a plain attachment ({@link #attach}) stays until detached, also after the process ends.
 * Programs are put first in the chain (BPF_F_BEFORE with no relative program), so that nothing
 * before them can end the chain on a SYN unclamped; the clamping program hands every packet on.
 * A plain attachment is detached by its place in the chain ({@link #detach}), with no fd to the
 * program, so that nothing here needs CAP_SYS_ADMIN.
 */
public final class Tcx {

    // bpf.h: the flags of attach, detach and link create that position a program in a chain.
    private static final int BPF_F_BEFORE = 1 << 3;
    private static final int BPF_F_AFTER = 1 << 4;
    /** The relative program is given by its id, not by an fd. */
    private static final int BPF_F_ID = 1 << 5;

    private static final int QUERY_CAPACITY = 64;

    private Tcx() {}

    /** Attaches as a link at the front of the chain; closing the link detaches. */
    public static TcxLink link(BpfProgram program, int ifindex, TcxHook hook, long expectedRevision) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            // link_create: prog_fd, target_ifindex, attach_type, flags, then tcx's relative
            // fd/id (0: none) and expected_revision (0: any).
            MemorySegment attr = arena.allocate(BpfCommand.LINK_CREATE.attrSize, 8);
            attr.set(JAVA_INT, 0, program.fd());
            attr.set(JAVA_INT, 4, ifindex);
            attr.set(JAVA_INT, 8, hook.attachType);
            attr.set(JAVA_INT, 12, BPF_F_BEFORE);
            attr.set(JAVA_LONG, 24, expectedRevision);
            return new TcxLink(new OwnedFd(BpfCommand.LINK_CREATE.run(attr)));
        }
    }

    /**
     * Attaches without a link, at the front of the chain: the attachment outlives this process
     * (and the program's fd) until {@link #detach}. {@code expectedRevision} 0 accepts any.
     */
    public static void attach(BpfProgram program, int ifindex, TcxHook hook, long expectedRevision) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            BpfCommand.PROG_ATTACH.run(attachAttr(arena, program.fd(), ifindex, hook, BPF_F_BEFORE, expectedRevision));
        }
    }

    /**
     * Detaches the program {@code programId} from the hook, where {@code chain} (a query's answer)
     * says it is, if the chain is still at that revision: never another tool's program, and no
     * fd to the program is needed. Opening one by its id (BPF_PROG_GET_FD_BY_ID) needs
     * CAP_SYS_ADMIN, which a daemon of CAP_BPF and CAP_NET_ADMIN has not (BEHAVIOUR §7).
     *
     * <p>How the kernel reads it (kernel/bpf/mprog.c, bpf_mprog_detach()): with no program fd
     * (attach_bpf_fd 0) the program detached is the one at a position, named relative to a
     * neighbour: BPF_F_AFTER with BPF_F_ID and the id of the program before it, or for the
     * first of the chain BPF_F_BEFORE with no neighbour. The revision is compared under the
     * RTNL lock before the position is taken, so the chain the position is counted in is the
     * one {@code chain} shows; a chain changed since fails with ESTALE, a neighbour freed since
     * with ENOENT, and a program attached by a link refuses (EBUSY). The first of a longer chain
     * is named as the one before the second (BPF_F_BEFORE with BPF_F_ID), so that a neighbour's
     * identity is checked as well as the revision. Only a chain of one program is named by the
     * revision alone, and there a window is left: a chain that another tool empties (the kernel
     * then frees its entry, tcx_entry_free) and fills again starts its revisions afresh, so
     * between our query and our detach it could reach the same revision with another program
     * first. The daemon's own programs are detached by fd instead ({@link #detach(int, TcxHook,
     * BpfProgram, long)}), which the kernel matches exactly.
     *
     * @throws IllegalArgumentException if the chain does not list the id, or has no revision
     */
    public static void detach(int ifindex, TcxHook hook, TcxChain chain, int programId) throws ErrnoException {
        List<Integer> ids = chain.programIds();
        int position = ids.indexOf(programId);
        if (position < 0 || chain.revision() == 0) { // revision 0 would mean "any chain" to the kernel
            throw new IllegalArgumentException("program " + programId + " is not in the chain " + chain);
        }
        try (Arena arena = Arena.ofConfined()) {
            int flags = position > 0 ? BPF_F_AFTER | BPF_F_ID : ids.size() > 1 ? BPF_F_BEFORE | BPF_F_ID : BPF_F_BEFORE;
            MemorySegment attr = attachAttr(arena, 0, ifindex, hook, flags, chain.revision());
            if (position > 0) {
                attr.set(JAVA_INT, 20, ids.get(position - 1)); // relative_id: the one before it
            } else if (ids.size() > 1) {
                attr.set(JAVA_INT, 20, ids.get(1));            // the one after it
            }
            BpfCommand.PROG_DETACH.run(attr);
        }
    }

    /**
     * Detaches {@code program}, whose fd we hold, from the hook if the chain is still at
     * {@code expectedRevision} (0: any): the kernel finds exactly this program
     * (bpf_mprog_pos_exact), whatever else the chain holds.
     */
    public static void detach(int ifindex, TcxHook hook, BpfProgram program, long expectedRevision) throws ErrnoException {
        if (program.fd() <= 0) { // fd 0 would read as "no program": the chain's last, whoever's
            throw new IllegalArgumentException("no fd of a program to detach: " + program.fd());
        }
        try (Arena arena = Arena.ofConfined()) {
            BpfCommand.PROG_DETACH.run(attachAttr(arena, program.fd(), ifindex, hook, 0, expectedRevision));
        }
    }

    /** The programs at the hook and the chain's revision. */
    public static TcxChain query(int ifindex, TcxHook hook) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            // query: target_ifindex, attach_type, query_flags, attach_flags, prog_ids, count,
            // (pad), prog_attach_flags, link_ids, link_attach_flags, revision.
            MemorySegment attr = arena.allocate(BpfCommand.PROG_QUERY.attrSize, 8);
            MemorySegment ids = arena.allocate(JAVA_INT, QUERY_CAPACITY);
            attr.set(JAVA_INT, 0, ifindex);
            attr.set(JAVA_INT, 4, hook.attachType);
            attr.set(JAVA_LONG, 16, ids.address());
            attr.set(JAVA_INT, 24, QUERY_CAPACITY);
            BpfCommand.PROG_QUERY.run(attr);
            List<Integer> programIds = new ArrayList<>();
            for (int i = 0; i < attr.get(JAVA_INT, 24); i++) {
                programIds.add(ids.getAtIndex(JAVA_INT, i));
            }
            return new TcxChain(attr.get(JAVA_LONG, 56), List.copyOf(programIds));
        }
    }

    // prog_attach/detach: target_ifindex, attach_bpf_fd, attach_type, attach_flags,
    // replace_bpf_fd, relative fd/id, expected_revision.
    private static MemorySegment attachAttr(Arena arena, int programFd, int ifindex, TcxHook hook, int flags, long expectedRevision) {
        MemorySegment attr = arena.allocate(BpfCommand.PROG_ATTACH.attrSize, 8);
        attr.set(JAVA_INT, 0, ifindex);
        attr.set(JAVA_INT, 4, programFd);
        attr.set(JAVA_INT, 8, hook.attachType);
        attr.set(JAVA_INT, 12, flags);
        attr.set(JAVA_LONG, 24, expectedRevision);
        return attr;
    }
}
