package net.tcpmssd.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;
import net.tcpmssd.packet.MaxMss;
import net.tcpmssd.packet.MssClamp;
import net.tcpmssd.packet.Outcome;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The clamping core alone, on SYNs as Linux sends them, in native memory as the daemon sees them.
 * Each clamp first restores the original bytes (the copy is measured on its own as a baseline).
 * Run with bench/jmh.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class MssClampBenchmark {

    // A Linux SYN: MSS 1460, SACK permitted, timestamps, NOP, window scale 7 (60 bytes).
    private static final String IPV4_SYN = "4500003c1c4640004006a1bac6336402cb007102"
            + "c35013891234567800000000a002faf0a6f90000020405b40402080a0000000000000000" + "01030307";
    // The same over IPv6 with MSS 1440 (80 bytes).
    private static final String IPV6_SYN = "6000000000280640200100db000100000000000000000002200100db000300000000000000000002"
            + "c35013891234567800000000a002faf0b1e20000020405a00402080a0000000000000000" + "01030307";
    private static final MaxMss MAX = MaxMss.forMtu(1280);

    private MemorySegment v4Template;
    private MemorySegment v4;
    private MemorySegment v6Template;
    private MemorySegment v6;
    private MemorySegment ackTemplate;
    private MemorySegment ack;

    @Setup
    public void setUp() {
        Arena arena = Arena.ofAuto();
        v4Template = arena.allocateFrom(java.lang.foreign.ValueLayout.JAVA_BYTE, HexFormat.of().parseHex(IPV4_SYN));
        v4 = arena.allocate(v4Template.byteSize());
        v6Template = arena.allocateFrom(java.lang.foreign.ValueLayout.JAVA_BYTE, HexFormat.of().parseHex(IPV6_SYN));
        v6 = arena.allocate(v6Template.byteSize());
        byte[] plainAck = HexFormat.of().parseHex(IPV4_SYN);
        plainAck[33] = 0x10; // ACK instead of SYN
        ackTemplate = arena.allocateFrom(java.lang.foreign.ValueLayout.JAVA_BYTE, plainAck);
        ack = arena.allocate(ackTemplate.byteSize());
        if (clampIpv4() != Outcome.CLAMPED || clampIpv6() != Outcome.CLAMPED || passNonSyn() != Outcome.NOT_SYN) {
            throw new IllegalStateException("benchmark packets do not behave as intended");
        }
    }

    @Benchmark
    public MemorySegment copyOnlyBaseline() {
        return v4.copyFrom(v4Template);
    }

    @Benchmark
    public Outcome clampIpv4() {
        v4.copyFrom(v4Template);
        return MssClamp.clamp(v4, 0, (int) v4.byteSize(), MAX, null);
    }

    @Benchmark
    public Outcome clampIpv6() {
        v6.copyFrom(v6Template);
        return MssClamp.clamp(v6, 0, (int) v6.byteSize(), MAX, null);
    }

    @Benchmark
    public Outcome passNonSyn() {
        ack.copyFrom(ackTemplate);
        return MssClamp.clamp(ack, 0, (int) ack.byteSize(), MAX, null);
    }
}
