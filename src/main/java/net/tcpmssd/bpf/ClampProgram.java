package net.tcpmssd.bpf;

import static net.tcpmssd.bpf.Register.FP;
import static net.tcpmssd.bpf.Register.R0;
import static net.tcpmssd.bpf.Register.R1;
import static net.tcpmssd.bpf.Register.R2;
import static net.tcpmssd.bpf.Register.R3;
import static net.tcpmssd.bpf.Register.R4;
import static net.tcpmssd.bpf.Register.R5;
import static net.tcpmssd.bpf.Register.R6;
import static net.tcpmssd.bpf.Register.R7;
import static net.tcpmssd.bpf.Register.R8;
import static net.tcpmssd.bpf.Register.R9;

import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.packet.MssClamp;
import net.tcpmssd.packet.Outcome;

/**
 * Generates the SCHED_CLS program that does in the kernel what {@link MssClamp#clamp} does in the
 * daemon (BEHAVIOUR §4, §7), and loads it.
 *
 * <p>The same checks in the same order, so that every packet gets the same outcome and the same
 * bytes, with two differences the kernel imposes or allows:
 * <ul>
 *   <li>The IP version comes from skb->protocol (the link layer's word), and the header's
 *       version must agree; a disagreeing packet is MALFORMED.
 *   <li>The IP length (IPv4 total length, IPv6 payload length + 40) must be at most what the
 *       frame holds, not exactly it: bytes after it are link padding (Ethernet pads short frames
 *       to 60 bytes, so an incoming 40-byte SYN-ACK arrives 46 bytes long), and the packet is
 *       treated as exactly IP-length long. For a frame without padding, the queue path's rule.
 * </ul>
 *
 * <p>The packet is read only through bpf_skb_load_bytes into the stack at constant offsets and
 * written through bpf_skb_store_bytes: that works for non-linear skbs (a GRO'd or paged packet)
 * and needs no packet-pointer arithmetic, which without CAP_PERFMON the verifier would refuse
 * for variable offsets. The checksum goes through bpf_l4_csum_replace, which leaves a
 * CHECKSUM_PARTIAL skb's pseudo-header sum alone (the stack completes it later) and updates a
 * complete one as RFC 1624 does.
 *
 * <p>Loops are unrolled in Java: at most {@link MssClamp#IPV6_EXTENSION_HEADER_LIMIT} extension
 * headers, and the option walk as one block of code per position in the at most 40 option bytes
 * (see option()). A helper call is the dearest thing the walk does: with one bpf_skb_load_bytes
 * per option (five for a Linux SYN) its walk took 70-80 ns, with one load of all the options into
 * the stack about 40 (BENCHMARKS.md). Reading them there at a variable offset is what the
 * verifier refuses; so the position is not a register but the block being run, each block reads
 * its own constant offsets, and an option hands on to the block of the next one's position by a
 * jump. Unrolled code has no back edges, and no value the walk compares is one the verifier
 * knows, so it prunes each block's states as equal whatever the path to it: on 6.18 it processes
 * about 13,000 instructions (37,000 with --add-mss) of its limit of 1,000,000.
 *
 * <p>Every MSS lowered or added is also reported as an {@link MssEvent} into the ring buffer of
 * {@link ClampMaps}, for -v.
 *
 * <p>With --add-mss (a variant generated on request, see addMss()), a SYN without an MSS option
 * gets one, as MssClamp.addMss gives it.
 *
 * <p>With --pmtu (a variant too, see pathMss()), a SYN's maximum comes from its path's MTU in
 * {@link PathMtuMaps}, as PathMss.pathMtu gives it, not from the max map; the ingress variant
 * knows no outgoing interface, as PathMss in PREROUTING.
 *
 * <p>Every path returns TC_ACT_UNSPEC (-1), which for tcx is TCX_NEXT: the packet goes on to
 * whatever comes next, never dropped, never ending the chain. Direction (egress, and ingress with
 * -b) is chosen by where it is attached, not here.
 *
 * <p>Registers: R6 the skb; R7 where the TCP header starts in the frame; R8 an extension
 * header's position; R9 the TCP length, then the option walk's findings. This is a
 * little-endian host (the bpf(2) number used is x86_64's): BPF_TO_BE swaps bytes.
 */
public final class ClampProgram {

    /** Any license string works: every helper called is gpl_only = false (see {@link Helper}). */
    public static final String LICENSE = "BSD";

    static final int TC_ACT_UNSPEC = -1;

    // skb->protocol as the program reads it: the big-endian EtherType as a host-order number.
    private static final int ETH_P_IP = Short.reverseBytes((short) 0x0800) & 0xffff;
    private static final int ETH_P_IPV6 = Short.reverseBytes((short) 0x86dd) & 0xffff;
    // struct __sk_buff (bpf.h): len, pkt_type, mark, queue_mapping, protocol.
    private static final int SKB_LEN = 0;
    private static final int SKB_PROTOCOL = 16;

    private static final int TCP_MIN_HEADER = 20;
    private static final int TCP_MAX_OPTION_BYTES = 40;
    private static final int TCP_CHECKSUM = 16;

