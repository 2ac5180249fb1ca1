package net.tcpmssd.attach;

import java.io.IOException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.tcpmssd.bpf.BpfProgram;
import net.tcpmssd.bpf.ClampMaps;
import net.tcpmssd.bpf.ClampProgram;
import net.tcpmssd.bpf.LinkType;
import net.tcpmssd.bpf.MssEvent;
import net.tcpmssd.bpf.PathMtuMaps;
import net.tcpmssd.bpf.Tcx;
import net.tcpmssd.bpf.TcxHook;
import net.tcpmssd.bpf.VerifierException;
import net.tcpmssd.mss.FlatRoutes;
import net.tcpmssd.mss.MssLog;
import net.tcpmssd.netlink.Link;
import net.tcpmssd.netlink.Links;
import net.tcpmssd.netlink.LinkMonitor;
import net.tcpmssd.netlink.RouteTable;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.NetworkNamespace;
import net.tcpmssd.os.Libc;
import net.tcpmssd.packet.MaxMss;
import net.tcpmssd.packet.Outcome;

/**
 * The in-kernel data path of {@code --attach} (BEHAVIOUR §7): one set of {@link ClampMaps}, one
 * program per link type among the interfaces, attached at each interface's egress, and at its
 * ingress with -b. The daemon stays the control plane: it writes the maximum, reads the
 * counters and the -v events, and decides at its stop whether the programs go or stay.
 *
 * <p>Start-up runs in two steps, so that every error is found before anything attached is
 * touched: {@link #prepare} resolves the interfaces, takes their locks, loads maps and programs
 * and chooses the attachment; {@link #attach} then puts the programs in place, each replacing
 * tcpmssd's old one with no gap. What is tcpmssd's at a tcx hook is told by the interface's
 * {@link TcxRecord}, which comes with its lock ({@link Lock#record}): a daemon of only CAP_BPF
 * and CAP_NET_ADMIN cannot read other programs' names.
 *
 * <p>The interfaces are followed by name ({@link LinkMonitor}), since the ones with small MTUs
 * come and go: a PPPoE reconnect deletes ppp0 and makes a new one, with a new index, and the
 * kernel drops a device's programs with the device (unregister_netdevice_many_notify() calls
 * dev_shutdown(), which destroys the clsact qdisc and its filters, and dev_tcx_uninstall()).
 * Once attached, an interface of a followed name that appears is attached to the moment its
 * RTM_NEWLINK arrives (pppd makes ppp0 before it negotiates IPCP and brings it up, so no SYN
 * can pass before), and the served-interface lock moves with it; one that goes releases its
 * lock.
 *
 * <p>How the attachment is chosen: tcx where the kernel has it, found by asking it for an
 * egress chain (BPF_PROG_QUERY); a kernel before 6.6, or one built without CONFIG_NET_XGRESS,
 * answers that with EINVAL (an attach type it does not know), and then the clsact qdisc with a
 * direct-action cls_bpf filter ({@link ClsBpfAttachment}) is used; a kernel that has neither
 * says so at the first attach. {@code --cls-bpf} forces the latter.
 */
public final class KernelDataPath implements AutoCloseable {

    private static final int ENOENT = 2;
    private static final int EINVAL = 22;
    private static final int EOPNOTSUPP = 95;
    /** Loopback's index in every network namespace (it is registered first): where tcx is asked about while no interface is there. */
    private static final int LOOPBACK_INDEX = 1;
    /** How often -v's events are taken from the ring: 8,192 fit in it, far more than 100 ms of SYNs logged one line each. */
    private static final long EVENT_PERIOD_MILLIS = 100;

    /** The lock that tells other daemons an interface is served (BEHAVIOUR §7), by its index in this network namespace. */
    @FunctionalInterface
    public interface ServedLocks {
        /** Takes the lock of the interface {@code name} has now; refused, in a line naming the holder, while a live daemon holds it. */
        Lock take(String name, int ifindex) throws AttachException;
    }

    /**
     * A served-interface lock held, and with it the interface's {@link TcxRecord}: the next
     * daemon to hold the lock reads what this one attached.
     */
    public interface Lock extends AutoCloseable {
        TcxRecord record();

