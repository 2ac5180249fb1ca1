package net.tcpmssd.attach;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import net.tcpmssd.bpf.BpfProgram;
import net.tcpmssd.netlink.Attributes;
import net.tcpmssd.netlink.Messages;
import net.tcpmssd.netlink.Netlink;
import net.tcpmssd.netlink.NetlinkSocket;
import net.tcpmssd.netlink.Requests;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;

/**
 * The attachment for kernels without tcx (before 6.6, Debian 12's 6.1 among them; Linux 4.5 and
 * later): a clsact qdisc and, in it, a direct-action cls_bpf filter that runs the program,
 * spoken over rtnetlink (linux/rtnetlink.h, pkt_sched.h, pkt_cls.h) as tc(8) would.
 *
 * <ul>
 *   <li>The clsact qdisc is added if missing (EEXIST when it is there is fine) and never deleted,
 *       not even by {@link #detach}: other tools' filters live in it too, and deleting the qdisc
 *       deletes them all. An {@code ingress} qdisc in its place (the same slot, ffff:) has no
 *       egress hook; attaching there is refused, naming it, rather than replacing it.
 *   <li>tcpmssd's filter has a fixed place: protocol all (ETH_P_ALL), priority {@link #PRIORITY},
 *       handle {@link #HANDLE}. Priority 1 is the first that tc(8) can name (0 asks the kernel to
 *       choose), and the filters of a hook run in priority order: a filter before ours could end
 *       the chain with a verdict (TC_ACT_OK, SHOT, REDIRECT) on a SYN not yet clamped. Several
 *       cls_bpf filters of one priority and protocol share one classifier, which runs them
 *       newest first (cls_bpf_change(): list_add_rcu() at the head of its list): one another
 *       tool adds at priority 1 after ours runs before it.
 *   <li>A filter is tcpmssd's if its TCA_BPF_NAME begins with {@code tcpmssd}: the name this
 *       class gives it is the program's own ({@code tcpmssd_eth}, {@code tcpmssd_l3}, ...). The
 *       dump carries it (and the program's id, TCA_BPF_ID) without privilege, so nothing here
 *       opens a program by its id (which needs CAP_SYS_ADMIN) and no {@link TcxRecord} is
 *       needed; a filter without a name is another tool's.
 *   <li>Replacing: a filter of tcpmssd's already at our priority and handle is changed in place
 *       by one request (NLM_F_CREATE | NLM_F_REPLACE at the same priority and handle):
 *       cls_bpf_change() swaps the program with list_replace_rcu(), so each packet meets the old
 *       program or the new one, never neither. Another tool's filter at that priority and handle
 *       is never replaced: attach fails with EEXIST, naming it. Another kind of filter (u32,
 *       flower), or a cls_bpf filter of another protocol, at priority 1: the kernel would refuse
 *       ours there (EINVAL), so attach fails naming it, before asking.
 *   <li>The program returns TC_ACT_UNSPEC (-1). For a direct-action filter cls_bpf_classify()
 *       passes it through cls_bpf_exec_opcode() and, seeing TC_ACT_UNSPEC, continues with the
 *       next program of its list; after the last, tcf_classify() goes on to the next priority's
 *       classifier; when none gives a verdict the hook passes the packet on unchanged
 *       (sch_handle_egress()/tcx's tc_run() treat an unspecified result as "go on"). So the
 *       filter never ends the chain: whatever came after it runs as if it were not there.
 * </ul>
 *
 * <p>Each call opens its own rtnetlink socket in the calling thread's network namespace, where
 * the ifindex is looked up, and closes it before returning. The filter outlives the process (a
 * cls_bpf filter holds its program), as {@link Attachment} requires.
 */
public final class ClsBpfAttachment implements Attachment {

    /** The priority ("pref") of tcpmssd's filter: 1, the first, so that nothing before it ends the chain. */
    public static final int PRIORITY = 1;
    /** The handle of tcpmssd's filter: "mss" in ASCII (0x6d7373), unlike the small numbers tc(8) picks itself. */
    public static final int HANDLE = 0x6d7373;
    /** The name prefix that marks a filter (or its program) as tcpmssd's. */
    public static final String NAME_PREFIX = "tcpmssd";