    // The stack (offsets from the frame pointer, none overlapping). Accesses must be naturally
    // aligned (the verifier is strict about the stack).
    private static final int SCRATCH = -8;        // 4 bytes: an option's first bytes, an extension header's
    private static final int KEY = -12;           // u32 map key
    private static final int NEW_FIELD = -16;     // u16 a field written, in network order
    private static final int TCP_HEADER_LENGTH = -24;
    private static final int MAX_MSS = -32;
    private static final int COUNTER_BASE = -40;  // family * outcomes
    private static final int IP_LENGTH = -48;     // the IP packet's length by its header
    private static final int TCP_LENGTH = -56;    // from the TCP header to the end of the IP packet
    private static final int TCP_BUFFER = -80;    // the TCP header's first 20 bytes
    private static final int IPV4_BUFFER = TCP_BUFFER - 20; // 20 bytes of IPv4 header, then TCP
    private static final int IPV6_BUFFER = TCP_BUFFER - 40; // 40 bytes of IPv6 header, then TCP
    // 48 bytes: --add-mss's MSS option (4), then the packet's options as the walk's copy (at
    // most 40, zero after them: see options()), so that the grown option list is already whole.
    private static final int ADDED_OPTIONS = IPV6_BUFFER - 48;
    private static final int OPTIONS = ADDED_OPTIONS + 4;
    private static final int EVENT = ADDED_OPTIONS - 8;        // an MssEvent for the ring buffer
    private static final int PATH_KEY = EVENT - PathMtuMaps.KEY_SIZE; // --pmtu: a key of PathMtuMaps' trie
    // Where the addresses lie in the IP header buffers.
    private static final int IPV4_SOURCE = IPV4_BUFFER + 12;
    private static final int IPV4_DESTINATION = IPV4_BUFFER + 16;
    private static final int IPV6_SOURCE = IPV6_BUFFER + 8;
    private static final int IPV6_DESTINATION = IPV6_BUFFER + 24;
    // struct __sk_buff: ingress_ifindex (skb->skb_iif, 0 for a packet of this host) and ifindex
    // (skb->dev: at egress the device the packet leaves by).
    private static final int SKB_INGRESS_IFINDEX = 36;
    private static final int SKB_IFINDEX = 40;
    // --pmtu: the smallest MTU of each IP version (RFC 791, RFC 8200 §5), for an interface the
    // maps do not know, as PathMss takes it.
    private static final int IPV4_LAST_RESORT_MTU = 576;
    private static final int IPV6_LAST_RESORT_MTU = 1280;
    private static final int NO_LIMIT_MTU = 65535;

    // The walk's findings in R9.
    private static final int SAW_MSS = 1;
    private static final int LOWERED = 2;
    private static final int BROKEN = 4;          // stopped at a bad length, not at EOL or the end
    private static final int SAW_MSS_KIND = 8;    // an option of kind 2, of any valid length

    // --add-mss (MssClamp.addMss): what a peer assumes without an MSS (RFC 9293 §3.7.1, RFC 8200 §8.3).
    private static final int IPV4_DEFAULT_MSS = 536;
    private static final int IPV6_DEFAULT_MSS = 1220;
    private static final int TCP_MAX_HEADER = 60;
    private static final int MSS_OPTION_LENGTH = 4;
    // Flags of the checksum helpers (bpf.h): the field size in the low bits, and for a field of
    // the pseudo-header (the TCP length), BPF_F_PSEUDO_HDR, so that a CHECKSUM_PARTIAL packet's
    // pseudo-header sum is updated too.
    private static final int BPF_F_PSEUDO_HDR = 1 << 4;

    private final Asm asm = new Asm();
    private final int ipOffset;
    private final boolean addMss;
    /** 0 when the program reports no events (no -v): each clamp then saves the ring buffer write. */
    private final int eventsMapFd;
    /** --pmtu: the slot of {@link PathMtuMaps}, or 0 for the uniform maximum of the max map. */
    private final int pathMapFd;
    /** --pmtu at ingress: the interface a SYN will leave by is not known yet. */
    private final boolean ingress;

    private ClampProgram(LinkType linkType, boolean addMss, int eventsMapFd, int pathMapFd, boolean ingress) {
        this.ipOffset = linkType.ipOffset;
        this.addMss = addMss;
        this.eventsMapFd = eventsMapFd;
        this.pathMapFd = pathMapFd;
        this.ingress = ingress;
    }

    /**
     * Loads the program for this link type, reading its maximum from and counting into
     * {@code maps}; with {@code addMss}, a SYN without an MSS option gets one as --add-mss says.
     */
    public static BpfProgram load(LinkType linkType, ClampMaps maps, boolean addMss) throws ErrnoException, VerifierException {
        return load(linkType, maps, addMss, null, false);
    }

    /**
     * As above; with {@code paths} (--pmtu) each SYN's maximum comes from its path's MTU in
     * those maps (see pathMss()), not from the max map, and then {@code ingress} says the
     * program is for an ingress hook, where the interface a SYN leaves by is not known.
     */
    public static BpfProgram load(LinkType linkType, ClampMaps maps, boolean addMss, PathMtuMaps paths, boolean ingress)
            throws ErrnoException, VerifierException {
        return load(linkType, maps, addMss, paths, ingress, true);
    }

    /**
     * As above; without {@code events} (no -v to read them) the program writes no MssEvent: the
     * ring buffer write costs a clamped SYN about a tenth of its time in the program
     * (BENCHMARKS.md), for lines nobody would log. Same name, same outcome and bytes.
     */
    public static BpfProgram load(LinkType linkType, ClampMaps maps, boolean addMss, PathMtuMaps paths, boolean ingress,
            boolean events) throws ErrnoException, VerifierException {
        boolean atIngress = paths != null && ingress;
        String name = name(linkType, addMss, paths != null, atIngress);
        return BpfProgram.load(BpfProgram.SCHED_CLS, assemble(linkType, addMss, maps.maxMssFd(), maps.countsFd(),
                events ? maps.eventsFd() : 0, paths == null ? 0 : paths.slotFd(), atIngress), LICENSE, name);
    }

    /**
     * The kernel's name of the program (at most 15 bytes, BPF_OBJ_NAME_LEN): how tcpmssd tells
     * its own programs from others. "_add" for --add-mss, "_pm" for --pmtu, "_apm" for both;
     * "_pi" and "_api" for --pmtu's ingress programs.
     */
    static String name(LinkType linkType, boolean addMss, boolean pmtu, boolean ingress) {
        String pmtuSuffix = ingress ? "pi" : "pm";
        return (linkType == LinkType.L3 ? "tcpmssd_l3" : "tcpmssd_eth")
                + (addMss && pmtu ? "_a" + pmtuSuffix : addMss ? "_add" : pmtu ? "_" + pmtuSuffix : "");
    }

