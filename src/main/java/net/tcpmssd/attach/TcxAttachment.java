package net.tcpmssd.attach;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import net.tcpmssd.bpf.BpfProgram;
import net.tcpmssd.bpf.ClampProgram;
import net.tcpmssd.bpf.Tcx;
import net.tcpmssd.bpf.TcxChain;
import net.tcpmssd.bpf.TcxHook;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;

/**
 * The tcx attachment (Linux 6.6 and later), made without a link (BPF_PROG_ATTACH), so that it
 * outlives the daemon (BEHAVIOUR §7; an unpinned link would end with the process).
 *
 * <p>Replacement with no gap: the new program goes in first in the chain at the revision just
 * read, then each old program of tcpmssd's is detached by its position at the revision read
 * after that ({@link Tcx#detach(int, TcxHook, TcxChain, int)}: no fd to it needed; a program
 * this daemon attached itself, as at SIGTERM, by its fd, which the kernel matches exactly).
 * For a moment both run, which is harmless: the second finds nothing left to lower. A chain that another tool changed in between (ESTALE)
 * is read again and the step retried; a program of another tool is never detached.
 *
 * <p>Which programs are tcpmssd's. The query gives ids only. With CAP_SYS_ADMIN the kernel
 * opens any program by its id (BPF_PROG_GET_FD_BY_ID, kernel/bpf/syscall.c) and its name
 * decides: the names {@link ClampProgram} gives, whether or not the record lists the id (a
 * program left by a tcpmssd before the record, or whose record was lost, is still replaced; an
 * id the record lists that now names another program is not ours). Without CAP_SYS_ADMIN, as a
 * daemon of only CAP_BPF and CAP_NET_ADMIN runs, the kernel is not asked at all (a security
 * module such as SELinux logs each refused capable() check as a denial): the interface's
 * {@link TcxRecord} decides, an id being ours if it lists it and the query still shows it at
 * the hook. Our own program's id comes from its fd (BPF_OBJ_GET_INFO_BY_FD, allowed on an fd
 * we hold).
 */
public final class TcxAttachment implements Attachment {

    /** errno ESTALE: the chain's revision moved on between our query and our change. */
    private static final int ESTALE = 116;
    /** errno ENOENT: a program listed a moment ago is gone (detached and freed meanwhile). */
    private static final int ENOENT = 2;
    /** Tries of a step that another tool keeps racing; each is a query and a change, microseconds. */
    private static final int TRIES = 8;

    /** Whether the kernel lets this process open other programs by id, and so read their names. */
    private final boolean namesReadable = hasSysAdmin();
    /** The programs this daemon attached, by id: detached by their fd, which the kernel matches exactly. */
    private final Map<Integer, BpfProgram> attachedHere = new ConcurrentHashMap<>();

    @Override
    public void attach(BpfProgram program, int ifindex, Hook hook, TcxRecord record) throws ErrnoException {
        TcxHook tcx = tcx(hook);
        int newId = program.id();
        // Recorded before the attach: a SIGKILL after it leaves the new program known as ours.
        Set<Integer> recorded = new TreeSet<>(ours(Tcx.query(ifindex, tcx), record.ids(hook), 0));
        recorded.add(newId);
        record.write(hook, recorded);
        for (int attempt = 1; ; attempt++) {
            try {
                Tcx.attach(program, ifindex, tcx, Tcx.query(ifindex, tcx).revision());
                break;
            } catch (ErrnoException e) {
                if (e.errno() != ESTALE || attempt == TRIES) {
                    throw e;
                }
            }
        }
        attachedHere.put(newId, program);
        detachOurs(ifindex, hook, record, newId);
        record.write(hook, Set.of(newId));
    }

    @Override
    public void detach(int ifindex, Hook hook, TcxRecord record) throws ErrnoException {
        detachOurs(ifindex, hook, record, 0);
        record.write(hook, Set.of());
    }

    @Override
    public List<Integer> ours(int ifindex, Hook hook, TcxRecord record) throws ErrnoException {
        return ours(Tcx.query(ifindex, tcx(hook)), record.ids(hook), 0);
    }

    /** Detaches every program of ours at the hook but {@code keepId} (0: none kept). */
    private void detachOurs(int ifindex, Hook hook, TcxRecord record, int keepId) throws ErrnoException {
        TcxHook tcx = tcx(hook);
        for (int attempt = 1; ; attempt++) {
            TcxChain chain = Tcx.query(ifindex, tcx);
            List<Integer> old = ours(chain, record.ids(hook), keepId);
            if (old.isEmpty()) {
                return;
            }
            try {
                BpfProgram own = attachedHere.get(old.getFirst());
                if (own != null) {
                    Tcx.detach(ifindex, tcx, own, chain.revision());
                } else {
                    Tcx.detach(ifindex, tcx, chain, old.getFirst()); // a program an earlier daemon left
                }
                attempt = 0; // one done: the next starts afresh
            } catch (ErrnoException e) {
                // ENOENT: the chain emptied since the query (the hook has no tcx entry left).
                boolean raced = e.errno() == ESTALE || e.errno() == ENOENT;
                if (!raced || attempt == TRIES) {
                    throw e;
                }
            }
        }
    }

    private List<Integer> ours(TcxChain chain, Set<Integer> recorded, int exceptId) throws ErrnoException {
        List<Integer> ours = new ArrayList<>();
        for (int id : chain.programIds()) {
            if (id != exceptId && isOurs(id, recorded)) {
                ours.add(id);
            }
        }
        return ours;
    }

    private boolean isOurs(int id, Set<Integer> recorded) throws ErrnoException {
        if (namesReadable) {
            try (BpfProgram program = BpfProgram.byId(id)) {
                return ClampProgram.isOurs(program.name());
            } catch (ErrnoException e) {
                if (e.errno() == ENOENT) {
                    return false; // detached and freed since the query: not there any more
                }
                if (e.errno() != Libc.EPERM) {
                    throw e;
                }
                // refused all the same (a security module): the record decides
            }
        }
        return recorded.contains(id);
    }

    private static boolean hasSysAdmin() {
        try {
            return (Libc.effectiveCapabilities() >>> Libc.CAP_SYS_ADMIN & 1) != 0;
        } catch (ErrnoException e) {
            return false;
        }
    }

    private static TcxHook tcx(Hook hook) {
        return hook == Hook.EGRESS ? TcxHook.EGRESS : TcxHook.INGRESS;
    }
}