    // linux/rtnetlink.h
    private static final int RTM_NEWQDISC = 36;
    private static final int RTM_GETQDISC = 38;
    private static final int RTM_NEWTFILTER = 44;
    private static final int RTM_DELTFILTER = 45;
    private static final int RTM_GETTFILTER = 46;
    private static final int TCA_KIND = 1;
    private static final int TCA_OPTIONS = 2;
    private static final int TCA_CHAIN = 11;
    /** struct tcmsg: family, pad, pad, ifindex, handle, parent, info. */
    private static final int TCMSG = 20;
    private static final int TCM_HANDLE = 8;
    private static final int TCM_PARENT = 12;
    private static final int TCM_INFO = 16;
    // linux/netlink.h
    private static final int NLM_F_DUMP = 0x300;
    private static final int NLM_F_REPLACE = 0x100;
    private static final int NLM_F_EXCL = 0x200;
    private static final int NLM_F_CREATE = 0x400;
    // linux/pkt_sched.h: TC_H_CLSACT (= TC_H_INGRESS) is the qdisc's parent; its handle ffff:0.
    private static final int TC_H_CLSACT = 0xfffffff1;
    private static final int CLSACT_HANDLE = 0xffff0000;
    private static final int TC_H_MIN_INGRESS = 0xfff2;
    private static final int TC_H_MIN_EGRESS = 0xfff3;
    // linux/pkt_cls.h
    private static final int TCA_BPF_FD = 6;
    private static final int TCA_BPF_NAME = 7;
    private static final int TCA_BPF_FLAGS = 8;
    private static final int TCA_BPF_ID = 11;
    private static final int TCA_BPF_FLAG_ACT_DIRECT = 1;
    /** htons(ETH_P_ALL) as the u16 in tcm_info's low half (host order of a big-endian 0x0003). */
    private static final int ETH_P_ALL = Short.reverseBytes((short) 0x0003) & 0xffff;

    private static final int EEXIST = 17;
    private static final int EINVAL = 22;

    /** One filter of a hook as the kernel dumps it; handle 0 stands for a priority's classifier itself. */
    record Filter(int chain, int priority, int protocol, int handle, String kind, String name, int programId) {

        boolean ourPlace() {
            return priority == PRIORITY && handle == HANDLE;
        }
    }

    @Override
    public void attach(BpfProgram program, int ifindex, Hook hook, TcxRecord record) throws ErrnoException {
        if (!program.name().startsWith(NAME_PREFIX)) {
            throw new IllegalArgumentException("not a tcpmssd program: " + program.name());
        }
        try (Rtnetlink rtnetlink = new Rtnetlink()) {
            rtnetlink.ensureClsact(ifindex);
            boolean replace = false;
            for (Filter filter : rtnetlink.filters(ifindex, hook)) {
                if (filter.priority() != PRIORITY) {
                    continue;
                }
                if (!filter.kind().equals("bpf") || filter.protocol() != ETH_P_ALL) {
                    throw new ErrnoException("pref " + PRIORITY + " holds another tool's " + filter.kind()
                            + " filter (protocol 0x" + Integer.toHexString(Short.reverseBytes((short) filter.protocol()) & 0xffff)
                            + "); tcpmssd's filter must run first", EINVAL);
                }
                if (filter.ourPlace()) {
                    if (!ours(filter)) {
                        throw new ErrnoException("pref " + PRIORITY + " handle 0x" + Integer.toHexString(HANDLE)
                                + " is another tool's filter (" + (filter.name() != null ? filter.name() : "unnamed") + ")", EEXIST);
                    }
                    replace = true;
                }
            }
            // EXCL when there was none: a filter another tool put there meanwhile is not replaced.
            rtnetlink.addFilter(program, ifindex, hook, replace ? NLM_F_CREATE | NLM_F_REPLACE : NLM_F_CREATE | NLM_F_EXCL);
        }
    }