    /** True if a program of this name is one that {@link #load} makes: tcpmssd's, to be replaced or removed. */
    public static boolean isOurs(String programName) {
        for (LinkType linkType : LinkType.values()) {
            for (int variant = 0; variant < 8; variant++) {
                if (programName.equals(name(linkType, (variant & 1) != 0, (variant & 2) != 0, (variant & 4) != 0))) {
                    return true;
                }
            }
        }
        return false;
    }

    /** The program's instructions, referring to the maps by fd ({@code pathMapFd} 0: no --pmtu). */
    static byte[] assemble(LinkType linkType, boolean addMss, int maxMssMapFd, int countsMapFd, int eventsMapFd, int pathMapFd,
            boolean ingress) {
        ClampProgram p = new ClampProgram(linkType, addMss, eventsMapFd, pathMapFd, ingress);
        p.dispatch();
        p.ipv4();
        p.ipv6();
        p.tcp(maxMssMapFd);
        if (pathMapFd != 0) {
            p.pathMss();
        }
        if (addMss) {
            p.addMss();
        }
        p.countAndLeave(countsMapFd);
        return p.asm.assemble();
    }

    private void dispatch() {
        asm.mov(R6, R1)
                .load(Size.W, R2, R6, SKB_PROTOCOL)
                .jump(JumpOp.EQ, R2, ETH_P_IP, "ipv4")
                .jump(JumpOp.EQ, R2, ETH_P_IPV6, "ipv6")
                .jump("leave");
    }

    /** R8 = the frame's length after the link header: what the IP packet may take at most. */
    private void frameIpLength() {
        asm.load(Size.W, R8, R6, SKB_LEN).alu64(AluOp.SUB, R8, ipOffset);
    }

    /**
     * What both versions begin with: count as this family from here, R8 = what the frame holds
     * after the link header (at least the fixed IP header, else MALFORMED), and load that header
     * into {@code buffer}; with TCP's first 20 bytes after it when the frame has them (the
     * common case, no IPv4 options or IPv6 extension headers, then needs one load). The TCP
     * buffer is zeroed first, so that the verifier sees every byte the code below may read
     * written whichever load ran.
     */
    private void ipHeader(String version, int counterBase, int headerBytes, int buffer) {
        asm.label(version).store(Size.DW, FP, COUNTER_BASE, counterBase);
        frameIpLength();
        asm.jump(JumpOp.SLT, R8, headerBytes, "malformed");
        zero(TCP_BUFFER, TCP_MIN_HEADER);
        asm.jump(JumpOp.SLT, R8, headerBytes + TCP_MIN_HEADER, version + " short");
        loadBytesAt(ipOffset, buffer, headerBytes + TCP_MIN_HEADER);
        asm.jump(version + " loaded").label(version + " short");
        loadBytesAt(ipOffset, buffer, headerBytes);
        asm.label(version + " loaded").jump(JumpOp.NE, R0, 0, "malformed");
    }

    private void ipv4() {
        ipHeader("ipv4", 0, 20, IPV4_BUFFER);
        asm.load(Size.B, R2, FP, IPV4_BUFFER)
                .mov(R3, R2)
                .alu64(AluOp.RSH, R3, 4)
                .jump(JumpOp.NE, R3, 4, "malformed")
                .alu64(AluOp.AND, R2, 0x0f)
                .alu64(AluOp.LSH, R2, 2)                      // R2: header length
                .jump(JumpOp.LT, R2, 20, "malformed")
                .load(Size.H, R3, FP, IPV4_BUFFER + 2)
                .toBigEndian(R3, 16)                          // R3: total length
                .jump(JumpOp.GT, R3, R8, "malformed")         // more than the frame holds
                .jump(JumpOp.GT, R2, R3, "malformed")
                .store(Size.DW, FP, IP_LENGTH, R3)
                // A non-zero fragment offset: no TCP header in this piece (RFC 791).
                .load(Size.H, R4, FP, IPV4_BUFFER + 6)
                .toBigEndian(R4, 16)
                .alu64(AluOp.AND, R4, 0x1fff)
                .jump(JumpOp.NE, R4, 0, "not tcp")
                .load(Size.B, R4, FP, IPV4_BUFFER + 9)
                .jump(JumpOp.NE, R4, 6, "not tcp")
                .mov(R9, R3)
                .alu64(AluOp.SUB, R9, R2)                     // R9: TCP length
                .jump(JumpOp.LT, R9, TCP_MIN_HEADER, "malformed")
                .mov(R7, R2)
                .alu64(AluOp.ADD, R7, ipOffset)
                .jump(JumpOp.EQ, R2, 20, "tcp");              // already in the buffer
        loadBytesAtR7(TCP_BUFFER, TCP_MIN_HEADER);
        asm.jump(JumpOp.NE, R0, 0, "malformed").jump("tcp");
    }