        /** Lets go of the lock; the record stays for the next daemon (SIGUSR2, SIGKILL alike). */
        @Override
        void close();
    }

    /** One --attach interface, followed by its name. Guarded by the KernelDataPath. */
    private static final class Served {
        final String name;
        /** As rtnetlink last told it; null while there is no interface of this name. */
        Link link;
        /** The index and link type last tried, attached to or refused (a link type, a lock, an error): each appearance is tried once. */
        int triedIndex;
        int triedType;
        /** The index whose hooks have our program; 0: none. */
        int attachedIndex;
        /** The lock of {@link #lockIndex}, while held. */
        Lock lock;
        int lockIndex;

        Served(String name) {
            this.name = name;
        }
    }

    private final List<Served> served;
    private final boolean bothDirections;
    private final boolean addMss;
    /** -v: the programs report each MSS they change; without it they skip the ring buffer write. */
    private final boolean events;
    private final ServedLocks locks;
    private final MssLog log;
    private final ClampMaps maps;
    /** --pmtu: the routes the programs clamp by, or null for the uniform maximum. */
    private final PathMtuMaps paths;
    private final Map<LinkType, BpfProgram> programs = new EnumMap<>(LinkType.class); // guarded by this
    /** --pmtu with -b: the programs for ingress, which know no outgoing interface. Guarded by this. */
    private final Map<LinkType, BpfProgram> ingressPrograms = new EnumMap<>(LinkType.class);
    private Attachment attachment;
    private String attachmentName;
    /** The other kind, where it can be asked: a program of ours left there by an earlier daemon is removed. */
    private Attachment otherAttachment;
    private boolean kernelHasTcx;
    private LinkMonitor monitor;
    /** Between {@link #attach} and the stop: an interface that appears is attached to. Guarded by this. */
    private boolean following;
    private volatile Thread eventThread;
    private volatile boolean closing;

    private KernelDataPath(List<String> interfaces, boolean bothDirections, boolean addMss, boolean events, ServedLocks locks,
            MssLog log, ClampMaps maps, PathMtuMaps paths) {
        this.served = interfaces.stream().map(Served::new).toList();
        this.bothDirections = bothDirections;
        this.addMss = addMss;
        this.events = events;
        this.locks = locks;
        this.log = log;
        this.maps = maps;
        this.paths = paths;
    }

    /**
     * Starts following the interfaces, takes the lock of each one there, loads the maps and
     * programs and chooses the attachment; attaches nothing. Every failure is one line
     * (BEHAVIOUR §7's start-up errors). An interface missing now is refused, or with
     * {@code waitForThem} (--wait-for-interface) waited for: logged, and attached to when it
     * appears. With {@code pmtu} the programs clamp by the routes that {@link #setRoutes} gives
     * them, changing nothing before the first.
     */
    public static KernelDataPath prepare(List<String> interfaces, boolean bothDirections, boolean addMss, boolean forceClsBpf,
            boolean pmtu, boolean waitForThem, boolean events, ServedLocks locks, MssLog log) throws AttachException {
        ClampMaps maps;
        try {
            maps = ClampMaps.create();
        } catch (ErrnoException e) {
            throw refusal("can't create the BPF maps", e);
        }
        PathMtuMaps paths = null;
        if (pmtu) {
            try {
                paths = PathMtuMaps.create();
            } catch (ErrnoException e) {
                maps.close();
                throw refusal("can't create the BPF maps of --pmtu", e);
            }
        }
        KernelDataPath path = new KernelDataPath(interfaces, bothDirections, addMss, events, locks, log, maps, paths);
        try {
            path.follow(waitForThem);
            Served first = path.served.stream().filter(s -> s.link != null).findFirst().orElse(null);
            boolean hasTcx = hasTcx(first == null ? "lo" : first.name, first == null ? LOOPBACK_INDEX : first.link.index());
            boolean useTcx = hasTcx && !forceClsBpf;
            Attachment clsBpf = new ClsBpfAttachment();
            path.attachment = useTcx ? new TcxAttachment() : clsBpf;
            path.attachmentName = useTcx ? "tcx" : "clsact/cls_bpf";
            path.otherAttachment = useTcx ? clsBpf : hasTcx ? new TcxAttachment() : null;
            path.kernelHasTcx = hasTcx;
            return path;
        } catch (AttachException | RuntimeException e) {
            path.close();
            throw e;
        }
    }

