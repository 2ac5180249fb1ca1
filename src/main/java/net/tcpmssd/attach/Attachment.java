package net.tcpmssd.attach;

import java.util.List;
import net.tcpmssd.bpf.BpfProgram;
import net.tcpmssd.os.ErrnoException;

/**
 * One way of running a program at an interface's hook, in the calling thread's network namespace:
 * tcx (Linux 6.6 and later) or a clsact qdisc with a direct-action cls_bpf filter (Linux 4.5 and
 * later). Either way the attachment outlives the daemon (BEHAVIOUR §7: clamping goes on while no
 * daemon runs), so it is taken away only by {@link #detach}.
 */
public interface Attachment {

    /**
     * Puts {@code program} at the hook. A program of tcpmssd's already there (a daemon that
     * stopped and left it, or one being replaced) is replaced with no moment in which neither
     * runs; a program of another tool is never touched.
     */
    void attach(BpfProgram program, int ifindex, Hook hook) throws ErrnoException;

    /** Takes tcpmssd's program away from the hook, if one is there; another tool's stays. */
    void detach(int ifindex, Hook hook) throws ErrnoException;

    /** The ids of tcpmssd's programs at the hook (for the tests, and to tell what is attached). */
    List<Integer> ours(int ifindex, Hook hook) throws ErrnoException;
}