    private void ipv6() {
        ipHeader("ipv6", ClampMaps.OUTCOMES, 40, IPV6_BUFFER);
        asm.load(Size.B, R2, FP, IPV6_BUFFER)
                .alu64(AluOp.RSH, R2, 4)
                .jump(JumpOp.NE, R2, 6, "malformed")
                .load(Size.H, R3, FP, IPV6_BUFFER + 4)
                .toBigEndian(R3, 16)
                .alu64(AluOp.ADD, R3, 40)                     // R3: the IP length
                .jump(JumpOp.GT, R3, R8, "malformed")
                .store(Size.DW, FP, IP_LENGTH, R3)
                .load(Size.B, R9, FP, IPV6_BUFFER + 6)        // R9: next header
                .mov(R8, 40)                                  // R8: where it starts
                .jump(JumpOp.EQ, R9, 6, "ipv6 tcp in buffer");
        // RFC 8200 §4: hop-by-hop (0), routing (43), destination options (60) give their length
        // in 8-octet units not counting the first 8; a fragment header (44) is 8 bytes, and only
        // the first fragment (offset 0) carries the TCP header. Anything else (ESP, AH, no next
        // header, unknown): the walk stops, NOT_TCP. The same limit as MssClamp's.
        for (int k = 0; k < MssClamp.IPV6_EXTENSION_HEADER_LIMIT; k++) {
            String ext = "ext " + k;
            String fragment = "fragment " + k;
            String next = "header " + (k + 1);
            asm.jump(JumpOp.EQ, R9, 6, "ipv6 tcp")
                    .mov(R2, R8)
                    .alu64(AluOp.ADD, R2, 8)
                    .load(Size.DW, R3, FP, IP_LENGTH)
                    .jump(JumpOp.GT, R2, R3, "malformed")
                    .jump(JumpOp.EQ, R9, 44, fragment)
                    .jump(JumpOp.EQ, R9, 0, ext)
                    .jump(JumpOp.EQ, R9, 43, ext)
                    .jump(JumpOp.EQ, R9, 60, ext)
                    .jump("not tcp")
                    .label(ext);
            loadBytesAtR8(SCRATCH, 2);
            asm.jump(JumpOp.NE, R0, 0, "malformed")
                    .load(Size.B, R9, FP, SCRATCH)
                    .load(Size.B, R2, FP, SCRATCH + 1)
                    .alu64(AluOp.ADD, R2, 1)
                    .alu64(AluOp.LSH, R2, 3)
                    .alu64(AluOp.ADD, R8, R2)
                    .jump(next)
                    .label(fragment);
            loadBytesAtR8(SCRATCH, 4);
            asm.jump(JumpOp.NE, R0, 0, "malformed")
                    .load(Size.H, R2, FP, SCRATCH + 2)
                    .toBigEndian(R2, 16)
                    .alu64(AluOp.AND, R2, 0xfff8)
                    .jump(JumpOp.NE, R2, 0, "not tcp")
                    .load(Size.B, R9, FP, SCRATCH)
                    .alu64(AluOp.ADD, R8, 8)
                    .label(next);
        }
        asm.jump(JumpOp.NE, R9, 6, "not tcp")                  // a chain longer than the limit
                .label("ipv6 tcp")
                .load(Size.DW, R3, FP, IP_LENGTH)
                .jump(JumpOp.GT, R8, R3, "malformed")
                .mov(R9, R3)
                .alu64(AluOp.SUB, R9, R8)
                .jump(JumpOp.LT, R9, TCP_MIN_HEADER, "malformed")
                .mov(R7, R8)
                .alu64(AluOp.ADD, R7, ipOffset);
        loadBytesAtR7(TCP_BUFFER, TCP_MIN_HEADER);
        asm.jump(JumpOp.NE, R0, 0, "malformed")
                .jump("tcp")
                .label("ipv6 tcp in buffer")
                // At least 60 bytes are in the frame if the IP length leaves TCP 20: then the
                // 60-byte load ran.
                .load(Size.DW, R9, FP, IP_LENGTH)
                .alu64(AluOp.SUB, R9, 40)
                .jump(JumpOp.LT, R9, TCP_MIN_HEADER, "malformed")
                .mov(R7, 40 + ipOffset);
    }

    /** R7: the TCP header in the frame, R9: the TCP length (at least 20), its first 20 bytes at TCP_BUFFER. */
    private void tcp(int maxMssMapFd) {
        asm.label("tcp")
                .load(Size.B, R2, FP, TCP_BUFFER + 12)
                .alu64(AluOp.RSH, R2, 4)
                .alu64(AluOp.LSH, R2, 2)                      // header length
                .jump(JumpOp.LT, R2, TCP_MIN_HEADER, "malformed")
                .jump(JumpOp.GT, R2, R9, "malformed")
                .store(Size.DW, FP, TCP_HEADER_LENGTH, R2)
                .store(Size.DW, FP, TCP_LENGTH, R9)
                .load(Size.B, R3, FP, TCP_BUFFER + 13)
                .jump(JumpOp.SET, R3, 0x02, "syn")
                .jump("not syn")
                .label("syn");
        if (pathMapFd != 0) {
            asm.jump("path mss");
        } else {
            // Only a SYN needs the maximum: one lookup of the one entry.
            asm.store(Size.W, FP, KEY, 0)
                    .loadMap(R1, maxMssMapFd)
                    .mov(R2, FP)
                    .alu64(AluOp.ADD, R2, KEY)
                    .call(Helper.MAP_LOOKUP_ELEM)
                    .jump(JumpOp.EQ, R0, 0, "leave")
                    .load(Size.DW, R3, FP, COUNTER_BASE)
                    .load(Size.W, R2, R0, 0)                      // ipv4
                    .jump(JumpOp.EQ, R3, 0, "have max")
                    .load(Size.W, R2, R0, 4)                      // ipv6
                    .label("have max")
                    .jump(JumpOp.EQ, R2, 0, "leave");             // not set yet: change nothing
        }
        asm
                .label("max known")                           // R2: the maximum, R3: the counter base
                .store(Size.DW, FP, MAX_MSS, R2);
        if (reportsEvents()) {
            // The event's IP version and padding, once for all the MSS options it may lower.
            asm.mov(R2, 4)
                    .jump(JumpOp.EQ, R3, 0, "event version")
                    .mov(R2, 6)
                    .label("event version")
                    .store(Size.H, FP, EVENT + 4, R2)
                    .store(Size.H, FP, EVENT + 6, 0);
        }
        asm.mov(R9, 0);
        options();
        asm.label("broken")
                .alu64(AluOp.OR, R9, BROKEN)
                .label("option " + TCP_MAX_OPTION_BYTES)
                .label("walked")
                .mov(R2, Outcome.CLAMPED.ordinal())
                .jump(JumpOp.SET, R9, LOWERED, "count")
                .mov(R2, Outcome.MSS_SMALL_ENOUGH.ordinal())
                .jump(JumpOp.SET, R9, SAW_MSS, "count");
        if (addMss) {
            asm.jump("add mss");
        }
        asm.label("no mss").mov(R2, Outcome.NO_MSS_OPTION.ordinal()).jump("count");
    }