    @Override
    public void detach(int ifindex, Hook hook, TcxRecord record) throws ErrnoException {
        try (Rtnetlink rtnetlink = new Rtnetlink()) {
            for (Filter filter : rtnetlink.filters(ifindex, hook)) {
                if (filter.handle() != 0 && ours(filter)) {
                    rtnetlink.deleteFilter(filter, ifindex, hook);
                }
            }
        }
    }

    @Override
    public List<Integer> ours(int ifindex, Hook hook, TcxRecord record) throws ErrnoException {
        try (Rtnetlink rtnetlink = new Rtnetlink()) {
            List<Integer> ids = new ArrayList<>();
            for (Filter filter : rtnetlink.filters(ifindex, hook)) {
                if (filter.handle() != 0 && filter.programId() != 0 && ours(filter)) {
                    ids.add(filter.programId());
                }
            }
            return List.copyOf(ids);
        }
    }

    /** Every filter at the hook, as the kernel dumps them (for the tests: another tool's stays). */
    static List<Filter> filters(int ifindex, Hook hook) throws ErrnoException {
        try (Rtnetlink rtnetlink = new Rtnetlink()) {
            return rtnetlink.filters(ifindex, hook);
        }
    }

    /**
     * By the name the filter carries (TCA_BPF_NAME, in the dump): no program is opened by its id,
     * which would need CAP_SYS_ADMIN. A filter without a name is not ours: tcpmssd names every
     * filter it adds.
     */
    private static boolean ours(Filter filter) {
        return filter.kind().equals("bpf") && filter.name() != null && filter.name().startsWith(NAME_PREFIX);
    }

    private static int parent(Hook hook) {
        return (TC_H_CLSACT & 0xffff0000) | (hook == Hook.EGRESS ? TC_H_MIN_EGRESS : TC_H_MIN_INGRESS);
    }

    /** One rtnetlink socket and its buffers, for the requests of one call. */
    private static final class Rtnetlink implements AutoCloseable {

        private final Arena arena = Arena.ofConfined();
        private final NetlinkSocket socket;
        private final Requests requests;
        private final Attributes attributes = new Attributes();
        private final Attributes options = new Attributes();

        Rtnetlink() throws ErrnoException {
            socket = NetlinkSocket.open(NetlinkSocket.NETLINK_ROUTE);
            // A dump's datagram is at most 32 KiB (netlink_dump()); 64 KiB holds any.
            requests = new Requests(socket, arena.allocate(512, 8), arena.allocate(65536, 8));
        }

        private Netlink.Writer begin(int type, int flags, int ifindex, int handle, int parent, int info) {
            return requests.begin(type, flags).u32(0).u32(ifindex).u32(handle).u32(parent).u32(info);
        }

        void ensureClsact(int ifindex) throws ErrnoException {
            begin(RTM_NEWQDISC, Netlink.NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, ifindex, CLSACT_HANDLE, TC_H_CLSACT, 0)
                    .attributeString(TCA_KIND, "clsact");
            int error = requests.exchange("add clsact qdisc", reply -> { }, Requests.Others.IGNORE);
            if (error == EEXIST) {
                // Something holds the slot: clsact (fine) or an ingress qdisc, which has no egress.
                String kind = qdiscKind(ifindex);
                if (!"clsact".equals(kind)) {
                    throw new ErrnoException("the interface has an " + kind + " qdisc where clsact goes (ffff:)", EEXIST);
                }
            } else if (error != 0) {
                throw new ErrnoException("add clsact qdisc", error);
            }
        }

        /** The kind of the qdisc at the clsact/ingress slot of the interface. */
        private String qdiscKind(int ifindex) throws ErrnoException {
            String[] kind = {"unknown"};
            begin(RTM_GETQDISC, NLM_F_DUMP, ifindex, 0, 0, 0);
            int error = requests.exchange("rtnetlink: qdiscs", reply -> {
                if (reply.payloadU32(4) == ifindex && reply.payloadU32(TCM_PARENT) == TC_H_CLSACT) {
                    Attributes a = reply.attributes(attributes, TCMSG);
                    while (a.next()) {
                        if (a.type() == TCA_KIND) {
                            kind[0] = a.string();
                        }
                    }
                }
            }, Requests.Others.IGNORE);
            if (error != 0) {
                throw new ErrnoException("rtnetlink: qdiscs", error);
            }
            return kind[0];
        }

