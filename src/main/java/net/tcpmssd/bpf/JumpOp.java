package net.tcpmssd.bpf;

/**
 * Conditional jumps: the op field of a JMP or JMP32 instruction. Unsigned comparisons unless the
 * name says signed (bpf.h: "LT is unsigned, '<'", "SGT is signed '>'").
 */
public enum JumpOp {
    /** Always (JA); its register and immediate are ignored. */
    ALWAYS(0x00),
    EQ(0x10), GT(0x20), GE(0x30),
    /** Jump if {@code dst & src} is not zero. */
    SET(0x40),
    NE(0x50), SGT(0x60), SGE(0x70), LT(0xa0), LE(0xb0), SLT(0xc0), SLE(0xd0);

    final int code;

    JumpOp(int code) {
        this.code = code;
    }
}