    /**
     * --pmtu: the maximum for this SYN from its path, as PathMss.pathMtu takes it at egress,
     * with the outgoing interface known (skb->ifindex) and the incoming one from
     * skb->ingress_ifindex. The trie (PathMtuMaps, filled by FlatRoutes) gives for each address
     * what its routes say; here the interfaces are added:
     * <ul>
     *   <li>toward the destination: the route's metric if the packet leaves by one of the
     *       route's devices, else the outgoing interface's MTU;
     *   <li>back to the source: no route, no limit; else the entry's MTU, or where that is 0
     *       the incoming interface's;
     *   <li>an interface the maps do not know: 576 (IPv4) or 1280 (IPv6).
     * </ul>
     * The smaller MTU less 40 (IPv4 and TCP headers) or 60 (IPv6 and TCP) is the maximum, and
     * the walk goes on at "max known". Before the first table is published the slot is empty:
     * the SYN is then counted and changed no more than with an unset max map.
     *
     * <p>Registers: R8 the trie (a map pointer, kept across calls), R9 the MTU toward the
     * destination; the addresses are copied from the header buffers into the key at constant
     * offsets with 4-byte moves.
     */
    private void pathMss() {
        asm.label("path mss").store(Size.W, FP, KEY, 0)
                .loadMap(R1, pathMapFd)
                .mov(R2, FP)
                .alu64(AluOp.ADD, R2, KEY)
                .call(Helper.MAP_LOOKUP_ELEM)
                .jump(JumpOp.EQ, R0, 0, "leave")
                .mov(R8, R0);
        zero(PATH_KEY, PathMtuMaps.KEY_SIZE);
        addressKey(IPV4_DESTINATION, IPV6_DESTINATION, "destination");
        asm.mov(R1, R8)
                .mov(R2, FP)
                .alu64(AluOp.ADD, R2, PATH_KEY)
                .call(Helper.MAP_LOOKUP_ELEM);
        if (ingress) {
            towardUnknownInterface();
            return;
        }
        asm.jump(JumpOp.EQ, R0, 0, "toward by interface")
                .load(Size.W, R2, R0, PathMtuMaps.METRIC)
                .jump(JumpOp.EQ, R2, 0, "toward by interface")
                .load(Size.W, R3, R6, SKB_IFINDEX)
                .jump(JumpOp.EQ, R3, 0, "toward by interface");  // (never at egress; 0 ends the list)
        for (int d = 0; d < PathMtuMaps.DEVICES; d++) {
            asm.load(Size.W, R4, R0, PathMtuMaps.DEVICE_LIST + 4 * d)
                    .jump(JumpOp.EQ, R4, 0, "toward by interface")
                    .jump(JumpOp.EQ, R4, R3, "toward by metric");
        }
        asm.jump("toward by interface")
                .label("toward by metric")
                .mov(R9, R2)
                .jump("back")
                .label("toward by interface")
                .load(Size.W, R2, R6, SKB_IFINDEX);
        linkMtu("out");
        asm.mov(R9, R0);
        back();
    }

    /**
     * At ingress, as PathMss without an outgoing interface: toward the destination the route's
     * own MTU (no route: no limit; 0: none known, the last resort); an IP version with too many
     * routes gets the incoming interface's MTU for the whole path.
     */
    private void towardUnknownInterface() {
        asm.mov(R9, NO_LIMIT_MTU)
                .jump(JumpOp.EQ, R0, 0, "back")
                .load(Size.W, R2, R0, PathMtuMaps.FLAGS)
                .jump(JumpOp.SET, R2, PathMtuMaps.INCOMPLETE, "incomplete")
                .load(Size.W, R9, R0, PathMtuMaps.MTU)
                .jump(JumpOp.NE, R9, 0, "back")
                .load(Size.DW, R3, FP, COUNTER_BASE)
                .mov(R9, IPV4_LAST_RESORT_MTU)
                .jump(JumpOp.EQ, R3, 0, "back")
                .mov(R9, IPV6_LAST_RESORT_MTU)
                .jump("back")
                .label("incomplete")
                .load(Size.W, R2, R6, SKB_INGRESS_IFINDEX);
        linkMtu("incomplete");
        asm.mov(R2, R0).jump("path mtu");
        back();
    }

    /** R9 the MTU toward the destination: the way back to the source, then the smaller of the two as the maximum. */
    private void back() {
        asm.label("back");
        zero(PATH_KEY, PathMtuMaps.KEY_SIZE);
        addressKey(IPV4_SOURCE, IPV6_SOURCE, "source");
        asm.mov(R1, R8)
                .mov(R2, FP)
                .alu64(AluOp.ADD, R2, PATH_KEY)
                .call(Helper.MAP_LOOKUP_ELEM)
                .mov(R2, NO_LIMIT_MTU)
                .jump(JumpOp.EQ, R0, 0, "path mtu")
                .load(Size.W, R2, R0, PathMtuMaps.MTU)
                .jump(JumpOp.NE, R2, 0, "path mtu")
                .load(Size.W, R2, R6, SKB_INGRESS_IFINDEX);
        linkMtu("in");
        asm.mov(R2, R0)
                .label("path mtu")
                .jump(JumpOp.LE, R2, R9, "path mtu smaller")
                .mov(R2, R9)
                .label("path mtu smaller")
                .load(Size.DW, R3, FP, COUNTER_BASE)
                .alu64(AluOp.SUB, R2, 40)
                .jump(JumpOp.EQ, R3, 0, "max known")
                .alu64(AluOp.SUB, R2, 20)
                .jump("max known");
    }

    /** The trie's key for the packet's address at {@code ipv4} or {@code ipv6} in the header buffer, as a full-length prefix. */
    private void addressKey(int ipv4, int ipv6, String which) {
        asm.load(Size.DW, R3, FP, COUNTER_BASE)
                .jump(JumpOp.NE, R3, 0, "ipv6 " + which)
                .store(Size.W, FP, PATH_KEY, 32 + 32)
                .store(Size.W, FP, PATH_KEY + 4, PathMtuMaps.SPACE_IPV4)
                .load(Size.W, R2, FP, ipv4)
                .store(Size.W, FP, PATH_KEY + 8, R2)
                .jump(which + " key")
                .label("ipv6 " + which)
                .store(Size.W, FP, PATH_KEY, 32 + 128)
                .store(Size.W, FP, PATH_KEY + 4, PathMtuMaps.SPACE_IPV6);
        for (int word = 0; word < 4; word++) {
            asm.load(Size.W, R2, FP, ipv6 + 4 * word).store(Size.W, FP, PATH_KEY + 8 + 4 * word, R2);
        }
        asm.label(which + " key");
    }

