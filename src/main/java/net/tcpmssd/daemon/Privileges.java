package net.tcpmssd.daemon;

import net.tcpmssd.cli.Options;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;

/**
 * Least privilege: right after the options are read, the daemon gives up every capability its
 * data path does not use, so that a packaged unit can grant both paths' (CAP_BPF, CAP_NET_ADMIN)
 * and each daemon keeps only its own.
 *
 * <ul>
 *   <li><b>What each path needs.</b> The queue (-p): CAP_NET_ADMIN, to bind and configure the
 *       queue (nfqnl_recv_config) and for SO_RCVBUFFORCE. --attach: CAP_BPF for maps and
 *       programs, CAP_NET_ADMIN for the tc attachments. Ours at a tcx hook are told from
 *       another tool's by the ids recorded per interface (TcxRecord), which needs nothing more;
 *       CAP_SYS_ADMIN is kept where it is held, because with it the programs can be opened by
 *       id (BPF_PROG_GET_FD_BY_ID) and their names confirm the record, or find ours where the
 *       record was lost (BEHAVIOUR §7). Not CAP_PERFMON: the program uses no packet pointers
 *       (ClampProgram). Both: CAP_NET_BIND_SERVICE only for
 *       a --metrics port below 1024. Nothing else the daemon does after this needs one: the
 *       interfaces and routes are read over rtnetlink, which asks for none; syslog, the journal
 *       and sd_notify are sockets anyone may write. Everything is kept as uid 0 too: a root
 *       daemon then writes its pidfile and its locks under /run as their owner, which needs no
 *       CAP_DAC_OVERRIDE. This is hardening, not confinement: uid 0 without capabilities still
 *       owns (and may write) root's files, and the JVM's threads started before main keep their
 *       sets (below). Confinement is an unprivileged user holding the two capabilities, as the
 *       packaged unit runs it (DynamicUser=, AmbientCapabilities=).
 *   <li><b>Only drop.</b> Each set becomes what it held and the path needs; a capability that
 *       was never there is not asked for, so a start never fails here (a missing one is told
 *       later by the call that needs it, as before). The bounding set is cut too where
 *       CAP_SETPCAP allows it (root outside a unit that already bounds it), so that a process
 *       started afterwards, such as the detached daemon (Detach), cannot gain back as uid 0 what
 *       was given up: execve gives root its bounding set.
 *   <li><b>The ambient set</b> needs no call: capset(2) takes out of it whatever is no longer both
 *       permitted and inheritable (security/commoncap.c, cap_capset). The capabilities kept stay
 *       ambient if they were, so that the detached daemon of an unprivileged user started with
 *       ambient CAP_NET_ADMIN still holds it after its execve; PR_CAP_AMBIENT_CLEAR_ALL would
 *       take that away and its bind would fail.
 *   <li><b>Per thread.</b> Linux keeps capabilities per thread, and capset changes the caller's
 *       alone. This runs on the thread that then starts every thread of the daemon, which
 *       inherit the smaller sets. The JVM's own threads started before main (the launcher's
 *       first thread, which /proc/PID/status shows, the compiler and GC threads) keep theirs;
 *       they run no code of ours. The detached daemon, a new process started after the drop,
 *       has the smaller sets in every thread.
 * </ul>
 */
public final class Privileges {

    private Privileges() {}

    /** The capabilities the daemon with these options uses, bit N for capability N. */
    static long needed(Options options) {
        long needed = bit(Libc.CAP_NET_ADMIN);
        if (options.attach() != null) {
            // CAP_SYS_ADMIN only where held: it lets the programs' names confirm the record of
            // ours (BPF_PROG_GET_FD_BY_ID needs it, kernel/bpf/syscall.c); nothing needs it.
            needed |= bit(Libc.CAP_BPF) | bit(Libc.CAP_SYS_ADMIN);
        }
        if (options.metrics() != null && options.metrics().port() < 1024) {
            needed |= bit(Libc.CAP_NET_BIND_SERVICE); // ports below ip_unprivileged_port_start, 1024 by default
        }
        return needed;
    }

    /** Gives up every capability the daemon with these options does not use. */
    public static void dropUnneeded(Options options) throws ErrnoException {
        keepOnly(needed(options));
    }

    /**
     * Gives up every capability but {@code keep}, in the bounding set where allowed and in the
     * calling thread's effective, permitted and inheritable (and so ambient) sets.
     */
    static void keepOnly(long keep) throws ErrnoException {
        Libc.CapabilitySets held = Libc.capabilities();
        if ((held.effective() & bit(Libc.CAP_SETPCAP)) != 0) {
            long surplus = Libc.boundingSet() & ~keep;
            for (int cap = 0; cap < Long.SIZE; cap++) {
                if ((surplus & bit(cap)) != 0) {
                    Libc.dropFromBoundingSet(cap);
                }
            }
        }
        Libc.setCapabilities(new Libc.CapabilitySets(held.effective() & keep, held.permitted() & keep, held.inheritable() & keep));
    }

    private static long bit(int cap) {
        return 1L << cap;
    }
}
