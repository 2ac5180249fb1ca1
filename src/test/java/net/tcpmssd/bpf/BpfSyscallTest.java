package net.tcpmssd.bpf;

import static net.tcpmssd.bpf.Register.R0;
import static net.tcpmssd.bpf.Register.R6;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The bpf(2) wrappers against the running kernel: maps, a program load and refusal, a test run. */
class BpfSyscallTest {

    @BeforeAll
    static void kernel() {
        KernelBpf.assumeUsable();
    }

    @Test
    void arrayMapKeepsWhatIsWritten() throws Exception {
        try (BpfMap map = BpfMap.create(MapType.ARRAY, "t_array", 4, 8, 2)) {
            assertThat(map.lookup(1)).containsOnly(0);
            map.update(1, new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
            assertThat(map.lookup(1)).containsExactly(1, 2, 3, 4, 5, 6, 7, 8);
            assertThatThrownBy(() -> map.lookup(2)).hasMessageContaining("bpf MAP_LOOKUP_ELEM");
        }
    }

    @Test
    void perCpuValuesAreOnePerPossibleCpu() throws Exception {
        try (BpfMap map = BpfMap.create(MapType.PERCPU_ARRAY, "t_percpu", 4, 8, 1)) {
            assertThat(map.userValueSize()).isEqualTo(8 * BpfMap.PossibleCpus.COUNT);
            byte[] ones = new byte[map.userValueSize()];
            for (int cpu = 0; cpu < BpfMap.PossibleCpus.COUNT; cpu++) {
                ones[8 * cpu] = 1;
            }
            map.update(0, ones);
            assertThat(map.sumOverCpus(0)).isEqualTo(BpfMap.PossibleCpus.COUNT);
        }
    }

    @Test
    void programLoadsUnderANonGplLicenseAndRunsOnAFrame() throws Exception {
        byte[] code = new Asm().mov(R0, -1).exit().assemble();
        try (BpfProgram program = BpfProgram.load(BpfProgram.SCHED_CLS, code, "BSD", "t_unspec")) {
            byte[] frame = new byte[60];
            frame[12] = 0x08; // IPv4
            TestRun run = program.testRun(frame, 0, 1);
            assertThat(run.returnValue()).isEqualTo(-1);
            assertThat(run.packet()).isEqualTo(frame);
        }
    }

    @Test
    void refusedProgramSaysWhy() {
        // Reads a register that was never written: the verifier's "R6 !read_ok".
        byte[] code = new Asm().mov(R0, R6).exit().assemble();
        assertThatThrownBy(() -> BpfProgram.load(BpfProgram.SCHED_CLS, code, "BSD", "t_refused"))
                .isInstanceOf(VerifierException.class)
                .hasMessageContaining("R6 !read_ok")
                .satisfies(e -> assertThat(((VerifierException) e).log()).contains("0: (bf) r0 = r6"));
    }
}