    /**
     * Subscribes to the link notifications, then, for each interface there, checks its link
     * type, loads its program and takes its lock: a change meanwhile is caught up with at
     * {@link #attach}.
     */
    private void follow(boolean waitForThem) throws AttachException {
        try {
            monitor = LinkMonitor.start(served.stream().map(s -> s.name).toList(), new LinkMonitor.Listener() {
                @Override
                public void present(Link link) {
                    changed(link.name(), link);
                }

                @Override
                public void gone(String name) {
                    changed(name, null);
                }

                @Override
                public void error(ErrnoException e) {
                    log.warning("following the --attach interfaces: " + e.getMessage());
                }
            });
        } catch (ErrnoException e) {
            throw new AttachException("can't follow the interfaces through rtnetlink: " + e.getMessage());
        }
        synchronized (this) {
            for (Served one : served) {
                one.link = monitor.current(one.name).orElse(null);
                if (one.link == null && !waitForThem) {
                    throw new AttachException("unknown interface " + one.name);
                }
                if (one.link == null) {
                    log.info("waiting for interface " + one.name + " to appear, to attach to it");
                    continue;
                }
                LinkType linkType = linkType(one.link);
                program(linkType);
                ingressProgram(linkType);
                one.lock = locks.take(one.name, one.link.index());
                one.lockIndex = one.link.index();
            }
        }
    }

    /**
     * Where the IP header starts, by the interface's link type: Ethernet-like links (Ethernet,
     * veth, bridges, VLAN devices, and loopback, whose frames carry a zeroed Ethernet header)
     * have 14 bytes before it; tun in L3 mode and WireGuard (ARPHRD_NONE), PPP, and raw-IP
     * modems none. Any other type is refused: its header is unknown to the program.
     */
    static LinkType linkType(Link link) throws AttachException {
        return switch (link.type()) {
            case Link.ARPHRD_ETHER, Link.ARPHRD_LOOPBACK -> LinkType.ETHERNET;
            case Link.ARPHRD_NONE, Link.ARPHRD_PPP, Link.ARPHRD_RAWIP -> LinkType.L3;
            default -> throw new AttachException(link.name() + " has link type " + link.type() + " (" + typeName(link.type())
                    + "), which tcpmssd cannot attach to");
        };
    }

    /** The if_arp.h names of the link types an operator is likely to try. */
    private static String typeName(int type) {
        return switch (type) {
            case 32 -> "ARPHRD_INFINIBAND";
            case 768 -> "ARPHRD_TUNNEL, ipip";
            case 769 -> "ARPHRD_TUNNEL6, ip6tnl";
            case 776 -> "ARPHRD_SIT";
            case 778 -> "ARPHRD_IPGRE";
            case 801 -> "ARPHRD_IEEE80211";
            case 823 -> "ARPHRD_IP6GRE";
            case 824 -> "ARPHRD_NETLINK";
            default -> "not Ethernet, PPP or bare IP";
        };
    }

    private static BpfProgram load(LinkType linkType, ClampMaps maps, boolean addMss, PathMtuMaps paths, boolean ingress,
            boolean events) throws AttachException {
        try {
            return ClampProgram.load(linkType, maps, addMss, paths, ingress, events);
        } catch (VerifierException e) {
            throw new AttachException(e.getMessage(), e.log());
        } catch (ErrnoException e) {
            throw refusal("can't load the BPF program", e);
        }
    }

    /** True if the kernel knows tcx: it answers a query of the hook instead of EINVAL. */
    private static boolean hasTcx(String name, int ifindex) throws AttachException {
        try {
            Tcx.query(ifindex, TcxHook.EGRESS);
            return true;
        } catch (ErrnoException e) {
            if (e.errno() == EINVAL || e.errno() == EOPNOTSUPP) {
                return false;
            }
            throw refusal("can't ask the kernel what is attached to " + name, e);
        }
    }

