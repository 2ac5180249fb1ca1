package net.tcpmssd.bpf;

/**
 * The eBPF machine's registers (Documentation/bpf/standardization/instruction-set.rst).
 *
 * <p>R0 carries a helper's or the program's result, R1 to R5 a helper's arguments (and are
 * clobbered by every call), R6 to R9 survive calls, R10 is the read-only frame pointer: the stack
 * is the 512 bytes below it.
 */
public enum Register {
    R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10;

    /** The frame pointer's usual name. */
    public static final Register FP = R10;

    /** The 4-bit number the instruction encoding carries. */
    int number() {
        return ordinal();
    }
}