        List<Filter> filters(int ifindex, Hook hook) throws ErrnoException {
            List<Filter> filters = new ArrayList<>();
            begin(RTM_GETTFILTER, NLM_F_DUMP, ifindex, 0, parent(hook), 0);
            int error = requests.exchange("rtnetlink: filters", reply -> {
                Filter filter = parse(reply);
                // A dump without TCA_CHAIN lists every chain; a hook runs chain 0, where ours is
                // (other chains run only when a filter's "goto chain" action sends a packet there).
                if (filter != null && filter.chain() == 0) {
                    filters.add(filter);
                }
            }, Requests.Others.IGNORE);
            // Without a clsact qdisc there is nothing to dump: the kernel says so with EINVAL
            // (no such parent) on some kernels, an empty dump on others.
            if (error == EINVAL || error == Libc.ENOENT) {
                return List.of();
            }
            if (error != 0) {
                throw new ErrnoException("rtnetlink: filters", error);
            }
            return filters;
        }

        private Filter parse(Messages reply) {
            if (reply.payloadLength() < TCMSG) {
                return null;
            }
            int info = reply.payloadU32(TCM_INFO);
            String kind = "";
            String name = null;
            int programId = 0;
            int chain = 0;
            Attributes a = reply.attributes(attributes, TCMSG);
            while (a.next()) {
                if (a.type() == TCA_KIND) {
                    kind = a.string();
                } else if (a.type() == TCA_CHAIN) {
                    chain = a.u32(0);
                } else if (a.type() == TCA_OPTIONS && kind.equals("bpf")) {
                    Attributes o = a.nested(options);
                    while (o.next()) {
                        if (o.type() == TCA_BPF_NAME) {
                            name = o.string();
                        } else if (o.type() == TCA_BPF_ID) {
                            programId = o.u32(0);
                        }
                    }
                }
            }
            return new Filter(chain, info >>> 16, info & 0xffff, reply.payloadU32(TCM_HANDLE), kind, name, programId);
        }

        void addFilter(BpfProgram program, int ifindex, Hook hook, int flags) throws ErrnoException {
            byte[] name = program.name().getBytes(java.nio.charset.StandardCharsets.UTF_8);
            int nameAttribute = Netlink.align(Netlink.ATTRIBUTE_HEADER + name.length + 1);
            Netlink.Writer w = begin(RTM_NEWTFILTER, Netlink.NLM_F_ACK | flags, ifindex, HANDLE, parent(hook), PRIORITY << 16 | ETH_P_ALL)
                    .attributeString(TCA_KIND, "bpf");
            // TCA_OPTIONS nests three attributes; its length is known, so it is written whole.
            w.u16(Netlink.ATTRIBUTE_HEADER + 8 + nameAttribute + 8).u16(TCA_OPTIONS);
            w.beginAttribute(TCA_BPF_FD).u32(program.fd()).endAttribute();
            w.attributeString(TCA_BPF_NAME, program.name());
            w.beginAttribute(TCA_BPF_FLAGS).u32(TCA_BPF_FLAG_ACT_DIRECT).endAttribute();
            String what = ((flags & NLM_F_REPLACE) != 0 ? "replace" : "add") + " cls_bpf filter";
            int error = requests.exchange(what, reply -> { }, Requests.Others.IGNORE);
            if (error != 0) {
                throw new ErrnoException(what, error);
            }
        }

        void deleteFilter(Filter filter, int ifindex, Hook hook) throws ErrnoException {
            begin(RTM_DELTFILTER, Netlink.NLM_F_ACK, ifindex, filter.handle(), parent(hook), filter.priority() << 16 | filter.protocol())
                    .attributeString(TCA_KIND, "bpf");
            int error = requests.exchange("delete cls_bpf filter", reply -> { }, Requests.Others.IGNORE);
            if (error != 0 && error != Libc.ENOENT) { // ENOENT: gone meanwhile, which is what was asked
                throw new ErrnoException("delete cls_bpf filter", error);
            }
        }

        @Override
        public void close() {
            socket.close();
            arena.close();
        }
    }
}
