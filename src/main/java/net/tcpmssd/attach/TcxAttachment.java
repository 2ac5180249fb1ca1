package net.tcpmssd.attach;

import java.util.ArrayList;
import java.util.List;
import net.tcpmssd.bpf.BpfProgram;
import net.tcpmssd.bpf.ClampProgram;
import net.tcpmssd.bpf.Tcx;
import net.tcpmssd.bpf.TcxChain;
import net.tcpmssd.bpf.TcxHook;
import net.tcpmssd.os.ErrnoException;

/**
 * The tcx attachment (Linux 6.6 and later), made without a link (BPF_PROG_ATTACH), so that it
 * outlives the daemon (BEHAVIOUR §7; an unpinned link would end with the process).
 *
 * <p>Replacement with no gap: the new program goes in first in the chain at the revision just
 * read, then each old program of tcpmssd's is detached by id at the revision read after that.
 * For a moment both run, which is harmless: the second finds nothing left to lower. A chain that
 * another tool changed in between (ESTALE) is read again and the step retried; a program of
 * another tool is never detached. Ours are told by the kernel's program name, the one
 * {@link ClampProgram} gives.
 */
public final class TcxAttachment implements Attachment {

    /** errno ESTALE: the chain's revision moved on between our query and our change. */
    private static final int ESTALE = 116;
    /** errno ENOENT: a program listed a moment ago is gone (detached and freed meanwhile). */
    private static final int ENOENT = 2;
    /** Tries of a step that another tool keeps racing; each is a query and a change, microseconds. */
    private static final int TRIES = 8;

    @Override
    public void attach(BpfProgram program, int ifindex, Hook hook) throws ErrnoException {
        TcxHook tcx = tcx(hook);
        int newId = program.id();
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
        detachOurs(ifindex, tcx, newId);
    }

    @Override
    public void detach(int ifindex, Hook hook) throws ErrnoException {
        detachOurs(ifindex, tcx(hook), 0);
    }

    @Override
    public List<Integer> ours(int ifindex, Hook hook) throws ErrnoException {
        return ours(Tcx.query(ifindex, tcx(hook)), 0);
    }

    /** Detaches every program of ours at the hook but {@code keepId} (0: none kept). */
    private static void detachOurs(int ifindex, TcxHook hook, int keepId) throws ErrnoException {
        for (int attempt = 1; ; attempt++) {
            TcxChain chain = Tcx.query(ifindex, hook);
            List<Integer> old = ours(chain, keepId);
            if (old.isEmpty()) {
                return;
            }
            try {
                Tcx.detach(ifindex, hook, old.getFirst(), chain.revision());
                attempt = 0; // one done: the next starts afresh
            } catch (ErrnoException e) {
                boolean raced = e.errno() == ESTALE || e.errno() == ENOENT;
                if (!raced || attempt == TRIES) {
                    throw e;
                }
            }
        }
    }

    private static List<Integer> ours(TcxChain chain, int exceptId) throws ErrnoException {
        List<Integer> ours = new ArrayList<>();
        for (int id : chain.programIds()) {
            if (id == exceptId) {
                continue;
            }
            try (BpfProgram program = BpfProgram.byId(id)) {
                if (ClampProgram.isOurs(program.name())) {
                    ours.add(id);
                }
            } catch (ErrnoException e) {
                if (e.errno() != ENOENT) {
                    throw e;
                }
                // detached and freed since the query: not there any more
            }
        }
        return ours;
    }

    private static TcxHook tcx(Hook hook) {
        return hook == Hook.EGRESS ? TcxHook.EGRESS : TcxHook.INGRESS;
    }
}