    /** The program for this link type, loaded the first time one is needed. */
    private synchronized BpfProgram program(LinkType linkType) throws AttachException {
        BpfProgram program = programs.get(linkType);
        if (program == null) {
            program = load(linkType, maps, addMss, paths, false, events);
            programs.put(linkType, program);
        }
        return program;
    }

    /** The program for ingress: the same one, but with --pmtu, which at ingress knows no outgoing interface. */
    private synchronized BpfProgram ingressProgram(LinkType linkType) throws AttachException {
        if (paths == null || !bothDirections) {
            return program(linkType);
        }
        BpfProgram program = ingressPrograms.get(linkType);
        if (program == null) {
            program = load(linkType, maps, addMss, paths, true, events);
            ingressPrograms.put(linkType, program);
        }
        return program;
    }

    /**
     * --pmtu: the routes and interfaces for the next SYN, flattened (FlatRoutes) into a new
     * table that replaces the old one whole. On failure the old one stays in force. Called by
     * the route mirror's thread (and once at the start), never two at once.
     */
    public void setRoutes(RouteTable table) throws ErrnoException {
        PathMtuMaps.Table next = paths.begin();
        try {
            FlatRoutes.fill(table, next);
        } catch (ErrnoException | RuntimeException e) {
            next.close();
            throw e;
        }
        paths.publish(next);
    }

    /**
     * A failure of bpf(2), told as an operator can act on it. The kernel answers EPERM for any
     * capability that is missing (CAP_BPF for maps and programs, CAP_NET_ADMIN for a tc program
     * and for attaching it; CAP_SYS_ADMIN stands for both), so capget says which one it was.
     */
    private static AttachException refusal(String what, ErrnoException e) {
        if (e.errno() != Libc.EPERM) {
            return new AttachException(what + ": " + e.getMessage());
        }
        List<String> missing = new ArrayList<>();
        try {
            long caps = Libc.effectiveCapabilities();
            boolean sysAdmin = has(caps, Libc.CAP_SYS_ADMIN);
            if (!has(caps, Libc.CAP_BPF) && !sysAdmin) {
                missing.add("CAP_BPF");
            }
            if (!has(caps, Libc.CAP_NET_ADMIN) && !sysAdmin) {
                missing.add("CAP_NET_ADMIN");
            }
        } catch (ErrnoException capget) {
            return new AttachException(what + ": operation not permitted (needs CAP_BPF and CAP_NET_ADMIN)");
        }
        if (missing.isEmpty()) {
            return new AttachException(what + ": operation not permitted, though CAP_BPF and CAP_NET_ADMIN are there"
                    + " (a security module, or a user namespace?)");
        }
        return new AttachException(what + ": operation not permitted (missing " + String.join(" and ", missing) + ")");
    }

    private static boolean has(long capabilities, int capability) {
        return (capabilities >>> capability & 1) != 0;
    }

    /** The netns of the calling thread, as the kernel's inode number of it: with an ifindex, what names one interface. */
    public static long networkNamespace() throws AttachException {
        try {
            return NetworkNamespace.current();
        } catch (IOException e) {
            throw new AttachException("can't tell this network namespace: " + e.getMessage());
        }
    }

    /** Takes effect for the next packet; {@code null} (an interface not there yet) lowers nothing. */
    public void setMaxMss(MaxMss max) throws ErrnoException {
        maps.setMaxMss(max == null ? new MaxMss(65535, 65535) : max);
    }

    /**
     * Puts the programs in place at every interface there: at egress, and at ingress with -b;
     * without -b a program of ours at ingress (left by a daemon that had -b) is taken away, and
     * so is one of ours under the other kind of attachment, so that SIGTERM later leaves
     * nothing. From here on the interfaces are followed: one that appears is attached to.
     */
    public synchronized void attach() throws AttachException {
        following = true;
        for (Served one : served) {
            reconcile(one);
        }
    }

