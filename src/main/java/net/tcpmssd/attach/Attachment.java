package net.tcpmssd.attach;

import java.util.List;
import net.tcpmssd.bpf.BpfProgram;
import net.tcpmssd.os.ErrnoException;

/**
 * One way of running a program at an interface's hook, in the calling thread's network namespace:
 * tcx (Linux 6.6 and later) or a clsact qdisc with a direct-action cls_bpf filter (Linux 4.5 and
 * later). Either way the attachment outlives the daemon (BEHAVIOUR §7: clamping goes on while no
 * daemon runs), so it is taken away only by {@link #detach}. Neither needs CAP_SYS_ADMIN: what is
 * tcpmssd's is told without opening another program by its id ({@link TcxRecord}).
 */
public interface Attachment {

    /**
     * Puts {@code program} at the hook. A program of tcpmssd's already there (a daemon that
     * stopped and left it, or one being replaced) is replaced with no moment in which neither
     * runs; a program of another tool is never touched. {@code record} is the interface's.
     */
    void attach(BpfProgram program, int ifindex, Hook hook, TcxRecord record) throws ErrnoException;

    /** Takes tcpmssd's programs away from the hook, if any are there; another tool's stay. */
    void detach(int ifindex, Hook hook, TcxRecord record) throws ErrnoException;

    /** The ids of tcpmssd's programs at the hook (for the tests, and to tell what is attached). */
    List<Integer> ours(int ifindex, Hook hook, TcxRecord record) throws ErrnoException;

    /** As {@link #attach(BpfProgram, int, Hook, TcxRecord)} with no record (the tests, as root). */
    default void attach(BpfProgram program, int ifindex, Hook hook) throws ErrnoException {
        attach(program, ifindex, hook, TcxRecord.NONE);
    }

    /** As {@link #detach(int, Hook, TcxRecord)} with no record: what names tell (CAP_SYS_ADMIN). */
    default void detach(int ifindex, Hook hook) throws ErrnoException {
        detach(ifindex, hook, TcxRecord.NONE);
    }

    /** As {@link #ours(int, Hook, TcxRecord)} with no record: what names tell (CAP_SYS_ADMIN). */
    default List<Integer> ours(int ifindex, Hook hook) throws ErrnoException {
        return ours(ifindex, hook, TcxRecord.NONE);
    }
}
