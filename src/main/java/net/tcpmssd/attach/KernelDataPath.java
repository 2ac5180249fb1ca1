package net.tcpmssd.attach;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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
import net.tcpmssd.netlink.RouteTable;
import net.tcpmssd.os.ErrnoException;
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
 * touched: {@link #prepare} resolves the interfaces, loads maps and programs and chooses the
 * attachment; {@link #attach} then puts the programs in place, each replacing tcpmssd's old one
 * with no gap.
 *
 * <p>How the attachment is chosen: tcx where the kernel has it, found by asking it for the
 * first interface's egress chain (BPF_PROG_QUERY); a kernel before 6.6, or one built without
 * CONFIG_NET_XGRESS, answers that with EINVAL (an attach type it does not know), and then the
 * clsact qdisc with a direct-action cls_bpf filter ({@link ClsBpfAttachment}) is used; a kernel
 * that has neither says so at the first attach. {@code --cls-bpf} forces the latter.
 */
public final class KernelDataPath implements AutoCloseable {

    private static final int ENOENT = 2;
    private static final int EINVAL = 22;
    private static final int EOPNOTSUPP = 95;
    /** How often -v's events are taken from the ring: 8,192 fit in it, far more than 100 ms of SYNs logged one line each. */
    private static final long EVENT_PERIOD_MILLIS = 100;

    /** An interface to attach to: its name as given, its index and where its IP header starts. */
    public record Target(String name, int ifindex, LinkType linkType) {}

    private final List<Target> targets;
    private final boolean bothDirections;
    private final ClampMaps maps;
    /** --pmtu: the routes the programs clamp by, or null for the uniform maximum. */
    private final PathMtuMaps paths;
    private final Map<LinkType, BpfProgram> programs;
    /** --pmtu with -b: the programs for ingress, which know no outgoing interface; empty otherwise (the same program both ways). */
    private final Map<LinkType, BpfProgram> ingressPrograms;
    private final Attachment attachment;
    private final String attachmentName;
    /** The other kind, where it can be asked: a program of ours left there by an earlier daemon is removed. */
    private final Attachment otherAttachment;
    private final boolean kernelHasTcx;
    private volatile Thread eventThread;
    private volatile boolean closing;

    private KernelDataPath(List<Target> targets, boolean bothDirections, ClampMaps maps, PathMtuMaps paths,
            Map<LinkType, BpfProgram> programs, Map<LinkType, BpfProgram> ingressPrograms, Attachment attachment,
            String attachmentName, Attachment otherAttachment, boolean kernelHasTcx) {
        this.targets = targets;
        this.bothDirections = bothDirections;
        this.maps = maps;
        this.paths = paths;
        this.programs = programs;
        this.ingressPrograms = ingressPrograms;
        this.attachment = attachment;
        this.attachmentName = attachmentName;
        this.otherAttachment = otherAttachment;
        this.kernelHasTcx = kernelHasTcx;
    }


    /**
     * Resolves the interfaces, loads the maps and programs and chooses the attachment; attaches
     * nothing. Every failure is one line (BEHAVIOUR §7's start-up errors). With {@code pmtu} the
     * programs clamp by the routes that {@link #setRoutes} gives them, changing nothing before
     * the first.
     */
    public static KernelDataPath prepare(List<String> interfaces, boolean bothDirections, boolean addMss, boolean forceClsBpf,
            boolean pmtu) throws AttachException {
        List<Target> targets = new ArrayList<>();
        for (String name : interfaces) {
            targets.add(target(name));
        }
        ClampMaps maps;
        try {
            maps = ClampMaps.create();
        } catch (ErrnoException e) {
            throw refusal("can't create the BPF maps", e);
        }
        PathMtuMaps paths = null;
        Map<LinkType, BpfProgram> programs = new EnumMap<>(LinkType.class);
        Map<LinkType, BpfProgram> ingressPrograms = new EnumMap<>(LinkType.class);
        try {
            if (pmtu) {
                try {
                    paths = PathMtuMaps.create();
                } catch (ErrnoException e) {
                    throw refusal("can't create the BPF maps of --pmtu", e);
                }
            }
            for (Target target : targets) {
                if (!programs.containsKey(target.linkType())) {
                    programs.put(target.linkType(), load(target.linkType(), maps, addMss, paths, false));
                    if (paths != null && bothDirections) {
                        ingressPrograms.put(target.linkType(), load(target.linkType(), maps, addMss, paths, true));
                    }
                }
            }
            boolean hasTcx = hasTcx(targets.getFirst());
            Attachment clsBpf = new ClsBpfAttachment();
            boolean useTcx = hasTcx && !forceClsBpf;
            return new KernelDataPath(List.copyOf(targets), bothDirections, maps, paths, programs, ingressPrograms,
                    useTcx ? new TcxAttachment() : clsBpf, useTcx ? "tcx" : "clsact/cls_bpf",
                    useTcx ? clsBpf : hasTcx ? new TcxAttachment() : null, hasTcx);
        } catch (AttachException | RuntimeException e) {
            programs.values().forEach(BpfProgram::close);
            ingressPrograms.values().forEach(BpfProgram::close);
            if (paths != null) {
                paths.close();
            }
            maps.close();
            throw e;
        }
    }

    private static Target target(String name) throws AttachException {
        Optional<Link> link;
        try {
            link = Links.byName(name);
        } catch (ErrnoException e) {
            throw new AttachException("can't look up interface " + name + ": " + e.getMessage());
        }
        if (link.isEmpty()) {
            throw new AttachException("unknown interface " + name);
        }
        return new Target(name, link.get().index(), linkType(link.get()));
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

    private static BpfProgram load(LinkType linkType, ClampMaps maps, boolean addMss, PathMtuMaps paths, boolean ingress)
            throws AttachException {
        try {
            return ClampProgram.load(linkType, maps, addMss, paths, ingress);
        } catch (VerifierException e) {
            throw new AttachException(e.getMessage(), e.log());
        } catch (ErrnoException e) {
            throw refusal("can't load the BPF program", e);
        }
    }

    /** True if the kernel knows tcx: it answers a query of the hook instead of EINVAL. */
    private static boolean hasTcx(Target target) throws AttachException {
        try {
            Tcx.query(target.ifindex(), TcxHook.EGRESS);
            return true;
        } catch (ErrnoException e) {
            if (e.errno() == EINVAL || e.errno() == EOPNOTSUPP) {
                return false;
            }
            throw refusal("can't ask the kernel what is attached to " + target.name(), e);
        }
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

    public List<Target> targets() {
        return targets;
    }

    /** The netns of the calling thread, as the kernel's inode number of it: with an ifindex, what names one interface. */
    public static long networkNamespace() throws AttachException {
        try {
            String link = Files.readSymbolicLink(Path.of("/proc/thread-self/ns/net")).toString(); // "net:[4026531840]"
            return Long.parseLong(link.substring(link.indexOf('[') + 1, link.indexOf(']')));
        } catch (IOException | RuntimeException e) {
            throw new AttachException("can't tell this network namespace: " + e.getMessage());
        }
    }

    /** Takes effect for the next packet; {@code null} (an interface not there yet) lowers nothing. */
    public void setMaxMss(MaxMss max) throws ErrnoException {
        maps.setMaxMss(max == null ? new MaxMss(65535, 65535) : max);
    }

    /**
     * --pmtu: the routes and interfaces for the next SYN, flattened (FlatRoutes) into a new
     * table that replaces the old one whole. On failure the old one stays in force. Called by
     * the route mirror's thread (and once at the start); synchronized so that two calls never
     * fill at once.
     */
    public synchronized void setRoutes(RouteTable table) throws ErrnoException {
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
     * Puts the programs in place at every interface: at egress, and at ingress with -b; without
     * -b a program of ours at ingress (left by a daemon that had -b) is taken away, and so is
     * one of ours under the other kind of attachment, so that SIGTERM later leaves nothing.
     */
    public void attach() throws AttachException {
        for (Target target : targets) {
            for (Hook hook : Hook.values()) {
                BpfProgram program = (hook == Hook.INGRESS ? ingressPrograms : programs).getOrDefault(target.linkType(),
                        programs.get(target.linkType()));
                String where = target.name() + " (" + attachmentName + " " + hook.name().toLowerCase(java.util.Locale.ROOT) + ")";
                try {
                    if (hook == Hook.EGRESS || bothDirections) {
                        attachment.attach(program, target.ifindex(), hook);
                    } else {
                        attachment.detach(target.ifindex(), hook);
                    }
                } catch (ErrnoException e) {
                    // A kernel without the clsact qdisc or the cls_bpf classifier (not built, no
                    // module) answers that it knows no such kind: ENOENT (or EOPNOTSUPP).
                    if (!(attachment instanceof TcxAttachment) && (e.errno() == ENOENT || e.errno() == EOPNOTSUPP)) {
                        throw new AttachException("no way to attach to " + target.name() + ": "
                                + (kernelHasTcx ? "" : "the kernel has no tcx (Linux 6.6 and later, CONFIG_NET_XGRESS), and ")
                                + "it refused a clsact qdisc with a cls_bpf filter (CONFIG_NET_SCH_INGRESS, CONFIG_NET_CLS_BPF): "
                                + e.getMessage());
                    }
                    throw refusal("can't attach to " + where, e);
                }
                if (otherAttachment != null) {
                    try {
                        otherAttachment.detach(target.ifindex(), hook);
                    } catch (ErrnoException e) {
                        // the other kind is not usable here: nothing of ours can be there
                    }
                }
            }
        }
    }

    /** What the log says once attached: "attached with tcx to wan0, ppp0 (egress)". */
    public String describe() {
        return "attached with " + attachmentName + " to " + String.join(", ", targets.stream().map(Target::name).toList())
                + (bothDirections ? " (egress and ingress)" : " (egress)");
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

    /** SIGTERM: takes our programs away from every hook of every interface; a failure is logged, the rest still done. */
    public void detach(MssLog log) {
        for (Target target : targets) {
            for (Hook hook : Hook.values()) {
                try {
                    attachment.detach(target.ifindex(), hook);
                } catch (ErrnoException e) {
                    log.warning("can't detach from " + target.name() + " " + hook.name().toLowerCase(java.util.Locale.ROOT) + ": "
                            + e.getMessage());
                }
            }
        }
    }

    /** For the tests: the ids of tcpmssd's programs at this hook, under the attachment in use. */
    public List<Integer> ours(Target target, Hook hook) throws ErrnoException {
        return attachment.ours(target.ifindex(), hook);
    }

    /**
     * Lets go of the programs and maps: where they are still attached the kernel keeps them (the
     * stop that leaves them in place); where detached, they are freed now.
     */
    @Override
    public void close() {
        closing = true;
        Thread events = eventThread;
        if (events != null) {
            events.interrupt();
            try {
                events.join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        programs.values().forEach(BpfProgram::close);
        ingressPrograms.values().forEach(BpfProgram::close);
        if (paths != null) {
            paths.close();
        }
        maps.close();
    }
}