    /** R0 = the MTU of interface R2 from the trie, or the IP version's last resort (576, 1280) for 0 or one not there. */
    private void linkMtu(String which) {
        asm.jump(JumpOp.EQ, R2, 0, "last resort " + which)
                .store(Size.W, FP, PATH_KEY, 32 + 32)
                .store(Size.W, FP, PATH_KEY + 4, PathMtuMaps.SPACE_LINK)
                .store(Size.W, FP, PATH_KEY + 8, R2)
                .mov(R1, R8)
                .mov(R2, FP)
                .alu64(AluOp.ADD, R2, PATH_KEY)
                .call(Helper.MAP_LOOKUP_ELEM)
                .jump(JumpOp.EQ, R0, 0, "last resort " + which)
                .load(Size.W, R0, R0, PathMtuMaps.MTU)
                .jump("link mtu " + which)
                .label("last resort " + which)
                .load(Size.DW, R3, FP, COUNTER_BASE)
                .mov(R0, IPV4_LAST_RESORT_MTU)
                .jump(JumpOp.EQ, R3, 0, "link mtu " + which)
                .mov(R0, IPV6_LAST_RESORT_MTU)
                .label("link mtu " + which);
    }

    /**
     * --add-mss, as MssClamp.addMss: only for a SYN without payload whose option walk ended
     * cleanly (EOL or the header's end) without meeting kind 2, with room in the header for 4
     * more bytes. The MSS option goes first and the old options move back by 4 bytes, which
     * keeps their 16-bit words aligned: the TCP checksum then only gains the new option's words,
     * the data offset's change and the pseudo-header length's change (BPF_F_PSEUDO_HDR); the
     * IPv4 header checksum, the total length's change. The frame is cut to the new packet's end
     * (bpf_skb_change_tail), so link padding after a short frame goes.
     *
     * <p>Nothing is written before every check has passed; if growing the packet fails, it goes
     * on unchanged as NO_MSS_OPTION.
     */
    private void addMss() {
        asm.label("add mss")
                .jump(JumpOp.SET, R9, BROKEN | SAW_MSS_KIND, "no mss");
        // The sizes below make the header length precise: read afresh (see headerLength()).
        headerLength(R8);
        asm.load(Size.DW, R2, FP, TCP_LENGTH)
                .jump(JumpOp.NE, R8, R2, "no mss")             // a payload: inserting would move data
                .jump(JumpOp.GT, R8, TCP_MAX_HEADER - MSS_OPTION_LENGTH, "no mss")
                .jump(JumpOp.LT, R8, TCP_MIN_HEADER, "no mss")  // (checked before; for the verifier)
                .alu64(AluOp.SUB, R8, TCP_MIN_HEADER)          // R8: bytes of old options, 0 to 36
                // R9: the MSS to announce, what the peer would assume or the maximum if smaller.
                .load(Size.DW, R9, FP, MAX_MSS)
                .load(Size.DW, R2, FP, COUNTER_BASE)
                .mov(R3, IPV4_DEFAULT_MSS)
                .jump(JumpOp.EQ, R2, 0, "add mss default")
                .mov(R3, IPV6_DEFAULT_MSS)
                .label("add mss default")
                .jump(JumpOp.LE, R9, R3, "add mss value")
                .mov(R9, R3)
                .label("add mss value");
        // The old options are at OPTIONS already, the walk's copy: the MSS option goes before them.
        asm.store(Size.B, FP, ADDED_OPTIONS, 2)
                .store(Size.B, FP, ADDED_OPTIONS + 1, MSS_OPTION_LENGTH)
                .mov(R2, R9)
                .toBigEndian(R2, 16)
                .store(Size.H, FP, ADDED_OPTIONS + 2, R2)
                // The frame now ends where the grown packet ends.
                .mov(R1, R6)
                .mov(R2, R7)
                .alu64(AluOp.ADD, R2, TCP_MIN_HEADER + MSS_OPTION_LENGTH)
                .alu64(AluOp.ADD, R2, R8)
                .mov(R3, 0)
                .call(Helper.SKB_CHANGE_TAIL)
                .jump(JumpOp.NE, R0, 0, "no mss")
                // From here every step is taken: a failing helper (none can, the bytes are all
                // in the packet now) would leave a packet only partly changed.
                .mov(R1, R6)
                .mov(R2, R7)
                .alu64(AluOp.ADD, R2, TCP_MIN_HEADER)
                .mov(R3, FP)
                .alu64(AluOp.ADD, R3, ADDED_OPTIONS)
                .mov(R4, R8)
                .alu64(AluOp.ADD, R4, MSS_OPTION_LENGTH)
                .mov(R5, 0)
                .call(Helper.SKB_STORE_BYTES)
                .mov(R3, 0)
                .load(Size.W, R4, FP, ADDED_OPTIONS);
        l4ChecksumReplace(4);                              // the new option's two words, from zero
        // The data offset (high nibble of byte 12) one word more; bytes 12-13 as they lie in memory.
        asm.load(Size.H, R3, FP, TCP_BUFFER + 12)
                .mov(R4, R3)
                .alu64(AluOp.ADD, R4, 0x10)                    // byte 12 is the low byte on this host
                .store(Size.H, FP, NEW_FIELD, R4);
        storeNewField(R7, 12);
        asm.load(Size.H, R3, FP, TCP_BUFFER + 12).load(Size.H, R4, FP, NEW_FIELD);
        l4ChecksumReplace(2);
        // The pseudo-header's TCP length, 4 bytes more.
        asm.load(Size.DW, R3, FP, TCP_HEADER_LENGTH)
                .mov(R4, R3)
                .alu64(AluOp.ADD, R4, MSS_OPTION_LENGTH)
                .toBigEndian(R3, 16)
                .toBigEndian(R4, 16);
        l4ChecksumReplace(2 | BPF_F_PSEUDO_HDR);
        asm.load(Size.DW, R2, FP, COUNTER_BASE)
                .jump(JumpOp.NE, R2, 0, "add mss ipv6")
                // IPv4: total length and header checksum.
                .load(Size.DW, R3, FP, IP_LENGTH)
                .mov(R4, R3)
                .alu64(AluOp.ADD, R4, MSS_OPTION_LENGTH)
                .toBigEndian(R4, 16)
                .store(Size.H, FP, NEW_FIELD, R4)
                .mov(R7, ipOffset);                            // R7 from here: the IP header
        storeNewField(R7, 2);
        asm.load(Size.DW, R3, FP, IP_LENGTH)
                .toBigEndian(R3, 16)
                .load(Size.H, R4, FP, NEW_FIELD)
                .mov(R1, R6)
                .mov(R2, ipOffset + 10)
                .mov(R5, 2)
                .call(Helper.L3_CSUM_REPLACE)
                .jump("mss added")
                // IPv6: the payload length; no header checksum.
                .label("add mss ipv6")
                .load(Size.DW, R4, FP, IP_LENGTH)
                .alu64(AluOp.ADD, R4, MSS_OPTION_LENGTH - 40)
                .toBigEndian(R4, 16)
                .store(Size.H, FP, NEW_FIELD, R4)
                .mov(R7, ipOffset);
        storeNewField(R7, 4);
        asm.label("mss added");
        if (reportsEvents()) {
            asm.store(Size.H, FP, EVENT, 0).store(Size.H, FP, EVENT + 2, R9);
            event();
        }
        asm.mov(R2, Outcome.MSS_ADDED.ordinal()).jump("count");
    }