    /** rtnetlink says {@code name} changed, came or ({@code link} null) went: on the monitor's thread. */
    private synchronized void changed(String name, Link link) {
        Served one = served.stream().filter(s -> s.name.equals(name)).findFirst().orElseThrow();
        one.link = link;
        if (!following) {
            return; // still starting (attach() catches up with it), or stopping
        }
        try {
            if (reconcile(one)) {
                log.info("attached to " + name + " (index " + link.index() + ")");
            }
        } catch (AttachException e) {
            log.warning(e.getMessage() + "; leaving " + name + " (index " + one.triedIndex + ") alone");
            if (one.lock != null && one.attachedIndex != one.lockIndex) {
                one.lock.close(); // not served by us: another daemon may
                one.lock = null;
            }
        }
    }

    /**
     * Brings one interface to what rtnetlink last said: the lock of an interface that went is
     * released (the kernel dropped our program with the device), and an interface, or a link
     * type (a tun's TUNSETLINK), not tried yet is attached to, once; a type tcpmssd cannot read
     * has our program taken off. True if it was attached to now.
     */
    private boolean reconcile(Served one) throws AttachException {
        int index = one.link == null ? 0 : one.link.index();
        if (one.lock != null && one.lockIndex != index) {
            if (one.attachedIndex == one.lockIndex) {
                if (stillThere(one.lockIndex)) {
                    // Renamed away from the name we follow: the device, and our programs on it,
                    // stay (a rename does not touch its tcx chain); they are not ours to keep.
                    detachAt(one.name, one.lockIndex, one.lock.record());
                    log.info(one.name + " (index " + one.lockIndex + ") was renamed; our program is taken off it;"
                            + " attaching again when a " + one.name + " comes");
                } else {
                    log.info(one.name + " (index " + one.lockIndex + ") is gone, and the kernel dropped our program with it;"
                            + " attaching again when it comes back");
                }
            }
            one.lock.record().write(Hook.EGRESS, Set.of()); // the device went, and our programs with it
            one.lock.record().write(Hook.INGRESS, Set.of());
            one.lock.close();
            one.lock = null;
            one.attachedIndex = 0;
            one.triedIndex = 0; // the same device may carry the name again (renamed back): tried afresh
        }
        if (index == 0 || (index == one.triedIndex && one.link.type() == one.triedType)) {
            return false;
        }
        one.triedIndex = index;
        one.triedType = one.link.type();
        LinkType linkType;
        try {
            linkType = linkType(one.link);
        } catch (AttachException e) {
            if (one.attachedIndex == index) {
                detachAt(one.name, index, one.lock.record()); // its header is no longer the one our program reads
                one.attachedIndex = 0;
            }
            throw e;
        }
        BpfProgram program = program(linkType);
        BpfProgram ingress = ingressProgram(linkType);
        if (one.lock == null) {
            one.lock = locks.take(one.name, index);
            one.lockIndex = index;
        }
        attachAt(one.name, index, program, ingress, one.lock.record());
        one.attachedIndex = index;
        return true;
    }

    /** True if an interface of this index still exists (renamed, not deleted); false if unsure. */
    private static boolean stillThere(int ifindex) {
        try {
            return Links.byIndex(ifindex).isPresent();
        } catch (ErrnoException e) {
            return false; // the device going is by far the likelier: its program went with it
        }
    }

