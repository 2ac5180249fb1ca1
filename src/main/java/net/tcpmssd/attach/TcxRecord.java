package net.tcpmssd.attach;

import java.util.Set;

/**
 * The ids of the tcx programs tcpmssd attached at one interface, hook by hook, kept where the
 * next daemon on that interface finds them (BEHAVIOUR §7). A program's id is all that
 * BPF_PROG_QUERY gives; its name needs an fd from BPF_PROG_GET_FD_BY_ID, which the kernel allows
 * only with CAP_SYS_ADMIN. So a daemon of only CAP_BPF and CAP_NET_ADMIN tells a program that an
 * earlier daemon left (SIGUSR2, SIGKILL) from another tool's by this record.
 *
 * <p>An id counts only while the kernel still lists it at that hook: ids are not reused until
 * the kernel's id space (2^31) wraps, so a stale entry (the interface re-created, a file left by
 * a dead daemon) names nothing there. Written before an attach (the new id with the old ones)
 * and after it (the new id alone), so that a SIGKILL at any moment leaves every program of ours
 * at the hook recorded.
 */
public interface TcxRecord {

    /** The ids recorded at the hook; empty when there are none, or no record to trust. */
    Set<Integer> ids(Hook hook);

    /**
     * Records {@code ids} as the hook's, in place of what was there; with nothing at either hook
     * the record goes. A failure is the record's to report: clamping does not depend on it.
     */
    void write(Hook hook, Set<Integer> ids);

    /** No record: only the programs' names tell what is tcpmssd's, where they can be read. */
    TcxRecord NONE = new TcxRecord() {
        @Override
        public Set<Integer> ids(Hook hook) {
            return Set.of();
        }

        @Override
        public void write(Hook hook, Set<Integer> ids) {}
    };
}