    /** False without -v: nobody would read the events, so none is built or written. */
    private boolean reportsEvents() {
        return eventsMapFd != 0;
    }

    /** Writes the MssEvent at EVENT into the ring buffer; if it is full, the event is lost, nothing else. */
    private void event() {
        asm.loadMap(R1, eventsMapFd)
                .mov(R2, FP)
                .alu64(AluOp.ADD, R2, EVENT)
                .mov(R3, MssEvent.SIZE)
                .mov(R4, 0)
                .call(Helper.RINGBUF_OUTPUT);
    }

    /** bpf_l4_csum_replace(skb, tcp + 16, R3, R4, flags): R3 the old value, R4 the new, as they lie in memory. */
    private void l4ChecksumReplace(int flags) {
        asm.mov(R1, R6)
                .mov(R2, R7)
                .alu64(AluOp.ADD, R2, TCP_CHECKSUM)
                .mov(R5, flags)
                .call(Helper.L4_CSUM_REPLACE);
    }

    /** bpf_skb_store_bytes(skb, base + offset, fp + NEW_FIELD, 2, 0). */
    private void storeNewField(Register base, int offset) {
        asm.mov(R1, R6)
                .mov(R2, base)
                .alu64(AluOp.ADD, R2, offset)
                .mov(R3, FP)
                .alu64(AluOp.ADD, R3, NEW_FIELD)
                .mov(R4, 2)
                .mov(R5, 0)
                .call(Helper.SKB_STORE_BYTES);
    }

    /**
     * The option walk of RFC 9293 §3.1, as MssClamp's: EOL ends the list, NOP is one byte, every
     * other kind needs a length of at least 2 that fits the header, else the walk stops (keeping
     * what it did). An MSS (kind 2, length 4) above the maximum is lowered.
     *
     * <p>The options are first copied to OPTIONS with one bpf_skb_load_bytes of hl - 20 bytes.
     * Its size is a computed one, which the verifier must know exactly (it marks it precise), so
     * it is computed from the header length read afresh from the packet's copy: a value loaded
     * from bytes a helper wrote carries no precision further back, and it dies at the call.
     * The 44 bytes of OPTIONS are zeroed first, so that a position after the last option reads
     * as EOL (the walk ends there, as at the header's end) and a length byte after it as 0 (too
     * small: the walk stops, as for an option whose length byte the header does not hold).
     */
    private void options() {
        zero(OPTIONS, TCP_MAX_OPTION_BYTES + 4);
        headerLength(R4);
        asm.jump(JumpOp.LE, R4, TCP_MIN_HEADER, "option 0")      // no options: the walk reads EOL
                .alu64(AluOp.SUB, R4, TCP_MIN_HEADER)
                .mov(R1, R6)
                .mov(R2, R7)
                .alu64(AluOp.ADD, R2, TCP_MIN_HEADER)
                .mov(R3, FP)
                .alu64(AluOp.ADD, R3, OPTIONS)
                .call(Helper.SKB_LOAD_BYTES)
                .jump(JumpOp.NE, R0, 0, "broken");
        for (int p = 0; p < TCP_MAX_OPTION_BYTES; p++) {
            option(p);
        }
    }

    /**
     * The walk's step for an option at position {@code p} of the option bytes. The position is
     * this block of code, not a register: every offset into OPTIONS is a constant, and a step
     * goes on by jumping to the block of its next position (p + 1 after a NOP, p + the length
     * after any other option). So the verifier, which sees no position it could know or mark
     * precise, verifies each block once per state of R9's findings.
     */
    private void option(int p) {
        String skip = "skip option " + p;
        asm.label("option " + p)
                .load(Size.B, R2, FP, OPTIONS + p)
                .jump(JumpOp.EQ, R2, 0, "walked")                // EOL, or after the last option
                .jump(JumpOp.EQ, R2, 1, "option " + (p + 1))    // NOP
                .load(Size.B, R4, FP, OPTIONS + p + 1)
                .jump(JumpOp.LT, R4, 2, "broken");
        headerLength(R3);
        asm.alu64(AluOp.SUB, R3, TCP_MIN_HEADER + p)             // the option bytes from p on
                .jump(JumpOp.GT, R4, R3, "broken")               // runs past the header
                .jump(JumpOp.NE, R2, 2, skip)
                .alu64(AluOp.OR, R9, SAW_MSS_KIND);
        if (p + MSS_OPTION_LENGTH <= TCP_MAX_OPTION_BYTES) {     // else no room for one: the length is another
            asm.jump(JumpOp.NE, R4, MSS_OPTION_LENGTH, skip);
            mss(p);
        }
        // On by the option's length, 2 up to what the header holds from p.
        asm.label(skip);
        for (int length = 2; p + length <= TCP_MAX_OPTION_BYTES; length++) {
            asm.jump(JumpOp.EQ, R4, length, "option " + (p + length));
        }
        asm.jump("broken");                                      // (never: R4 is at most the bytes left)
    }

