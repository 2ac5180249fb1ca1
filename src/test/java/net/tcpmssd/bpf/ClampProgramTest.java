package net.tcpmssd.bpf;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.sessions.JqwikSession;
import net.tcpmssd.packet.PacketCorpus;
import net.tcpmssd.os.ErrnoException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import net.tcpmssd.packet.MaxMss;
import net.tcpmssd.packet.MssClamp;
import net.tcpmssd.packet.Outcome;

/**
 * The differential test of the in-kernel data plane: every packet of the core's corpora goes
 * through the real verifier-checked program with BPF_PROG_TEST_RUN and through MssClamp on a
 * copy, and must come out byte for byte the same, with the same outcome counted.
 *
 * <p>What "the same" means is the program's documented rule (ClampProgram): the IP version comes
 * from the link layer's EtherType and a header that disagrees is MALFORMED; bytes after the IP
 * length are padding, so MssClamp is given the packet cut to its IP length and the padding must
 * come out unchanged. Without padding and with agreeing versions that is MssClamp on the whole
 * packet. Test runs build CHECKSUM_NONE skbs, where bpf_l4_csum_replace does RFC 1624's update.
 */
class ClampProgramTest {

    private static final int[] MTUS = {68, 576, 1280, 1492, 1500, 9000, 65535};
    private static final byte[] MACS = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};

    private static ClampMaps maps;
    private static BpfProgram ethernet;
    private static BpfProgram l3;
    private static BpfProgram ethernetAddingMss;
    private static BpfProgram l3AddingMss;
    private static final int EINVAL = 22;
    private static final Map<Outcome, Integer> seen = new EnumMap<>(Outcome.class);
    private static int refusedByTestRun;

    @BeforeAll
    static void load() throws Exception {
        KernelBpf.assumeUsable();
        maps = ClampMaps.create();
        try {
            ethernet = ClampProgram.load(LinkType.ETHERNET, maps, false);
            l3 = ClampProgram.load(LinkType.L3, maps, false);
            ethernetAddingMss = ClampProgram.load(LinkType.ETHERNET, maps, true);
            l3AddingMss = ClampProgram.load(LinkType.L3, maps, true);
        } catch (VerifierException e) {
            java.nio.file.Path log = java.nio.file.Path.of("target", "verifier.log");
            java.nio.file.Files.writeString(log, e.log());
            throw new AssertionError(e.getMessage() + " (whole log in " + log + ")", e);
        }
    }

    @AfterAll
    static void close() {
        if (ethernet != null) {
            ethernet.close();
            l3.close();
            ethernetAddingMss.close();
            l3AddingMss.close();
            maps.close();
        }
        System.out.println("ClampProgramTest outcomes: " + seen + "; frames shorter than an IP header, refused by the test run: " + refusedByTestRun);
    }

    @Test
    void examplePacketsAtEveryMtuWithAndWithoutPaddingAndWithTheWrongEtherType() throws Exception {
        int runs = 0;
        for (int mtu : MTUS) {
            MaxMss max = MaxMss.forMtu(mtu);
            for (byte[] packet : PacketCorpus.examples()) {
                int version = versionOf(packet);
                runs += check(LinkType.ETHERNET, packet, version, max);
                runs += check(LinkType.ETHERNET, concatenate(packet, new byte[6]), version, max);
                runs += check(LinkType.ETHERNET, packet, 10 - version, max);
            }
        }
        assertThat(runs).isGreaterThan(3 * MTUS.length * (PacketCorpus.examples().size() - 5));
        assertThat(seen).containsKeys(Outcome.CLAMPED, Outcome.MSS_SMALL_ENOUGH, Outcome.NO_MSS_OPTION,
                Outcome.NOT_SYN, Outcome.NOT_TCP, Outcome.MALFORMED);
    }

    @Test
    void generatedSynsAndSegmentsWithoutSyn() throws Exception {
        Random random = new Random(20261201);
        int runs = generated(PacketCorpus.syns(), 2000, random) + generated(PacketCorpus.nonSyns(), 500, random);
        assertThat(runs).isEqualTo(2500);
    }

    @Test
    void mutatedSyns() throws Exception {
        assertThat(generated(PacketCorpus.mutatedSyns(), 4000, new Random(7))).isGreaterThan(3000);
    }

    /**
     * The L3 program (IP header at 0) through a test run, which always builds an Ethernet skb:
     * the EtherType it reads is then the IP packet's bytes 12-13. For IPv6 those are the third
     * group of the source address, so a source in 2001:db8:86dd::/48 (documentation space) makes
     * the kernel take the bare packet for IPv6. For IPv4 they would be the first half of the
     * source address (8.0.0.0/16), no documentation address: IPv4 on L3 is not run here (it
     * shares every instruction with the Ethernet program but the constant offset).
     */
    @Test
    void bareIpv6PacketsThroughTheL3Program() throws Exception {
        Random random = new Random(86);
        int runs = 0;
        for (byte[] packet : samples(PacketCorpus.syns(), 1000, random)) {
            if (versionOf(packet) != 6) {
                continue;
            }
            packet[12] = (byte) 0x86;
            packet[13] = (byte) 0xdd;
            runs += check(LinkType.L3, packet, 6, MaxMss.forMtu(68 + random.nextInt(9000)));
            runs += check(l3AddingMss, LinkType.L3, true, packet, 6, MaxMss.forMtu(68 + random.nextInt(9000)));
        }
        assertThat(runs).isGreaterThan(600);
    }

    /** --add-mss: every corpus through the program built with it, which must also clamp as the other does. */
    @Test
    void addingMssToSynsWithoutOne() throws Exception {
        Random random = new Random(6);
        int runs = 0;
        List<byte[]> packets = new ArrayList<>(PacketCorpus.examples());
        packets.addAll(samples(PacketCorpus.synsWithoutMss(), 1000, random));
        packets.addAll(samples(PacketCorpus.syns(), 1000, random));
        packets.addAll(samples(PacketCorpus.mutatedSyns(), 2000, random));
        for (byte[] packet : packets) {
            byte[] framed = random.nextInt(3) == 0 ? concatenate(packet, new byte[1 + random.nextInt(20)]) : packet;
            runs += check(ethernetAddingMss, LinkType.ETHERNET, true, framed, versionOf(packet),
                    MaxMss.forMtu(68 + random.nextInt(9000)));
        }
        assertThat(runs).isGreaterThan(3000);
        assertThat(seen).containsKey(Outcome.MSS_ADDED);
    }

    /** How much verifying the four variants costs the kernel, for the docs; and that they stay well inside its limits. */
    /**
     * Without -v the daemon loads the program without its ring buffer writes: the same bytes and
     * counts for every packet, and no event.
     */
    @Test
    void withoutEventsEveryPacketComesOutTheSameAndNoEventIsWritten() throws Exception {
        try (BpfProgram quiet = ClampProgram.load(LinkType.ETHERNET, maps, false, null, false, false);
                BpfProgram quietAdding = ClampProgram.load(LinkType.ETHERNET, maps, true, null, false, false)) {
            List<byte[]> packets = new ArrayList<>(PacketCorpus.examples());
            packets.addAll(samples(PacketCorpus.syns(), 500, new Random(1201)));
            int runs = 0;
            for (byte[] packet : packets) {
                MaxMss max = MaxMss.forMtu(1280);
                runs += check(quiet, LinkType.ETHERNET, false, packet, versionOf(packet), max, false);
                runs += check(quietAdding, LinkType.ETHERNET, true, packet, versionOf(packet), max, false);
            }
            assertThat(runs).isGreaterThan(packets.size());
            assertThat(seen).containsKeys(Outcome.CLAMPED, Outcome.MSS_ADDED);
        }
    }

    @Test
    void verifierStatistics() throws Exception {
        try (PathMtuMaps paths = PathMtuMaps.create()) {
            for (LinkType link : LinkType.values()) {
                for (int variant = 0; variant < 6; variant++) {
                    boolean addMss = (variant & 1) != 0;
                    boolean pmtu = (variant & 6) != 0;
                    boolean ingress = (variant & 4) != 0;
                    byte[] code = ClampProgram.assemble(link, addMss, maps.maxMssFd(), maps.countsFd(), maps.eventsFd(),
                            pmtu ? paths.slotFd() : 0, ingress);
                    String stats = BpfProgram.verifierStatistics(BpfProgram.SCHED_CLS, code, ClampProgram.LICENSE);
                    System.out.println("ClampProgram verifier, %s%s%s, %d instructions: %s".formatted(link, addMss ? " with --add-mss" : "",
                            pmtu ? " with --pmtu" + (ingress ? " at ingress" : "") : "", code.length / 8, stats.replace('\n', ' ')));
                    int processed = Integer.parseInt(stats.replaceAll("(?s).*processed (\\d+) insns.*", "$1"));
                    assertThat(processed).isLessThan(100_000);
                }
            }
        }
    }

    /**
     * How long the program takes, as the kernel measures a test run (ns per run, mean over the
     * repeats): the packet stays in place between repeats, so a SYN is clamped by the first run
     * and every later run walks an MSS that is already small enough. The clamping path itself
     * (store and checksum helpers included) is the mean of single runs on fresh copies. Printed
     * for BENCHMARKS.md; asserts only that the numbers exist.
     */
    @Test
    void nanosecondsPerPacket() throws Exception {
        maps.setMaxMss(MaxMss.forMtu(1280));
        int repeat = 1_000_000;
        List<String> lines = new ArrayList<>();
        try (BpfProgram quiet = ClampProgram.load(LinkType.ETHERNET, maps, false, null, false, false)) {
            for (int version : new int[] {4, 6}) {
                long notSyn = ethernet.testRun(ethernetFrame(PacketCorpus.dataSegment(version), version), 0, repeat).nanosPerRun();
                long walked = ethernet.testRun(ethernetFrame(PacketCorpus.linuxSyn(version), version), 0, repeat).nanosPerRun();
                byte[] syn = ethernetFrame(PacketCorpus.linuxSyn(version), version);
                lines.add("IPv%d: data segment (not SYN) %d ns; Linux SYN, MSS already small %d ns (repeat %d); Linux SYN clamped %s; without events (no -v) %s"
                        .formatted(version, notSyn, walked, repeat, meanOfSingleRuns(ethernet, syn), meanOfSingleRuns(quiet, syn)));
                assertThat(notSyn).isPositive();
            }
        }
        lines.forEach(line -> System.out.println("ClampProgram test run: " + line));
        System.out.println("ClampProgram JIT image: %d bytes, %d with --add-mss".formatted(ethernet.jitedLength(), ethernetAddingMss.jitedLength()));
    }

    /** The mean of single test runs of a fresh copy: each one really clamps. */
    private static String meanOfSingleRuns(BpfProgram program, byte[] frame) throws ErrnoException {
        int fresh = 20_000;
        long nanos = 0;
        for (int i = 0; i < fresh; i++) {
            nanos += program.testRun(frame, 0, 1).nanosPerRun();
        }
        return "%.1f ns (mean of %d single runs)".formatted(nanos / (double) fresh, fresh);
    }

    private int generated(Arbitrary<byte[]> packets, int count, Random random) throws Exception {
        int runs = 0;
        for (byte[] packet : samples(packets, count, random)) {
            byte[] framed = random.nextInt(4) == 0 ? concatenate(packet, new byte[1 + random.nextInt(20)]) : packet;
            runs += check(LinkType.ETHERNET, framed, versionOf(packet), MaxMss.forMtu(68 + random.nextInt(9000)));
        }
        return runs;
    }

    /** Draws from a generator outside a property (a jqwik session stands in for one), reproducibly. */
    private static List<byte[]> samples(Arbitrary<byte[]> packets, int count, Random random) {
        List<byte[]> drawn = new ArrayList<>();
        JqwikSession.start();
        try {
            var generator = packets.generator(1000);
            for (int i = 0; i < count; i++) {
                drawn.add(generator.next(random).value());
            }
        } finally {
            JqwikSession.finish();
        }
        return drawn;
    }

    private static int check(LinkType link, byte[] packet, int version, MaxMss max) throws Exception {
        return check(link == LinkType.ETHERNET ? ethernet : l3, link, false, packet, version, max);
    }

    /** One packet through both; returns 1, or 0 if the test run cannot take it. {@code version} chooses the EtherType. */
    private static int check(BpfProgram program, LinkType link, boolean addMss, byte[] packet, int version, MaxMss max)
            throws Exception {
        return check(program, link, addMss, packet, version, max, true);
    }

    /** As above; a program built without events ({@code events} false) must report none. */
    private static int check(BpfProgram program, LinkType link, boolean addMss, byte[] packet, int version, MaxMss max,
            boolean events) throws Exception {
        maps.setMaxMss(max);
        Expected expect = expected(packet, version, max, addMss);
        byte[] expected = expect.packet();
        Outcome outcome = expect.outcome();
        byte[] frame = link == LinkType.ETHERNET ? ethernetFrame(packet, version) : packet;
        long before = maps.count(version, outcome);
        maps.takeEvents(); // what earlier runs left (the timing runs fill the ring)

        String what = "%s packet %s (version %d, %s)".formatted(link, java.util.HexFormat.of().formatHex(packet), version, max);
        TestRun run;
        try {
            run = program.testRun(frame, addMss ? 4 : 0, 1);
        } catch (ErrnoException e) {
            // A test-run limit, not the program's: the kernel will not build an IPv4 or IPv6
            // skb with less than an IP header (20 or 40 bytes) after the link header (EINVAL).
            // The program's first check takes such a packet for MALFORMED.
            if (e.errno() == EINVAL && packet.length < (version == 6 ? 40 : 20)) {
                assertThat(outcome).isEqualTo(Outcome.MALFORMED);
                refusedByTestRun++;
                return 0;
            }
            throw new AssertionError(what, e);
        }

        assertThat(run.returnValue()).as(what).isEqualTo(ClampProgram.TC_ACT_UNSPEC);
        assertThat(Arrays.copyOfRange(run.packet(), link.ipOffset, run.packet().length)).as(what + " -> " + outcome)
                .isEqualTo(expected);
        assertThat(maps.count(version, outcome)).as(what + " counted as " + outcome).isEqualTo(before + 1);
        assertThat(maps.takeEvents()).as(what + " events").isEqualTo(events ? expect.events() : List.of());
        seen.merge(outcome, 1, Integer::sum);
        return 1;
    }

    /** What the program should make of a packet: the IP packet (and padding) it leaves, and how it counts it. */
    record Expected(byte[] packet, Outcome outcome, List<MssEvent> events) {}

    /**
     * MssClamp under the program's rules (see the class comment), on a copy; with {@code addMss}
     * then MssClamp.addMss as the daemon calls it (after clamping found no MSS), with room for
     * the 4 bytes: a packet that grows loses its padding (the program cuts the frame to its end).
     */
    static Expected expected(byte[] packet, int version, MaxMss max, boolean addMss) {
        byte[] copy = packet.clone();
        List<MssEvent> events = new ArrayList<>();
        if (packet.length == 0 || (packet[0] & 0xff) >>> 4 != version) {
            return new Expected(copy, Outcome.MALFORMED, events);
        }
        int lengthField = version == 4 ? 2 : 4;
        int ipLength = Math.min(packet.length, packet.length < lengthField + 2 ? packet.length
                : ((packet[lengthField] & 0xff) << 8 | (packet[lengthField + 1] & 0xff)) + (version == 6 ? 40 : 0));
        Outcome outcome = MssClamp.clamp(MemorySegment.ofArray(copy), 0, ipLength, max,
                (from, to) -> events.add(new MssEvent(version, from, to)));
        if (addMss && outcome == Outcome.NO_MSS_OPTION) {
            byte[] room = Arrays.copyOf(copy, ipLength + 4);
            if (MssClamp.addMss(MemorySegment.ofArray(room), 0, ipLength, room.length, max) != ipLength) {
                events.add(new MssEvent(version, 0, MssClamp.addedMss(version, max)));
                return new Expected(room, Outcome.MSS_ADDED, events);
            }
        }
        return new Expected(copy, outcome, events);
    }

    static byte[] ethernetFrame(byte[] packet, int version) {
        byte[] type = version == 6 ? new byte[] {(byte) 0x86, (byte) 0xdd} : new byte[] {8, 0};
        return concatenate(MACS, type, packet);
    }

    /** The version a packet claims, 4 for anything but 6 (the EtherType it would travel with). */
    static int versionOf(byte[] packet) {
        return packet.length > 0 && (packet[0] & 0xff) >>> 4 == 6 ? 6 : 4;
    }

    static byte[] concatenate(byte[]... parts) {
        java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
        for (byte[] part : parts) {
            all.writeBytes(part);
        }
        return all.toByteArray();
    }
}