    private void attachAt(String name, int ifindex, BpfProgram egress, BpfProgram ingress, TcxRecord record) throws AttachException {
        for (Hook hook : Hook.values()) {
            BpfProgram program = hook == Hook.EGRESS ? egress : ingress;
            String where = name + " (" + attachmentName + " " + hook.name().toLowerCase(java.util.Locale.ROOT) + ")";
            try {
                if (hook == Hook.EGRESS || bothDirections) {
                    attachment.attach(program, ifindex, hook, record);
                } else {
                    attachment.detach(ifindex, hook, record);
                }
            } catch (ErrnoException e) {
                // A kernel without the clsact qdisc or the cls_bpf classifier (not built, no
                // module) answers that it knows no such kind: ENOENT (or EOPNOTSUPP).
                if (!(attachment instanceof TcxAttachment) && (e.errno() == ENOENT || e.errno() == EOPNOTSUPP)) {
                    throw new AttachException("no way to attach to " + name + ": "
                            + (kernelHasTcx ? "" : "the kernel has no tcx (Linux 6.6 and later, CONFIG_NET_XGRESS), and ")
                            + "it refused a clsact qdisc with a cls_bpf filter (CONFIG_NET_SCH_INGRESS, CONFIG_NET_CLS_BPF): "
                            + e.getMessage());
                }
                throw refusal("can't attach to " + where, e);
            }
            if (otherAttachment != null) {
                try {
                    otherAttachment.detach(ifindex, hook, record);
                } catch (ErrnoException e) {
                    // the other kind is not usable here: nothing of ours can be there
                }
            }
        }
    }

    /** What the log says once attached: "attached with tcx to wan0, ppp0 (egress)", and the ones still awaited. */
    public synchronized String describe() {
        List<String> attached = served.stream().filter(s -> s.attachedIndex != 0).map(s -> s.name).toList();
        List<String> awaited = served.stream().filter(s -> s.link == null).map(s -> s.name).toList();
        return "attached with " + attachmentName + " to " + (attached.isEmpty() ? "none yet" : String.join(", ", attached))
                + (bothDirections ? " (egress and ingress)" : " (egress)")
                + (awaited.isEmpty() ? "" : "; waiting for " + String.join(", ", awaited));
    }

    /** Packets of this IP version with this outcome, summed over the CPUs; -1 if the map cannot be read. */
    public long count(int ipVersion, Outcome outcome) {
        try {
            return maps.count(ipVersion, outcome);
        } catch (ErrnoException e) {
            return -1;
        }
    }

    /** -v: the program's MSS events logged, taken from the ring on a thread of their own every 100 ms. */
    public void logEvents(MssLog log) {
        eventThread = Thread.ofPlatform().daemon().name("mss-events").start(() -> {
            boolean warned = false;
            while (!closing) {
                try {
                    for (MssEvent event : maps.takeEvents()) {
                        log.info(event.line());
                    }
                } catch (ErrnoException e) {
                    if (!warned) {
                        log.warning("reading the MSS events: " + e.getMessage());
                        warned = true;
                    }
                }
                try {
                    Thread.sleep(EVENT_PERIOD_MILLIS);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
    }

    /**
     * SIGTERM: stops following, then takes our programs away from every hook of every interface
     * served; a failure is logged, the rest still done.
     */
    public synchronized void detach() {
        following = false;
        for (Served one : served) {
            if (one.attachedIndex != 0) {
                detachAt(one.name, one.attachedIndex, one.lock.record());
            }
        }
    }

    /** Takes our programs off every hook of the interface; a failure is logged, the rest still done. */
    private void detachAt(String name, int ifindex, TcxRecord record) {
        for (Hook hook : Hook.values()) {
            try {
                attachment.detach(ifindex, hook, record);
            } catch (ErrnoException e) {
                log.warning("can't detach from " + name + " " + hook.name().toLowerCase(java.util.Locale.ROOT) + ": " + e.getMessage());
            }
        }
    }

    /**
     * Lets go of the programs and maps: where they are still attached the kernel keeps them (the
     * stop that leaves them in place); where detached, they are freed now.
     */
    @Override
    public void close() {
        closing = true;
        synchronized (this) {
            following = false; // SIGUSR2: what appears from now on is left to the next daemon
        }
        if (monitor != null) {
            monitor.close(); // not holding the lock: its thread may be waiting for it
        }
        Thread events = eventThread;
        if (events != null) {
            events.interrupt();
            try {
                events.join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (this) {
            for (Served one : served) {
                if (one.lock != null) {
                    one.lock.close();
                    one.lock = null;
                }
            }
            programs.values().forEach(BpfProgram::close);
            programs.clear();
            ingressPrograms.values().forEach(BpfProgram::close);
            ingressPrograms.clear();
        }
        if (paths != null) {
            paths.close();
        }
        maps.close();
    }
}