    /** An MSS option at position {@code p}: lowered to the maximum if above it, then on to p + 4. */
    private void mss(int p) {
        String next = "option " + (p + MSS_OPTION_LENGTH);
        asm.alu64(AluOp.OR, R9, SAW_MSS);
        mssValue(R3, p);
        asm.load(Size.DW, R2, FP, MAX_MSS)
                .jump(JumpOp.LE, R3, R2, next)                   // never raised
                .toBigEndian(R2, 16)
                .store(Size.H, FP, NEW_FIELD, R2);
        storeNewField(R7, TCP_MIN_HEADER + p + 2);
        asm.jump(JumpOp.NE, R0, 0, "walked");
        // bpf_l4_csum_replace takes the old and new 16-bit field as they lie in memory. The
        // checksum sums words aligned to the TCP header; an MSS at an odd offset (after a single
        // NOP) falls across two words and counts byte-swapped, so the swapped values go in
        // (MssClamp.replaceInChecksum): on this little-endian host, the MSS values as numbers.
        if (p % 2 == 0) {
            asm.load(Size.H, R3, FP, OPTIONS + p + 2).load(Size.H, R4, FP, NEW_FIELD);
        } else {
            mssValue(R3, p);
            asm.load(Size.DW, R4, FP, MAX_MSS);
        }
        l4ChecksumReplace(2);                                    // BPF_F_HDR_FIELD_MASK: a 2-byte field
        asm.alu64(AluOp.OR, R9, LOWERED);
        if (reportsEvents()) {
            mssValue(R2, p);
            asm.store(Size.H, FP, EVENT, R2)
                    .load(Size.DW, R2, FP, MAX_MSS)
                    .store(Size.H, FP, EVENT + 2, R2);
            event();
        }
        asm.jump(next);
    }

    /**
     * {@code r} = the MSS of the option at position {@code p}, as a number; R1 is clobbered.
     * The verifier wants stack loads aligned: at an odd position the value is read as two bytes.
     */
    private void mssValue(Register r, int p) {
        if (p % 2 == 0) {
            asm.load(Size.H, r, FP, OPTIONS + p + 2).toBigEndian(r, 16);
        } else {
            asm.load(Size.B, r, FP, OPTIONS + p + 2)
                    .alu64(AluOp.LSH, r, 8)
                    .load(Size.B, R1, FP, OPTIONS + p + 3)
                    .alu64(AluOp.OR, r, R1);
        }
    }

    /**
     * {@code r} = the TCP header length, read afresh from the packet's copy: a value the verifier
     * knows nothing of, which it therefore never marks precise, so that comparing it decides
     * nothing and splits no states (a kept register would be narrowed by each comparison until
     * one is decided; then every state along the walk would be told apart by it).
     */
    private void headerLength(Register r) {
        asm.load(Size.B, r, FP, TCP_BUFFER + 12)
                .alu64(AluOp.RSH, r, 4)
                .alu64(AluOp.LSH, r, 2);
    }

    /** R2: the outcome's ordinal. Adds one to its counter, then hands the packet on. */
    private void countAndLeave(int countsMapFd) {
        asm.label("malformed").mov(R2, Outcome.MALFORMED.ordinal()).jump("count")
                .label("not tcp").mov(R2, Outcome.NOT_TCP.ordinal()).jump("count")
                .label("not syn").mov(R2, Outcome.NOT_SYN.ordinal())
                .label("count")
                .load(Size.DW, R3, FP, COUNTER_BASE)
                .alu64(AluOp.ADD, R2, R3)
                .store(Size.W, FP, KEY, R2)
                .loadMap(R1, countsMapFd)
                .mov(R2, FP)
                .alu64(AluOp.ADD, R2, KEY)
                .call(Helper.MAP_LOOKUP_ELEM)
                .jump(JumpOp.EQ, R0, 0, "leave")
                .load(Size.DW, R1, R0, 0)
                .alu64(AluOp.ADD, R1, 1)
                .store(Size.DW, R0, 0, R1)
                .label("leave")
                .mov(R0, TC_ACT_UNSPEC)
                .exit();
    }

    private void zero(int fpOffset, int bytes) {
        int at = fpOffset;
        if ((at & 7) != 0) {
            asm.store(Size.W, FP, at, 0);
            at += 4;
        }
        for (; at + 8 <= fpOffset + bytes; at += 8) {
            asm.store(Size.DW, FP, at, 0);
        }
        if (at < fpOffset + bytes) {
            asm.store(Size.W, FP, at, 0);
        }
    }

    /** R0 = bpf_skb_load_bytes(skb, offset, fp + fpOffset, length). */
    private void loadBytesAt(int offset, int fpOffset, int length) {
        asm.mov(R2, offset);
        loadBytes(fpOffset, length);
    }

    private void loadBytesAtR7(int fpOffset, int length) {
        asm.mov(R2, R7);
        loadBytes(fpOffset, length);
    }

    private void loadBytesAtR8(int fpOffset, int length) {
        asm.mov(R2, R8).alu64(AluOp.ADD, R2, ipOffset);
        loadBytes(fpOffset, length);
    }

    private void loadBytes(int fpOffset, int length) {
        asm.mov(R1, R6)
                .mov(R3, FP)
                .alu64(AluOp.ADD, R3, fpOffset)
                .mov(R4, length)
                .call(Helper.SKB_LOAD_BYTES);
    }
}
